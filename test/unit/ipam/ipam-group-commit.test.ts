// Group commit (docs/ipam.md, "Group commit"): allocations of one pool that queue together are
// decided in memory and committed in one transaction. What must not change: no duplicate address
// (one process, several services on one store, several processes), an acknowledged allocation
// survives SIGKILL, exhaustion is POOL_EXHAUSTED however many ask at once, alongside records, and
// records another writer changed behind this IPAM's cache.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IpamService } from '../../../src/ipam/ipam-service.js';
import { ErrorCodes } from '../../../src/model/errors.js';
import { openLocalStore } from '../../../src/store/local-store.js';
import type { Store } from '../../../src/store/store.js';
import { runAllocator } from '../../helpers/ipam-allocators.js';
import { makeFixture, rejection, type Fixture } from './fixture.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await makeFixture();
});
afterEach(async () => {
  await fx.cleanup();
});

/** The store with a count of its transactions. */
function counting(store: Store): { store: Store; txns: () => number } {
  let txns = 0;
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (prop === 'txn') txns++;
        return (v as (...x: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: wrapped, txns: () => txns };
}

async function settled<T>(ps: Promise<T>[]): Promise<{ ok: T[]; codes: string[] }> {
  const rs = await Promise.allSettled(ps);
  return {
    ok: rs.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    codes: rs.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { code?: string }).code ?? String(r.reason)] : [])),
  };
}

