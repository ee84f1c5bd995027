// Docker's pools (deferL2Domain): requested before the network's driver is known, bound to the
// driver's L2 domain at CreateNetwork (bindPool), where the overlap check then happens. Pending
// pools that no network binds within the grace period are dropped.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Fixture, dump, makeFixture, rejection } from './fixture.js';
import { IpamService } from '../../../src/ipam/ipam-service.js';

let fx: Fixture;
let ipam: IpamService;
let clock: number;
beforeEach(async () => {
  fx = await makeFixture();
  clock = Date.parse('2026-01-01T00:00:00Z');
  ipam = fx.ipam({ now: () => clock });
});
afterEach(async () => {
  await fx.cleanup();
});

const docker = (pool: string, extra: Record<string, unknown> = {}) => ({ addressSpace: 'local', pool, v6: false, deferL2Domain: true, ...extra });

describe('binding Docker pools to an L2 domain', () => {
  it('lets the same subnet onto a second parent, each pool with its own id and addresses', async () => {
    const a = await ipam.requestPool(docker('10.71.0.0/24'));
    expect(a).toMatchObject({ poolId: 'local/10.71.0.0/24', binding: 'open' });
    expect(await ipam.bindPool(a.poolId, { network: 'mv1', l2domain: 'par1' })).toMatchObject({ l2domain: 'par1', network: 'mv1' });
    expect((await ipam.getPool(a.poolId))?.binding).toBeUndefined();

    const b = await ipam.requestPool(docker('10.71.0.0/24'));
    expect(b).toMatchObject({ poolId: 'local/10.71.0.0/24#2', binding: 'pending' });
    await ipam.bindPool(b.poolId, { network: 'mv2', l2domain: 'par2' });

    const x = await ipam.requestAddress({ poolId: a.poolId, kind: 'endpoint', address: '10.71.0.9' });
    const y = await ipam.requestAddress({ poolId: b.poolId, kind: 'endpoint', address: '10.71.0.9' });
    expect([x.address, y.address]).toEqual(['10.71.0.9/24', '10.71.0.9/24']);
    await ipam.releasePool(a.poolId);
    expect((await ipam.allocations(b.poolId)).map((h) => h.address)).toEqual(['10.71.0.9']);
  });

  it('refuses an overlap in the same domain at binding, naming the other network, and changes nothing', async () => {
    const a = await ipam.requestPool(docker('10.72.0.0/24'));
    await ipam.bindPool(a.poolId, { network: 'mv1', l2domain: 'par1' });
    const b = await ipam.requestPool(docker('10.72.0.128/25'));
    expect(b.binding).toBe('pending');
    const before = await dump(fx.store);
    const e = await rejection(ipam.bindPool(b.poolId, { network: 'mv3', l2domain: 'par1' }));
    expect(e.code).toBe('WEFT_ERR_POOL_OVERLAP');
    expect(e.message).toBe('subnet 10.72.0.128/25 overlaps network "mv1" (10.72.0.0/24) on the same L2 domain (par1); use another subnet, or another parent or VLAN');
    expect(await dump(fx.store)).toEqual(before);
    // Docker then releases the pool: nothing is left of it.
    await ipam.releasePool(b.poolId);
    expect((await ipam.listPools()).map((p) => p.poolId)).toEqual([a.poolId]);
  });

  it('keeps the host-wide check: an overlap with a host-domain or unbound pool is refused at request time', async () => {
    const bridge = await ipam.requestPool(docker('10.73.0.0/24'));
    await ipam.bindPool(bridge.poolId, { network: 'br1' });
    expect((await rejection(ipam.requestPool(docker('10.73.0.0/25')))).message).toBe('subnet 10.73.0.0/25 overlaps network "br1" (10.73.0.0/24)');
    // An open pool (a Docker network of a driver weft never sees) counts as the host's.
    await ipam.requestPool(docker('10.74.0.0/24'));
    expect((await rejection(ipam.requestPool(docker('10.74.0.0/24')))).code).toBe('WEFT_ERR_POOL_OVERLAP');
    expect((await rejection(ipam.requestPool({ addressSpace: 'local', pool: '10.74.0.0/24', v6: false, network: 'cli' }))).code).toBe('WEFT_ERR_POOL_OVERLAP');
    // ...but not in a macvlan domain: a CLI macvlan network may take it on its parent.
    const mv = await ipam.requestPool({ addressSpace: 'local', pool: '10.74.0.0/24', v6: false, options: { 'weft.l2domain': 'par1' } });
    expect(mv.poolId).toBe('local/10.74.0.0/24@par1');
  });

  it('a pending pool counts as the host\'s until bound; bound to the host, it is checked there', async () => {
    const mv = await ipam.requestPool(docker('10.75.0.0/24'));
    await ipam.bindPool(mv.poolId, { network: 'mv1', l2domain: 'par1' });
    const p = await ipam.requestPool(docker('10.75.0.0/24')); // pending: overlaps par1 only
    const cli = { addressSpace: 'local', pool: '10.75.0.0/24', v6: false, network: 'br-cli' };
    expect((await rejection(ipam.requestPool(cli))).message).toBe('subnet 10.75.0.0/24 overlaps pool 10.75.0.0/24');
    // A weft-bridge network through Docker takes it: the host domain has nothing else there.
    expect(await ipam.bindPool(p.poolId, { network: 'br2' })).toMatchObject({ poolId: 'local/10.75.0.0/24#2', network: 'br2' });
    expect((await rejection(ipam.requestPool(cli))).message).toBe('subnet 10.75.0.0/24 overlaps network "br2" (10.75.0.0/24)');
    // Now the host holds it: Docker's next request is refused at once, whatever its driver.
    expect((await rejection(ipam.requestPool(docker('10.75.0.0/24')))).message).toBe('subnet 10.75.0.0/24 overlaps network "br2" (10.75.0.0/24)');
  });

  it('an already bound pool (weft.l2domain given, or a CLI pool) only gets the name', async () => {
    const a = await ipam.requestPool(docker('10.76.0.0/24', { options: { 'weft.l2domain': 'par9' } }));
    expect(a).toMatchObject({ poolId: 'local/10.76.0.0/24@par9', l2domain: 'par9' });
    expect(a.binding).toBeUndefined();
    expect(await ipam.bindPool(a.poolId, { network: 'mv9', l2domain: 'par1' })).toMatchObject({ l2domain: 'par9', network: 'mv9' });
  });

  it('default pools of Docker are open, avoid every pool, and bind anywhere', async () => {
    const mv = await ipam.requestPool(docker('172.17.0.0/16'));
    await ipam.bindPool(mv.poolId, { network: 'mv1', l2domain: 'par1' });
    const auto = await ipam.requestPool({ addressSpace: 'local', v6: false, deferL2Domain: true });
    expect(auto).toMatchObject({ pool: '172.18.0.0/16', binding: 'open' });
    await ipam.bindPool(auto.poolId, { network: 'mv2', l2domain: 'par2' });
  });

  it('refuses bad bindings before touching anything', async () => {
    const a = await ipam.requestPool(docker('10.77.0.0/24'));
    const before = await dump(fx.store);
    const codes = [];
    for (const p of [
      ipam.bindPool(a.poolId, { network: '' }),
      ipam.bindPool(a.poolId, { network: 'n', l2domain: 'has space' }),
      ipam.bindPool('local/10.99.0.0/24', { network: 'n' }),
      ipam.requestPool({ ...docker('10.78.0.0/24'), deferL2Domain: 'yes' as unknown as boolean }),
    ]) codes.push((await rejection(p)).code);
    expect(codes).toEqual(['WEFT_ERR_BAD_REQUEST', 'WEFT_ERR_INVALID_OPTION', 'WEFT_ERR_POOL_NOT_FOUND', 'WEFT_ERR_BAD_REQUEST']);
    expect(await dump(fx.store)).toEqual(before);
  });
});

