import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Fixture, makeFixture, rejection } from './fixture.js';
import { IpamService } from '../../../src/ipam/ipam-service.js';
import type { Store } from '../../../src/store/store.js';

let fx: Fixture;
let ipam: IpamService;

beforeEach(async () => {
  fx = await makeFixture();
  ipam = fx.ipam();
});
afterEach(async () => {
  await fx.cleanup();
});

async function pool(subnet: string, extra: { subPool?: string; v6?: boolean; network?: string } = {}) {
  const v6 = extra.v6 ?? subnet.includes(':');
  return (await ipam.requestPool({ addressSpace: 'local', pool: subnet, v6, ...extra })).poolId;
}
const any = async (poolId: string, owner?: string) => (await ipam.requestAddress({ poolId, kind: 'endpoint', owner })).address;

describe('gateway and aux', () => {
  it('gateway without an address is the first usable one; with one, that one', async () => {
    const a = await pool('10.1.0.0/24');
    expect(await ipam.requestAddress({ poolId: a, kind: 'gateway' })).toEqual({ address: '10.1.0.1/24' });
    const b = await pool('10.2.0.0/24');
    expect(await ipam.requestAddress({ poolId: b, kind: 'gateway', address: '10.2.0.254' })).toEqual({ address: '10.2.0.254/24' });
    expect(await any(b)).toBe('10.2.0.1/24');
  });

  it('with a sub-pool the gateway defaults to the first address of the range, and may sit outside it', async () => {
    const a = await pool('10.3.0.0/24', { subPool: '10.3.0.128/25' });
    expect(await ipam.requestAddress({ poolId: a, kind: 'gateway' })).toEqual({ address: '10.3.0.128/24' });
    const b = await pool('10.4.0.0/24', { subPool: '10.4.0.128/25' });
    expect(await ipam.requestAddress({ poolId: b, kind: 'gateway', address: '10.4.0.1' })).toEqual({ address: '10.4.0.1/24' });
  });

  it('aux addresses anywhere in the pool are never handed out to others', async () => {
    const a = await pool('10.5.0.0/29', { subPool: '10.5.0.0/30' }); // range: .1 .2 .3
    await ipam.requestAddress({ poolId: a, kind: 'aux', address: '10.5.0.6', owner: 'router' }); // outside the range
    await ipam.requestAddress({ poolId: a, kind: 'aux', address: '10.5.0.2', owner: 'printer' });
    expect([await any(a), await any(a)]).toEqual(['10.5.0.1/29', '10.5.0.3/29']);
    const e = await rejection(ipam.requestAddress({ poolId: a, kind: 'endpoint', address: '10.5.0.6' }));
    expect(e.code).toBe('WEFT_ERR_ADDRESS_IN_USE');
    expect(e.message).toBe('address 10.5.0.6 in pool 10.5.0.0/29 is already in use by aux address "router"');
    expect(await ipam.allocations(a)).toEqual([
      { address: '10.5.0.1', kind: 'endpoint', allocatedAt: expect.any(String) },
      { address: '10.5.0.2', kind: 'aux', owner: 'printer', allocatedAt: expect.any(String) },
      { address: '10.5.0.3', kind: 'endpoint', allocatedAt: expect.any(String) },
      { address: '10.5.0.6', kind: 'aux', owner: 'router', allocatedAt: expect.any(String) },
    ]);
  });
});

