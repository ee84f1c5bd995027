// Builds the real composition root once, with a runner that runs nothing, to catch wiring
// mistakes (a missing binding, a token bound twice, a driver module not loaded).

import { describe, expect, it } from 'vitest';
import { DRIVER_NAMES } from '../../../src/model/network.js';
import { unitScopePerTest } from '../../helpers/unit-container.js';

describe('composition root', () => {
  const scope = unitScopePerTest();

  it('resolves the controller, the IPAM and all five drivers', async () => {
    const { s, ran } = await scope.container('weft-wiring-');
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