describe('pending pools nobody binds', () => {
  it('are dropped after the grace period, with their addresses; open and bound pools stay', async () => {
    const mv = await ipam.requestPool(docker('10.79.0.0/24'));
    await ipam.bindPool(mv.poolId, { network: 'mv1', l2domain: 'par1' });
    const open = await ipam.requestPool(docker('10.80.0.0/24'));
    const stale = await ipam.requestPool(docker('10.79.0.0/24'));
    expect(stale.binding).toBe('pending');
    await ipam.requestAddress({ poolId: stale.poolId, kind: 'gateway' });

    clock += 59_000;
    expect(await ipam.dropUnclaimedPools()).toEqual([]);
    clock += 2_000;
    const fresh = await ipam.requestPool(docker('10.79.0.0/24')); // drops the stale one first
    expect(fresh.poolId).toBe(stale.poolId); // its id is free again
    expect(await ipam.allocations(fresh.poolId)).toEqual([]); // nothing of the old pool is left
    expect((await ipam.listPools()).map((p) => p.poolId).sort()).toEqual([mv.poolId, fresh.poolId, open.poolId].sort());

    clock += 61_000;
    expect(await ipam.dropUnclaimedPools()).toEqual([fresh.poolId]);
    expect(await ipam.getPool(fresh.poolId)).toBeUndefined();
    expect(await ipam.getPool(open.poolId)).toBeDefined();
  });

  it('a pool bound just in time is kept', async () => {
    const mv = await ipam.requestPool(docker('10.81.0.0/24'));
    await ipam.bindPool(mv.poolId, { network: 'mv1', l2domain: 'par1' });
    const p = await ipam.requestPool(docker('10.81.0.0/24'));
    clock += 59_000;
    await ipam.bindPool(p.poolId, { network: 'mv2', l2domain: 'par2' });
    clock += 600_000;
    expect(await ipam.dropUnclaimedPools()).toEqual([]);
    expect((await ipam.getPool(p.poolId))?.l2domain).toBe('par2');
  });
});