describe('specific addresses', () => {
  it('outside the pool is ADDRESS_OUT_OF_POOL, held is ADDRESS_IN_USE naming the holder', async () => {
    const a = await pool('10.6.0.0/24');
    await ipam.requestAddress({ poolId: a, kind: 'gateway', owner: 'net-a' });
    await ipam.requestAddress({ poolId: a, kind: 'endpoint', address: '10.6.0.9', owner: 'ep-9' });
    let e = await rejection(ipam.requestAddress({ poolId: a, kind: 'endpoint', address: '10.7.0.9' }));
    expect(e.code).toBe('WEFT_ERR_ADDRESS_OUT_OF_POOL');
    expect(e.message).toBe('address 10.7.0.9 is not in pool 10.6.0.0/24');
    e = await rejection(ipam.requestAddress({ poolId: a, kind: 'endpoint', address: 'fd00::9' }));
    expect(e.code).toBe('WEFT_ERR_ADDRESS_OUT_OF_POOL');
    e = await rejection(ipam.requestAddress({ poolId: a, kind: 'endpoint', address: '10.6.0.9' }));
    expect(e.message).toBe('address 10.6.0.9 in pool 10.6.0.0/24 is already in use by endpoint "ep-9"');
    expect(e.details).toMatchObject({ heldBy: 'ep-9', kind: 'endpoint' });
    e = await rejection(ipam.requestAddress({ poolId: a, kind: 'gateway', address: '10.6.0.1' }));
    expect(e.message).toBe('address 10.6.0.1 in pool 10.6.0.0/24 is already in use by the gateway ("net-a")');
  });

  it('network, broadcast and the v6 anycast address are never handed out', async () => {
    const a = await pool('10.8.0.0/24');
    for (const [address, what] of [
      ['10.8.0.0', 'the network address'],
      ['10.8.0.255', 'the broadcast address'],
    ]) {
      const e = await rejection(ipam.requestAddress({ poolId: a, kind: 'gateway', address }));
      expect(e.message).toBe(`address ${address} is ${what} of pool 10.8.0.0/24 and is never handed out`);
    }
    const b = await pool('fd00:8::/64');
    const e = await rejection(ipam.requestAddress({ poolId: b, kind: 'endpoint', address: 'fd00:8::' }));
    expect(e.message).toContain('the subnet-router anycast address');
    expect(await any(b)).toBe('fd00:8::1/64');
  });

  it('/31 has no network or broadcast address (RFC 3021)', async () => {
    const a = await pool('10.9.9.0/31');
    expect([await any(a), await any(a)]).toEqual(['10.9.9.0/31', '10.9.9.1/31']);
  });

  it('canonicalizes what it stores and returns', async () => {
    const b = await pool('fd00:9::/64');
    expect(await ipam.requestAddress({ poolId: b, kind: 'endpoint', address: 'FD00:9:0::00AB' })).toEqual({ address: 'fd00:9::ab/64' });
    await ipam.releaseAddress(b, 'fd00:9::ab/64');
    expect(await ipam.allocations(b)).toEqual([]);
  });

  it('unknown pool is POOL_NOT_FOUND', async () => {
    expect((await rejection(any('local/10.0.0.0/24'))).code).toBe('WEFT_ERR_POOL_NOT_FOUND');
    expect((await rejection(ipam.usage('local/10.0.0.0/24'))).code).toBe('WEFT_ERR_POOL_NOT_FOUND');
  });
});

describe('exhaustion', () => {
  it('a /29 holds a gateway and 5 endpoints; the 7th request fails with an exact message', async () => {
    const a = await pool('10.9.0.0/29');
    await ipam.requestAddress({ poolId: a, kind: 'gateway' });
    const got: string[] = [];
    for (let i = 0; i < 5; i++) got.push(await any(a));
    expect(got).toEqual(['10.9.0.2/29', '10.9.0.3/29', '10.9.0.4/29', '10.9.0.5/29', '10.9.0.6/29']);
    const e = await rejection(any(a));
    expect(e.code).toBe('WEFT_ERR_POOL_EXHAUSTED');
    expect(e.message).toBe('pool 10.9.0.0/29 is exhausted: 6 of 6 usable addresses in use');
    expect(await ipam.usage(a)).toEqual({ pool: '10.9.0.0/29', usable: 6, used: 6 });
  });

  it('with a sub-pool the message names the range', async () => {
    const a = await pool('10.9.1.0/24', { subPool: '10.9.1.8/29' });
    await ipam.requestAddress({ poolId: a, kind: 'gateway', address: '10.9.1.1' }); // outside the range
    for (let i = 0; i < 8; i++) await any(a);
    const e = await rejection(any(a));
    expect(e.message).toBe('pool 10.9.1.0/24 (ip-range 10.9.1.8/29) is exhausted: 8 of 8 usable addresses in use');
    expect(await ipam.usage(a)).toEqual({ pool: '10.9.1.0/24', usable: 8, used: 8 });
    // A specific address outside the range is still available.
    expect(await ipam.requestAddress({ poolId: a, kind: 'endpoint', address: '10.9.1.200' })).toEqual({ address: '10.9.1.200/24' });
  });
});

