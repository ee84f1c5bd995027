// Docker hands an endpoint an address that another Docker endpoint still holds in weft's records.
// Docker's IPAM only hands out free addresses, so a holder with no live sandbox is one Docker
// forgot (weftd crashed in its CreateEndpoint, or its DeleteEndpoint never arrived) and is dropped;
// a holder joined to a live namespace is a running container, and the request is refused instead.

import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../src/model/errors.js';
import { unitScopePerTest } from '../../helpers/unit-container.js';

describe('a Docker endpoint reusing an address weft still records', () => {
  const scope = unitScopePerTest();

  it('drops a holder without a live sandbox and refuses while the holder is joined to a live one', async () => {
    const { s } = await scope.container('weft-reuse-');
    const netId = 'c'.repeat(64);
    await s.controller.createNetwork({ id: netId, driver: 'none', origin: 'docker', options: {}, internal: false, enableIPv6: false, ipv4: [], ipv6: [] });
    const ep = (c: string) => c.repeat(64);
    await s.controller.createEndpoint({ networkId: netId, endpointId: ep('1'), origin: 'docker', addressV4: '10.77.0.5/24' });
    await s.controller.join(netId, ep('1'), { path: '/proc/self/ns/net' });
    await s.controller.createEndpoint({ networkId: netId, endpointId: ep('2'), origin: 'docker', addressV4: '10.77.0.6/24' });

    await expect(s.controller.createEndpoint({ networkId: netId, endpointId: ep('3'), origin: 'docker', addressV4: '10.77.0.5/24' })).rejects.toMatchObject({ code: ErrorCodes.ADDRESS_IN_USE });
    await s.controller.createEndpoint({ networkId: netId, endpointId: ep('4'), origin: 'docker', addressV4: '10.77.0.6/24' });

    expect((await s.controller.listEndpoints(netId)).map((e) => e.id).sort()).toEqual([ep('1'), ep('4')]);
  });
});
