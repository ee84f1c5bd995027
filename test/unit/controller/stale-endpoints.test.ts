// Docker after an unclean stop does not tell a plugin it has not loaded yet about the endpoints it
// dropped (protocol §6): weft notices that the sandbox is gone and deletes the endpoint itself.

import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Reconciler } from '../../../src/controller/reconciler.js';
import { Records } from '../../../src/controller/records.js';
import { unitScopePerTest } from '../../helpers/unit-container.js';

describe('stale Docker endpoints', () => {
  const scope = unitScopePerTest();

  it('deletes endpoints whose sandbox is gone or unmounted, and keeps the one whose sandbox is a namespace', async () => {
    const { s, store, dir, logger } = await scope.container('weft-stale-');
    const netId = 'b'.repeat(64);
    await s.controller.createNetwork({ id: netId, driver: 'none', origin: 'docker', options: {}, internal: false, enableIPv6: false, ipv4: [], ipv6: [] });
    // A live sandbox is a namespace file (nsfs); Docker unmounts a dead one at once and deletes
    // the file up to a minute later, so a plain file counts as gone, like a missing one.
    const live = '/proc/self/ns/net';
    const unmounted = path.join(dir, 'sandbox-unmounted');
    const gone = path.join(dir, 'sandbox-gone');
    await writeFile(unmounted, '');
    await writeFile(gone, '');
    for (const [ep, key] of [['1', live], ['2', unmounted], ['3', gone]] as const) {
      await s.controller.createEndpoint({ networkId: netId, endpointId: ep.repeat(64), origin: 'docker' });
      await s.controller.join(netId, ep.repeat(64), { path: key });
    }
    await rm(gone);
    const links = { listLinks: async () => [], deleteLink: async () => {} };
    const del = (n: string, e: string) => s.controller.deleteEndpoint(n, e);
    // Docker joins before its prestart hook mounts the namespace: young joins are left alone.
    expect(await new Reconciler(new Records(store), s.drivers, links, logger, del).collectStaleDockerEndpoints()).toBe(0);
    const reconciler = new Reconciler(new Records(store), s.drivers, links, logger, del, undefined, 0);
    expect(await reconciler.collectStaleDockerEndpoints()).toBe(2);
    expect(await reconciler.collectStaleDockerEndpoints()).toBe(0);
    expect((await s.controller.listEndpoints(netId)).map((e) => e.id)).toEqual(['1'.repeat(64)]);
  });

  it('keeps an endpoint whose sandbox appears after one pass without it (a container starting)', async () => {
    const { s, store, dir, logger } = await scope.container('weft-stale-');
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
