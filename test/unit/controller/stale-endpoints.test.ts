// Docker after an unclean stop does not tell a plugin it has not loaded yet about the endpoints it
// dropped (protocol §6): weft notices that the sandbox is gone and deletes the endpoint itself.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Reconciler } from '../../../src/controller/reconciler.js';
import { Records } from '../../../src/controller/records.js';
import { DEFAULT_CONFIG } from '../../../src/daemon/config.js';
import { buildContainer } from '../../../src/daemon/container.js';
import { openLocalStore, type LocalStore } from '../../../src/store/local-store.js';
import type { CommandRunner } from '../../../src/sys/exec.js';

describe('stale Docker endpoints', () => {
  let dir: string;
  let store: LocalStore;
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('deletes an endpoint whose sandbox is gone, and keeps the one whose sandbox exists', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'weft-stale-'));
    store = await openLocalStore({ path: path.join(dir, 'store') });
    const runner: CommandRunner = { run: async () => ({ stdout: '[]', stderr: '', code: 0 }) };
    const logger = pino({ level: 'silent' });
    const s = await buildContainer({ ...DEFAULT_CONFIG, stateDir: dir }, { local: store, cluster: store }, logger, [], 'h1', { runner });
    const netId = 'b'.repeat(64);
    await s.controller.createNetwork({ id: netId, driver: 'none', origin: 'docker', options: {}, internal: false, enableIPv6: false, ipv4: [], ipv6: [] });
    const live = path.join(dir, 'sandbox-live');
    const gone = path.join(dir, 'sandbox-gone');
    await writeFile(live, '');
    await writeFile(gone, '');
    for (const [ep, key] of [['1', live], ['2', gone]] as const) {
      await s.controller.createEndpoint({ networkId: netId, endpointId: ep.repeat(64), origin: 'docker' });
      await s.controller.join(netId, ep.repeat(64), { path: key });
    }
    const reconciler = new Reconciler(new Records(store), s.drivers, { listLinks: async () => [], deleteLink: async () => {} }, logger, (n, e) => s.controller.deleteEndpoint(n, e));
    expect(await reconciler.collectStaleDockerEndpoints()).toBe(0);
    await rm(gone);
    // Missing once is not enough (Docker joins before the sandbox's namespace is bound to its key).
    expect(await reconciler.collectStaleDockerEndpoints()).toBe(0);
    expect((await s.controller.listEndpoints(netId)).map((e) => e.id).sort()).toEqual(['1'.repeat(64), '2'.repeat(64)]);
    expect(await reconciler.collectStaleDockerEndpoints()).toBe(1);
    expect((await s.controller.listEndpoints(netId)).map((e) => e.id)).toEqual(['1'.repeat(64)]);
  });

  it('keeps an endpoint whose sandbox appears after one pass without it (a container starting)', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'weft-stale-'));
    store = await openLocalStore({ path: path.join(dir, 'store') });
    const runner: CommandRunner = { run: async () => ({ stdout: '[]', stderr: '', code: 0 }) };
    const logger = pino({ level: 'silent' });
    const s = await buildContainer({ ...DEFAULT_CONFIG, stateDir: dir }, { local: store, cluster: store }, logger, [], 'h1', { runner });
    const netId = 'c'.repeat(64);
    await s.controller.createNetwork({ id: netId, driver: 'none', origin: 'docker', options: {}, internal: false, enableIPv6: false, ipv4: [], ipv6: [] });
    const key = path.join(dir, 'sandbox-late');
    await s.controller.createEndpoint({ networkId: netId, endpointId: '3'.repeat(64), origin: 'docker' });
    await s.controller.join(netId, '3'.repeat(64), { path: key });
    const reconciler = new Reconciler(new Records(store), s.drivers, { listLinks: async () => [], deleteLink: async () => {} }, logger, (n, e) => s.controller.deleteEndpoint(n, e));
    expect(await reconciler.collectStaleDockerEndpoints()).toBe(0);
    await writeFile(key, '');
    expect(await reconciler.collectStaleDockerEndpoints()).toBe(0);
    await rm(key);
    expect(await reconciler.collectStaleDockerEndpoints()).toBe(0);
    expect((await s.controller.listEndpoints(netId)).map((e) => e.id)).toEqual(['3'.repeat(64)]);
  });
});