describe('allocation order (Docker-like round robin)', () => {
  it('does not reuse a just-released address while others are free, but does when it is the only one', async () => {
    const a = await pool('10.9.2.0/29');
    await ipam.requestAddress({ poolId: a, kind: 'gateway' });
    expect([await any(a), await any(a)]).toEqual(['10.9.2.2/29', '10.9.2.3/29']);
    await ipam.releaseAddress(a, '10.9.2.2');
    expect([await any(a), await any(a), await any(a)]).toEqual(['10.9.2.4/29', '10.9.2.5/29', '10.9.2.6/29']);
    expect(await any(a)).toBe('10.9.2.2/29'); // wrapped around
    await ipam.releaseAddress(a, '10.9.2.4');
    expect(await any(a)).toBe('10.9.2.4/29'); // the only free one
  });

  it('sub-pool addresses stay inside the range', async () => {
    const a = await pool('10.9.3.0/24', { subPool: '10.9.3.64/30' });
    const got = [await any(a), await any(a), await any(a), await any(a)];
    expect(got).toEqual(['10.9.3.64/24', '10.9.3.65/24', '10.9.3.66/24', '10.9.3.67/24']);
  });

  it('releasing free, unknown or CIDR-form addresses succeeds', async () => {
    const a = await pool('10.9.4.0/24');
    await ipam.releaseAddress(a, '10.9.4.77');
    const addr = await any(a);
    await ipam.releaseAddress(a, addr); // CIDR form, as Docker's records hold them
    await ipam.releaseAddress(a, addr);
    expect(await ipam.usage(a)).toEqual({ pool: '10.9.4.0/24', usable: 254, used: 0 });
  });
});

