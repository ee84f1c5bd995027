// The global address space with block affinity (Calico's scheme, docs/ipam.md "Global space"):
// several IpamService instances with different host ids on ONE real embedded store stand in for
// several hosts on etcd (test/e2e/cluster-etcd.test.ts runs the same on a real etcd).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../src/model/errors.js';
import { IpamService } from '../../../src/ipam/ipam-service.js';
import type { Store } from '../../../src/store/store.js';
import { type Fixture, makeFixture, rejection } from './fixture.js';

let fx: Fixture;

beforeEach(async () => {
  fx = await makeFixture();
});

afterEach(async () => {
  await fx.cleanup();
});

const HOSTS = ['h1', 'h2', 'h3', 'h4', 'h5'];

/** Start address of the /26 block holding an IPv4 address (the pools here are /26-aligned). */
function blockOf(address: string): string {
  const ip = address.split('/')[0]!;
  const parts = ip.split('.').map(Number);
  parts[3] = parts[3]! & ~63;
  return parts.join('.');
}

/**
 * The store as a host on the network sees it: every call goes through the event loop first. The
 * embedded store answers synchronously, so in-process "hosts" on it would run in one microtask
 * chain and the first one to back off (setTimeout) would sit out until the others finished,
 * which no real cluster does. The store behind it is the real one.
 */
function overTheNetwork(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        await new Promise((resolve) => setImmediate(resolve));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function keysUnder(prefix: string): Promise<string[]> {
  return (await fx.store.list(prefix)).map((kv) => kv.key);
}

/** Each host asks for `perHost` endpoint addresses, all hosts and requests at once. */
async function allocateConcurrently(services: IpamService[], poolId: string, perHost: number): Promise<{ host: string; address: string }[]> {
  const jobs = services.flatMap((svc) =>
    Array.from({ length: perHost }, (_, i) =>
      svc.requestAddress({ poolId, kind: 'endpoint', owner: `${svc.hostId}-ep${i}` }).then((a) => ({ host: svc.hostId, address: a.address })),
    ),
  );
  return Promise.all(jobs);
}

describe('global space: block affinity', () => {
  it('a host claims a block and allocates inside it; another host claims another block', async () => {
    const [h1, h2] = [fx.ipam({ hostId: 'h1' }), fx.ipam({ hostId: 'h2' })];
    const poolId = (await h1.requestPool({ addressSpace: 'global', pool: '10.60.0.0/24', v6: false })).poolId;
    const a1 = (await h1.requestAddress({ poolId, kind: 'endpoint', owner: 'a' })).address;
    const a2 = (await h1.requestAddress({ poolId, kind: 'endpoint', owner: 'b' })).address;
    const b1 = (await h2.requestAddress({ poolId, kind: 'endpoint', owner: 'c' })).address;
    const aff = await h1.blockAffinities(poolId);
    expect(aff[blockOf(a1)]).toBe('h1');
    expect(blockOf(a2)).toBe(blockOf(a1));
    expect(aff[blockOf(b1)] ?? (await h2.blockAffinities(poolId))[blockOf(b1)]).toBe('h2');
    expect(blockOf(b1)).not.toBe(blockOf(a1));
    // Every endpoint address records the host that allocated it.
    const all = await h1.allocations(poolId);
    expect(all.find((x) => `${x.address}/24` === a1)).toMatchObject({ kind: 'endpoint', owner: 'a', host: 'h1' });
    expect(all.find((x) => `${x.address}/24` === b1)).toMatchObject({ kind: 'endpoint', owner: 'c', host: 'h2' });
  });

  it('when its blocks are full a host claims a free block; round robin stays inside its own blocks', async () => {
    const h1 = fx.ipam({ hostId: 'h1' });
    const poolId = (await h1.requestPool({ addressSpace: 'global', pool: '10.61.0.0/24', v6: false })).poolId;
    const got: string[] = [];
    for (let i = 0; i < 70; i++) got.push((await h1.requestAddress({ poolId, kind: 'endpoint' })).address);
    expect(new Set(got).size).toBe(70);
    const blocks = new Set(got.map(blockOf));
    expect(blocks.size).toBe(2);
    const aff = await h1.blockAffinities(poolId);
    for (const b of blocks) expect(aff[b]).toBe('h1');
    expect(Object.keys(aff)).toHaveLength(2);
  });

  it('a gateway belongs to the network: first free address, no host recorded, no block claimed', async () => {
    const h1 = fx.ipam({ hostId: 'h1' });
    const poolId = (await h1.requestPool({ addressSpace: 'global', pool: '10.62.0.0/24', v6: false })).poolId;
    expect((await h1.requestAddress({ poolId, kind: 'gateway' })).address).toBe('10.62.0.1/24');
    expect(await h1.allocations(poolId)).toEqual([{ address: '10.62.0.1', kind: 'gateway', allocatedAt: expect.any(String) }]);
    expect(await h1.blockAffinities(poolId)).toEqual({});
  });

  it('the local space is unchanged: no affinity, no host in the records', async () => {
    const h1 = fx.ipam({ hostId: 'h1' });
    const poolId = (await h1.requestPool({ addressSpace: 'local', pool: '10.63.0.0/24', v6: false })).poolId;
    await h1.requestAddress({ poolId, kind: 'endpoint', owner: 'x' });
    expect(await h1.allocations(poolId)).toEqual([{ address: '10.63.0.1', kind: 'endpoint', owner: 'x', allocatedAt: expect.any(String) }]);
    expect(await keysUnder('ipam/affinity/')).toEqual([]);
    expect(await keysUnder('ipam/host-cursors/')).toEqual([]);
  });

  it('refuses a bad host id at construction', () => {
    for (const bad of ['', 'a/b', '-x', 'x'.repeat(64), 'h 1']) {
      expect(() => fx.ipam({ hostId: bad })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }));
    }
  });

  it('releasePool drops affinities and per-host cursors; a new pool with the same id starts afresh', async () => {
    const [h1, other] = [fx.ipam({ hostId: 'h1' }), fx.ipam({ hostId: 'h2' })];
    const poolId = (await h1.requestPool({ addressSpace: 'global', pool: '10.64.0.0/24', v6: false })).poolId;
    const first = (await h1.requestAddress({ poolId, kind: 'endpoint' })).address;
    // Released by another instance, so h1's cache of affinities is stale.
    await other.releasePool(poolId);
    expect(await keysUnder('ipam/affinity/')).toEqual([]);
    expect(await keysUnder('ipam/host-cursors/')).toEqual([]);
    await other.requestPool({ addressSpace: 'global', pool: '10.64.0.0/24', v6: false });
    const again = (await h1.requestAddress({ poolId, kind: 'endpoint' })).address;
    expect(again).toBe(first);
    expect((await h1.blockAffinities(poolId))[blockOf(again)]).toBe('h1');
  });
});