describe('group commit, one process', () => {
  it('eight requests that arrive together share one transaction, in round-robin order', async () => {
    const c = counting(fx.store);
    const ipam = new IpamService(c.store, async () => []);
    const { poolId } = await ipam.requestPool({ addressSpace: 'local', pool: '10.91.0.0/24', v6: false });
    await ipam.requestAddress({ poolId, kind: 'endpoint', owner: 'first' });
    const before = c.txns();
    const got = await Promise.all(Array.from({ length: 8 }, (_, i) => ipam.requestAddress({ poolId, kind: 'endpoint', owner: `ep${i}` })));
    expect(c.txns() - before).toBe(1);
    expect(got.map((g) => g.address)).toEqual(Array.from({ length: 8 }, (_, i) => `10.91.0.${i + 2}/24`));
    // Each address is recorded with its own owner and time.
    const all = await ipam.allocations(poolId);
    for (let i = 0; i < 8; i++) {
      const a = all.find((x) => x.address === `10.91.0.${i + 2}`);
      expect(a).toMatchObject({ kind: 'endpoint', owner: `ep${i}` });
      expect(typeof a?.allocatedAt).toBe('string');
    }
  });

  it('a group mixes pinned, gateway and any-address requests, and refuses only the bad ones', async () => {
    const ipam = fx.ipam();
    const { poolId } = await ipam.requestPool({ addressSpace: 'local', pool: '10.92.0.0/24', v6: false });
    await ipam.requestAddress({ poolId, kind: 'endpoint', address: '10.92.0.7', owner: 'old' });
    const r = await Promise.allSettled([
      ipam.requestAddress({ poolId, kind: 'gateway' }),
      ipam.requestAddress({ poolId, kind: 'endpoint', owner: 'a' }),
      ipam.requestAddress({ poolId, kind: 'endpoint', address: '10.92.0.7', owner: 'dup' }),
      ipam.requestAddress({ poolId, kind: 'endpoint', address: '10.92.0.9', owner: 'pinned' }),
      ipam.requestAddress({ poolId, kind: 'endpoint', address: '10.92.0.9', owner: 'pinned-again' }),
      ipam.requestAddress({ poolId, kind: 'aux', address: '10.93.0.1', owner: 'outside' }),
      ipam.requestAddress({ poolId, kind: 'endpoint', owner: 'b' }),
    ]);
    const summary = r.map((x) => (x.status === 'fulfilled' ? x.value.address : (x.reason as { code: string }).code));
    expect(summary).toEqual([
      '10.92.0.1/24',
      '10.92.0.2/24',
      ErrorCodes.ADDRESS_IN_USE,
      '10.92.0.9/24',
      ErrorCodes.ADDRESS_IN_USE,
      ErrorCodes.ADDRESS_OUT_OF_POOL,
      '10.92.0.3/24',
    ]);
    expect((await ipam.usage(poolId)).used).toBe(5);
  });

  it('three services on one store, sixty requests at once for thirty addresses: thirty distinct, thirty POOL_EXHAUSTED', async () => {
    const services = [fx.ipam(), fx.ipam(), fx.ipam()];
    const { poolId } = await services[0]!.requestPool({ addressSpace: 'local', pool: '10.94.0.0/27', v6: false });
    const { ok, codes } = await settled(
      Array.from({ length: 60 }, (_, i) => services[i % 3]!.requestAddress({ poolId, kind: 'endpoint', owner: `ep${i}` })),
    );
    expect(ok).toHaveLength(30);
    expect(new Set(ok.map((g) => g.address)).size).toBe(30);
    expect(codes).toEqual(Array(30).fill(ErrorCodes.POOL_EXHAUSTED));
    expect(await services[1]!.usage(poolId)).toEqual({ pool: '10.94.0.0/27', usable: 30, used: 30 });
    const e = await rejection(services[2]!.requestAddress({ poolId, kind: 'endpoint' }));
    expect(e.message).toBe('pool 10.94.0.0/27 is exhausted: 30 of 30 usable addresses in use');
  });

  it('records another service changed behind the cache: a freed address is found, a taken one is not handed out again', async () => {
    const [a, b] = [fx.ipam(), fx.ipam()];
    const { poolId } = await a.requestPool({ addressSpace: 'local', pool: '10.95.0.0/29', v6: false });
    const mine = await Promise.all(Array.from({ length: 6 }, () => a.requestAddress({ poolId, kind: 'endpoint' })));
    expect((await rejection(a.requestAddress({ poolId, kind: 'endpoint' }))).code).toBe(ErrorCodes.POOL_EXHAUSTED);
    // b frees one; a's cache still says the pool is full, but a refusal is only given on fresh reads.
    await b.releaseAddress(poolId, mine[2]!.address);
    expect((await a.requestAddress({ poolId, kind: 'endpoint', owner: 'again' })).address).toBe(mine[2]!.address);
    // b takes a pinned address a's cache thinks is free: a's pinned request for it is refused.
    await b.releaseAddress(poolId, mine[4]!.address);
    await a.requestAddress({ poolId, kind: 'endpoint', owner: 'warm' }); // a's cache now has the block
    await b.releaseAddress(poolId, mine[5]!.address);
    await b.requestAddress({ poolId, kind: 'endpoint', address: mine[5]!.address.split('/')[0], owner: 'b-pinned' });
    const e = await rejection(a.requestAddress({ poolId, kind: 'endpoint', address: mine[5]!.address.split('/')[0], owner: 'a-pinned' }));
    expect(e.code).toBe(ErrorCodes.ADDRESS_IN_USE);
    expect(e.message).toContain('"b-pinned"');
  });

  it('a full block missing from the full-block list (its list update lost in a crash) is listed again by the next search; exhaustion is still POOL_EXHAUSTED', async () => {
    const ipam = fx.ipam();
    const { poolId } = await ipam.requestPool({ addressSpace: 'local', pool: '10.90.0.0/25', v6: false }); // 2 blocks, 126 usable
    await Promise.all(Array.from({ length: 63 }, (_, i) => ipam.requestAddress({ poolId, kind: 'endpoint', owner: `a${i}` })));
    expect((await fx.store.get<{ blocks: string[] }>(`ipam/full/${poolId}`))?.value.blocks).toEqual(['10.90.0.0']);
    // As after a crash between a group's commit and its list write.
    await fx.store.delete(`ipam/full/${poolId}`);
    const other = fx.ipam(); // no cache: reads what the store holds
    const { ok, codes } = await settled(Array.from({ length: 70 }, (_, i) => other.requestAddress({ poolId, kind: 'endpoint', owner: `b${i}` })));
    expect(ok).toHaveLength(63);
    expect(codes).toEqual(Array(7).fill(ErrorCodes.POOL_EXHAUSTED));
    expect((await fx.store.get<{ blocks: string[] }>(`ipam/full/${poolId}`))?.value.blocks.sort()).toEqual(['10.90.0.0', '10.90.0.64']);
    expect((await ipam.usage(poolId)).used).toBe(126);
  });

  it('alongside records commit with their addresses in a group; one that can never commit does not hold up the others', async () => {
    const c = counting(fx.store);
    const ipam = new IpamService(c.store, async () => []);
    const { poolId } = await ipam.requestPool({ addressSpace: 'local', pool: '10.96.0.0/24', v6: false });
    await fx.store.put('eps/3', { taken: true }); // endpoint 3's record exists already: its compare never holds
    const along = (key: string) => ({
      store: c.store,
      write: (cidr: string) => ({ ops: [{ type: 'put' as const, key, value: { cidr } }], compares: [{ key, revision: 0 }] }),
    });
    const { ok, codes } = await settled(
      Array.from({ length: 6 }, (_, i) => ipam.requestAddress({ poolId, kind: 'endpoint', owner: `ep${i}`, alongside: along(`eps/${i}`) })),
    );
    expect(codes).toEqual([ErrorCodes.STORE_CONFLICT]);
    expect(ok).toHaveLength(5);
    for (const [i, g] of ok.entries()) {
      expect(g.wroteAlongside).toBe(true);
      const key = `eps/${i < 3 ? i : i + 1}`;
      const rec = await fx.store.get<{ cidr: string }>(key);
      expect(rec?.value.cidr, key).toBe(g.address);
    }
    expect((await fx.store.get('eps/3'))?.value).toEqual({ taken: true });
    // Only the five answered addresses are held.
    expect((await ipam.usage(poolId)).used).toBe(5);
  });

  it('a release of the pool is not starved by callers that keep allocating', async () => {
    const ipam = fx.ipam();
    const { poolId } = await ipam.requestPool({ addressSpace: 'local', pool: '10.97.0.0/16', v6: false });
    const first = await ipam.requestAddress({ poolId, kind: 'endpoint', owner: 'first' });
    let stop = false;
    let allocated = 0;
    const loops = Array.from({ length: 8 }, async () => {
      while (!stop) {
        await ipam.requestAddress({ poolId, kind: 'endpoint' });
        allocated++;
      }
    });
    while (allocated < 40) await new Promise((r) => setImmediate(r));
    // Without turns on the pool lock this would wait for the loops, which wait for it.
    await ipam.releaseAddress(poolId, first.address);
    stop = true;
    await Promise.all(loops);
    const held = (await ipam.allocations(poolId)).map((a) => a.address);
    expect(held).not.toContain(first.address.split('/')[0]);
    expect(new Set(held).size).toBe(allocated);
  });
});