describe('large pools terminate quickly, with flat cost per allocation', () => {
  it('a /8 and a v6 /64', async () => {
    const t0 = performance.now();
    const a = await pool('10.0.0.0/8');
    await ipam.requestAddress({ poolId: a, kind: 'gateway' });
    await ipam.requestAddress({ poolId: a, kind: 'endpoint', address: '10.255.255.254' });
    expect(await any(a)).toBe('10.0.0.2/8');
    expect(await ipam.usage(a)).toEqual({ pool: '10.0.0.0/8', usable: 16777214, used: 3 });

    const b = await pool('fd00:ab::/64');
    expect(await any(b)).toBe('fd00:ab::1/64'); // the anycast address is skipped
    await ipam.requestAddress({ poolId: b, kind: 'endpoint', address: 'fd00:ab::ffff:ffff:ffff:fffe' });
    expect(await any(b)).toBe('fd00:ab::2/64'); // a specific address does not move the cursor
    expect(await ipam.usage(b)).toEqual({ pool: 'fd00:ab::/64', usable: 2 ** 64, used: 3 });

    // The top end of a /64, through a sub-pool: round robin wraps, then the range is exhausted.
    const c = await pool('fd00:ac::/64', { subPool: 'fd00:ac::ffff:ffff:ffff:fffc/126' });
    const got = [await any(c), await any(c), await any(c)];
    await ipam.releaseAddress(c, 'fd00:ac::ffff:ffff:ffff:fffc');
    got.push(await any(c), await any(c));
    expect(got).toEqual([
      'fd00:ac::ffff:ffff:ffff:fffc/64',
      'fd00:ac::ffff:ffff:ffff:fffd/64',
      'fd00:ac::ffff:ffff:ffff:fffe/64',
      'fd00:ac::ffff:ffff:ffff:ffff/64',
      'fd00:ac::ffff:ffff:ffff:fffc/64',
    ]);
    expect((await rejection(any(c))).message).toBe(
      'pool fd00:ac::/64 (ip-range fd00:ac::ffff:ffff:ffff:fffc/126) is exhausted: 4 of 4 usable addresses in use',
    );
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('1,200 endpoints on one /16: every allocation reads a few keys, lists none, writes once', async () => {
    const counts = { get: 0, list: 0, txn: 0, put: 0 };
    const counted: Store = new Proxy(fx.store, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (prop in counts) counts[prop as keyof typeof counts]++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const svc = new IpamService(counted, async () => []);
    const p = (await svc.requestPool({ addressSpace: 'local', pool: '10.100.0.0/16', v6: false })).poolId;
    await svc.requestAddress({ poolId: p, kind: 'gateway' });
    const seen = new Set<string>();
    let worst = { get: 0, list: 0, txn: 0, put: 0 };
    for (let i = 0; i < 1200; i++) {
      const before = { ...counts };
      seen.add((await svc.requestAddress({ poolId: p, kind: 'endpoint', owner: `ep${i}` })).address);
      const d = { get: counts.get - before.get, list: counts.list - before.list, txn: counts.txn - before.txn, put: counts.put - before.put };
      if (d.get > worst.get) worst = d;
      expect(d.list).toBe(0);
      expect(d.txn).toBe(1);
    }
    expect(seen.size).toBe(1200);
    expect(worst.get).toBeLessThanOrEqual(4); // pool, full list, cursor, block
    // Free one early address and one late: the next allocations still cost the same.
    await svc.releaseAddress(p, '10.100.0.10');
    const before = counts.get;
    expect((await svc.requestAddress({ poolId: p, kind: 'endpoint' })).address).toBe('10.100.4.178/16');
    expect(counts.get - before).toBeLessThanOrEqual(4);
    expect((await svc.usage(p)).used).toBe(1201);
  });
});

describe('allocation time', () => {
  it('each address records when it was allocated; a record written without the time stays readable', async () => {
    let now = Date.parse('2026-01-02T03:04:05.000Z');
    const timed = new IpamService(fx.store, async () => [], { now: () => now });
    const p = (await timed.requestPool({ addressSpace: 'local', pool: '10.7.0.0/29', v6: false })).poolId;
    await timed.requestAddress({ poolId: p, kind: 'endpoint', address: '10.7.0.2', owner: 'a' });
    now += 5_000;
    await timed.requestAddress({ poolId: p, kind: 'gateway', address: '10.7.0.1' });
    expect(await timed.allocations(p)).toEqual([
      { address: '10.7.0.1', kind: 'gateway', allocatedAt: '2026-01-02T03:04:10.000Z' },
      { address: '10.7.0.2', kind: 'endpoint', owner: 'a', allocatedAt: '2026-01-02T03:04:05.000Z' },
    ]);
    // A block as an older weft wrote it: no time. Still listed, still taken, still releasable.
    const blockKey = `ipam/blocks/${p}/10.7.0.0`;
    const block = (await fx.store.get(blockKey))!.value as { held: Record<string, { kind: string; owner?: string; at?: string }> };
    block.held['10.7.0.3'] = { kind: 'endpoint', owner: 'old' };
    await fx.store.put(blockKey, block);
    expect((await timed.allocations(p)).find((a) => a.address === '10.7.0.3')).toEqual({ address: '10.7.0.3', kind: 'endpoint', owner: 'old' });
    expect((await rejection(timed.requestAddress({ poolId: p, kind: 'endpoint', address: '10.7.0.3' }))).code).toBe('WEFT_ERR_ADDRESS_IN_USE');
    await timed.releaseAddress(p, '10.7.0.3');
    expect((await timed.allocations(p)).map((a) => a.address)).toEqual(['10.7.0.1', '10.7.0.2']);
  });
});