describe('global space: cost and large pools', () => {
  it('an allocation reads a few keys and writes once; the affinity list is read about once per claimed block', async () => {
    const counts = { get: 0, list: 0, txn: 0 };
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
    const svc = new IpamService(counted, async () => [], { hostId: 'h1' });
    const poolId = (await svc.requestPool({ addressSpace: 'global', pool: '10.67.0.0/16', v6: false })).poolId;
    const before = { ...counts };
    let worstGets = 0;
    for (let i = 0; i < 300; i++) {
      const g = counts.get;
      const t = counts.txn;
      await svc.requestAddress({ poolId, kind: 'endpoint' });
      worstGets = Math.max(worstGets, counts.get - g);
      expect(counts.txn - t).toBe(1);
    }
    expect(worstGets).toBeLessThanOrEqual(4); // pool, full list, cursor, block
    // 300 addresses = 5 blocks claimed: one list at the start, at most one more per claim.
    expect(counts.list - before.list).toBeLessThanOrEqual(6);
    expect(Object.keys(await svc.blockAffinities(poolId))).toHaveLength(5);
  });

  it('a v6 /64 global pool: hosts claim distinct blocks at once, without walking the pool', async () => {
    const [h1, h2] = [fx.ipam({ hostId: 'h1' }), fx.ipam({ hostId: 'h2' })];
    const poolId = (await h1.requestPool({ addressSpace: 'global', pool: 'fd00:77::/64', v6: true })).poolId;
    const t0 = performance.now();
    const got = await Promise.all([
      ...Array.from({ length: 70 }, () => h1.requestAddress({ poolId, kind: 'endpoint' })),
      ...Array.from({ length: 70 }, () => h2.requestAddress({ poolId, kind: 'endpoint' })),
    ]);
    expect(new Set(got.map((g) => g.address)).size).toBe(140);
    const hosts = Object.values(await h1.blockAffinities(poolId)).sort();
    expect(hosts).toEqual(['h1', 'h1', 'h2', 'h2']);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});

describe('global space: fencing (docs/ipam.md)', () => {
  it('a gone host loses its affinities but keeps its addresses; a removed host frees its endpoint addresses only', async () => {
    const [h1, h2] = [fx.ipam({ hostId: 'h1' }), fx.ipam({ hostId: 'h2' })];
    const poolId = (await h1.requestPool({ addressSpace: 'global', pool: '10.65.0.0/25', v6: false })).poolId;
    const gw = (await h1.requestAddress({ poolId, kind: 'gateway' })).address;
    const aux = (await h1.requestAddress({ poolId, kind: 'aux', address: '10.65.0.126', owner: 'router' })).address;
    const mine = [];
    for (let i = 0; i < 10; i++) mine.push((await h1.requestAddress({ poolId, kind: 'endpoint', owner: `h1-${i}` })).address);
    const theirs = (await h2.requestAddress({ poolId, kind: 'endpoint', owner: 'h2-0' })).address;
    const before = await h1.allocations(poolId);

    // Gone: affinities released (twice: idempotent), addresses untouched.
    expect(await h2.releaseHostAffinities('h1')).toBe(1);
    expect(await h2.releaseHostAffinities('h1')).toBe(0);
    expect(Object.values(await h2.blockAffinities(poolId))).toEqual(['h2']);
    expect(await h2.allocations(poolId)).toEqual(before);

    // Removed: h1's endpoints freed; the gateway, the aux address and h2's endpoint stay.
    expect(await h2.releaseHostAddresses('h1')).toEqual({ addresses: 10, blocks: 0 });
    const left = (await h2.allocations(poolId)).map((a) => `${a.address}/25`).sort();
    expect(left).toEqual([gw, aux, theirs].sort());
    expect(await h2.releaseHostAddresses('h1')).toEqual({ addresses: 0, blocks: 0 });
    // The addresses may now be handed out again.
    expect((await h2.usage(poolId)).used).toBe(3);
  });

  it('a lost host keeps everything: other hosts borrow only free addresses of its block', async () => {
    const [h1, h2] = [fx.ipam({ hostId: 'h1' }), fx.ipam({ hostId: 'h2' })];
    // One block: whoever claims it first owns it; the other can only borrow.
    const poolId = (await h1.requestPool({ addressSpace: 'global', pool: '10.66.0.0/26', v6: false })).poolId;
    const held = new Set<string>();
    for (let i = 0; i < 20; i++) held.add((await h1.requestAddress({ poolId, kind: 'endpoint' })).address);
    expect(Object.values(await h1.blockAffinities(poolId))).toEqual(['h1']);
    const borrowed = new Set<string>();
    for (let i = 0; i < 42; i++) borrowed.add((await h2.requestAddress({ poolId, kind: 'endpoint' })).address);
    expect([...borrowed].filter((a) => held.has(a))).toEqual([]);
    expect(Object.values(await h1.blockAffinities(poolId))).toEqual(['h1']);
    const e = await rejection(h2.requestAddress({ poolId, kind: 'endpoint' }));
    expect(e.code).toBe(ErrorCodes.POOL_EXHAUSTED);
  });

  it('refuses a bad host id', async () => {
    const h1 = fx.ipam({ hostId: 'h1' });
    expect((await rejection(h1.releaseHostAddresses('../x'))).code).toBe(ErrorCodes.BAD_REQUEST);
    expect((await rejection(h1.releaseHostAffinities(''))).code).toBe(ErrorCodes.BAD_REQUEST);
  });
});

describe('global space: five hosts at once on one store', () => {
  it('a /22 in /26 blocks: 1,000 of 1,022 addresses, no duplicates, each host mostly in its own blocks; all released after', async () => {
    const services = HOSTS.map((hostId) => new IpamService(overTheNetwork(fx.store), async () => [], { hostId }));
    const poolId = (await services[0]!.requestPool({ addressSpace: 'global', pool: '10.70.0.0/22', v6: false })).poolId;

    const got = await allocateConcurrently(services, poolId, 200);
    expect(got).toHaveLength(1000);
    expect(new Set(got.map((g) => g.address)).size).toBe(1000);
    expect((await services[0]!.usage(poolId)).used).toBe(1000);

    // Every address is recorded with the host that got it.
    const byAddress = new Map((await services[0]!.allocations(poolId)).map((a) => [`${a.address}/22`, a.host]));
    for (const g of got) expect(byAddress.get(g.address)).toBe(g.host);

    // Each host allocated mostly in its own blocks (16 blocks for 5 hosts: 3 each, the rest borrowed).
    const affinity = await services[0]!.blockAffinities(poolId);
    const own = got.filter((g) => affinity[blockOf(g.address)] === g.host).length;
    expect(own).toBeGreaterThanOrEqual(900);
    for (const host of HOSTS) {
      const claimed = Object.values(affinity).filter((h) => h === host).length;
      expect(claimed, `blocks of ${host}`).toBeGreaterThanOrEqual(1);
      const mine = got.filter((g) => g.host === host);
      expect(mine.filter((g) => affinity[blockOf(g.address)] === host).length, `own-block addresses of ${host}`).toBeGreaterThanOrEqual(150);
    }

    // The last 22 come by borrowing; then the pool is exhausted, with the usual message.
    const rest = await allocateConcurrently(services.slice(0, 2), poolId, 11);
    expect(new Set([...got, ...rest].map((g) => g.address)).size).toBe(1022);
    const e = await rejection(services[3]!.requestAddress({ poolId, kind: 'endpoint' }));
    expect(e.code).toBe(ErrorCodes.POOL_EXHAUSTED);
    expect(e.message).toBe('pool 10.70.0.0/22 is exhausted: 1022 of 1022 usable addresses in use');

    // Released by all hosts at once (each frees what another got, to mix it up).
    await Promise.all([...got, ...rest].map((g, i) => services[(i + 1) % 5]!.releaseAddress(poolId, g.address)));
    expect((await services[0]!.usage(poolId)).used).toBe(0);
    expect(await keysUnder(`ipam/blocks/${poolId}/`)).toEqual([]);
    expect(await keysUnder(`ipam/full/${poolId}`)).toEqual([]);
    await services[0]!.releasePool(poolId);
    expect((await keysUnder('ipam/')).filter((k) => !k.startsWith('ipam/spaces/'))).toEqual([]);
  });

  it('a pool that is one block (/26): one host claims it, the others borrow; 62 distinct, then exhausted', async () => {
    const services = HOSTS.map((hostId) => fx.ipam({ hostId }));
    const poolId = (await services[0]!.requestPool({ addressSpace: 'global', pool: '10.71.0.0/26', v6: false })).poolId;
    const got = await Promise.all(
      Array.from({ length: 62 }, (_, i) => services[i % 5]!.requestAddress({ poolId, kind: 'endpoint', owner: `ep${i}` })),
    );
    expect(new Set(got.map((g) => g.address)).size).toBe(62);
    expect(Object.keys(await services[0]!.blockAffinities(poolId))).toEqual(['10.71.0.0']);
    const e = await rejection(services[4]!.requestAddress({ poolId, kind: 'endpoint' }));
    expect(e.message).toBe('pool 10.71.0.0/26 is exhausted: 62 of 62 usable addresses in use');
    await Promise.all(got.map((g, i) => services[i % 5]!.releaseAddress(poolId, g.address)));
    expect((await services[0]!.usage(poolId)).used).toBe(0);
    expect(await keysUnder(`ipam/blocks/${poolId}/`)).toEqual([]);
  });
});