describe('group commit, several processes on one embedded store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'weft-ipam-procs-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'three processes, eight callers each, 300 requests for 254 addresses: no duplicate, the rest POOL_EXHAUSTED, the store agrees',
    async () => {
      const storeDir = path.join(dir, 'store');
      const pool = '10.98.0.0/24';
      const created = await runAllocator(['--local', storeDir, '--pool', pool, '--create']);
      expect(created.stdout, created.stderr).toMatch(/^pool local\/10\.98\.0\.0\/24$/m);
      // All three allocate at the same instant (node start-up on a busy machine takes seconds).
      const start = String(Date.now() + 5_000);
      const outs = await Promise.all(
        ['p1', 'p2', 'p3'].map((host) => runAllocator(['--local', storeDir, '--pool', pool, '--host', host, '--count', '100', '--clients', '8', '--start', start])),
      );
      for (const o of outs) expect(o.done, o.stderr).toBe(true);
      const acks = outs.flatMap((o) => o.acks);
      expect(acks).toHaveLength(254);
      expect(new Set(acks.map((a) => a.address)).size).toBe(254);
      const errors = outs.flatMap((o) => o.errors);
      expect(errors).toEqual(Array(46).fill(ErrorCodes.POOL_EXHAUSTED));
      const store = await openLocalStore({ path: storeDir });
      try {
        const ipam = new IpamService(store, async () => []);
        const held = new Map((await ipam.allocations('local/10.98.0.0/24')).map((a) => [`${a.address}/24`, a.owner]));
        expect(held.size).toBe(254);
        for (const a of acks) expect(held.get(a.address), a.address).toBe(a.owner);
      } finally {
        await store.close();
      }
    },
    60_000,
  );

  it(
    'SIGKILL in the middle of group commits: every acknowledged allocation is there, with its owner, and none twice',
    async () => {
      const storeDir = path.join(dir, 'store');
      const pool = '10.99.0.0/16';
      await runAllocator(['--local', storeDir, '--pool', pool, '--create']);
      const acked = new Map<string, string>();
      for (let round = 1; round <= 3; round++) {
        const killAfter = 20 + Math.floor(Math.random() * 300);
        const o = await runAllocator(['--local', storeDir, '--pool', pool, '--host', `r${round}`, '--count', '20000', '--clients', '8'], { killAfterAcks: killAfter });
        expect(o.signal, o.stderr).toBe('SIGKILL');
        expect(o.acks.length).toBeGreaterThanOrEqual(killAfter);
        for (const a of o.acks) {
          expect(acked.has(a.address), `${a.address} acknowledged twice`).toBe(false);
          acked.set(a.address, a.owner);
        }
        const store = await openLocalStore({ path: storeDir });
        try {
          const held = new Map((await new IpamService(store, async () => []).allocations('local/10.99.0.0/16')).map((a) => [`${a.address}/16`, a.owner]));
          for (const [address, owner] of acked) expect(held.get(address), `round ${round}: acknowledged ${address} is missing`).toBe(owner);
        } finally {
          await store.close();
        }
      }
    },
    90_000,
  );
});
