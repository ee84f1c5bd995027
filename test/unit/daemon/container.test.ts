// Builds the real composition root once, with a runner that runs nothing, to catch wiring
// mistakes (a missing binding, a token bound twice, a driver module not loaded).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../../src/daemon/config.js';
import { buildContainer } from '../../../src/daemon/container.js';
import { DRIVER_NAMES } from '../../../src/model/network.js';
import { openLocalStore, type LocalStore } from '../../../src/store/local-store.js';
import type { CommandRunner } from '../../../src/sys/exec.js';

describe('composition root', () => {
  let dir: string;
  let store: LocalStore | undefined;
  afterEach(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves the controller, the IPAM and all five drivers', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'weft-wiring-'));
    store = await openLocalStore({ path: path.join(dir, 'store') });
    const ran: string[][] = [];
    const runner: CommandRunner = { run: async (argv) => (ran.push(argv), { stdout: '[]', stderr: '', code: 0 }) };
    const s = await buildContainer({ ...DEFAULT_CONFIG, stateDir: dir }, { local: store, cluster: store }, pino({ level: 'silent' }), [], 'h1', { runner });
    expect(s.drivers.all().map((d) => d.name).sort()).toEqual([...DRIVER_NAMES].sort());
    expect(s.controller.capabilities('overlay')).toEqual({ scope: 'local', connectivityScope: 'global' });
    expect(s.controller.capabilities('none')).toEqual({ scope: 'local', connectivityScope: 'local' });
    expect(s.ipam.defaultAddressSpaces()).toEqual({ local: 'local', global: 'global' });
    // The composition root is wired once: the controller is a singleton.
    expect(s.container.get(Symbol.for('weft.Controller'))).toBe(s.controller);
    // A none network goes through the controller, the store and the IPAM without any command.
    const net = await s.controller.createNetwork({ name: 'n', driver: 'none', origin: 'weft', options: {}, internal: false, enableIPv6: false, ipv4: [], ipv6: [] });
    expect((await s.controller.getNetwork('n')).id).toBe(net.id);
    expect(ran).toEqual([]);
    // The macvlan driver's stacked links are the composition root's one LinkOps, not its own.
    expect(s.container.get(Symbol.for('weft.StackedLinkOps'))).toBe(s.container.get(Symbol.for('weft.LinkOps')));
    // Docker's IPAM calls leave the L2 domain to CreateNetwork; the controller's bind at once.
    expect((await s.dockerIpam.requestPool({ addressSpace: 'local', pool: '10.5.0.0/24', v6: false })).binding).toBe('open');
    expect((await s.ipam.requestPool({ addressSpace: 'local', pool: '10.6.0.0/24', v6: false })).binding).toBeUndefined();
  });
});
