// `--ipam-opt weft.l2domain=NAME`: pools scoped to an L2 domain (a macvlan parent or VLAN) clash
// only with pools of the same domain, so the same subnet can serve two LANs, each under its own
// PoolID; pools without the option keep the host-wide check.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Fixture, makeFixture, rejection } from './fixture.js';
import { IpamService } from '../../../src/ipam/ipam-service.js';

let fx: Fixture;
let ipam: IpamService;
beforeEach(async () => {
  fx = await makeFixture();
  ipam = fx.ipam();
});
afterEach(async () => {
  await fx.cleanup();
});

const req = (pool: string, domain?: string) => ({ addressSpace: 'local', pool, v6: false, ...(domain ? { options: { 'weft.l2domain': domain } } : {}) });

describe('L2-domain scoped pools', () => {
  it('takes the same subnet on two domains, with distinct pool ids and addresses of their own', async () => {
    const a = await ipam.requestPool(req('10.61.0.0/24', 'veth1'));
    const b = await ipam.requestPool(req('10.61.0.0/24', 'eth1.30'));
    expect(a.poolId).toBe('local/10.61.0.0/24@veth1');
    expect(b.poolId).toBe('local/10.61.0.0/24@eth1.30');
    expect(b.l2domain).toBe('eth1.30');
    const x = await ipam.requestAddress({ poolId: a.poolId, kind: 'endpoint', address: '10.61.0.5' });
    const y = await ipam.requestAddress({ poolId: b.poolId, kind: 'endpoint', address: '10.61.0.5' });
    expect([x.address, y.address]).toEqual(['10.61.0.5/24', '10.61.0.5/24']);
    await ipam.releasePool(a.poolId);
    expect((await ipam.listPools()).map((p) => p.poolId)).toEqual([b.poolId]);
  });

  it('refuses an overlap inside one domain', async () => {
    await ipam.requestPool(req('10.62.0.0/24', 'veth1'));
    const e = await rejection(ipam.requestPool(req('10.62.0.128/25', 'veth1')));
    expect(e.code).toBe('WEFT_ERR_POOL_OVERLAP');
  });

  it('keeps the host-wide check between unscoped pools, and keeps scoped pools apart from them', async () => {
    await ipam.requestPool(req('10.63.0.0/24'));
    expect((await rejection(ipam.requestPool(req('10.63.0.0/24')))).code).toBe('WEFT_ERR_POOL_OVERLAP');
    expect((await ipam.requestPool(req('10.63.0.0/24', 'veth1'))).poolId).toBe('local/10.63.0.0/24@veth1');
  });

  it('refuses a malformed domain before storing anything', async () => {
    const e = await rejection(ipam.requestPool(req('10.64.0.0/24', 'has space')));
    expect(e.code).toBe('WEFT_ERR_INVALID_OPTION');
    expect(await ipam.listPools()).toEqual([]);
  });
});
