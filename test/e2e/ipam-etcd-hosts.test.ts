// IPAM group commit on a real etcd, three hosts as three processes (test/helpers/ipam-allocator.ts),
// all allocating from one global pool at the same instant: cross-host uniqueness rests on the
// block compare-and-swap, whatever each host caches and however it groups its callers
// (docs/ipam.md, "Group commit").

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpamService } from '../../src/ipam/ipam-service.js';
import { ErrorCodes } from '../../src/model/errors.js';
import { openEtcdStore } from '../../src/store/etcd-store.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { runAllocator } from '../helpers/ipam-allocators.js';

describe('IPAM on etcd: three hosts at once', () => {
  let etcd: EtcdCluster;
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.destroy();
  });

  async function allocations(prefix: string, poolId: string) {
    const store = await openEtcdStore({ endpoints: etcd.endpoints, prefix });
    try {
      const ipam = new IpamService(store, async () => []);
      return { held: await ipam.allocations(poolId), affinities: await ipam.blockAffinities(poolId) };
    } finally {
      await store.close();
    }
  }

  it('300 requests from 3 hosts x 8 callers for 254 addresses: 254 distinct, each recorded with its host, the rest POOL_EXHAUSTED', async () => {
    const prefix = `/weft-test/${randomBytes(6).toString('hex')}`;
    const pool = '10.120.0.0/24';
    const common = ['--etcd', etcd.endpoints[0]!, '--prefix', prefix, '--pool', pool, '--space', 'global'];
    const created = await runAllocator([...common, '--create']);
    expect(created.stdout, created.stderr).toMatch(/^pool global\/10\.120\.0\.0\/24$/m);
    const start = String(Date.now() + 5_000);
    const outs = await Promise.all(['h1', 'h2', 'h3'].map((host) => runAllocator([...common, '--host', host, '--count', '100', '--clients', '8', '--start', start])));
    for (const o of outs) expect(o.done, o.stderr).toBe(true);
    const acks = outs.flatMap((o) => o.acks);
    expect(acks).toHaveLength(254);
    expect(new Set(acks.map((a) => a.address)).size).toBe(254);
    expect(outs.flatMap((o) => o.errors)).toEqual(Array(46).fill(ErrorCodes.POOL_EXHAUSTED));

    const { held } = await allocations(prefix, 'global/10.120.0.0/24');
    expect(held).toHaveLength(254);
    const byAddress = new Map(held.map((a) => [`${a.address}/24`, a]));
    for (const a of acks) {
      const h = byAddress.get(a.address);
      expect(h?.owner, a.address).toBe(a.owner);
      expect(h?.host).toBe(a.owner.split('-')[0]); // owners are <host>-<n>
    }
  });

  it('with room to spare (a /16), each host allocates in blocks of its own and no address is handed out twice', async () => {
    const prefix = `/weft-test/${randomBytes(6).toString('hex')}`;
    const pool = '10.121.0.0/16';
    const common = ['--etcd', etcd.endpoints[0]!, '--prefix', prefix, '--pool', pool, '--space', 'global'];
    await runAllocator([...common, '--create']);
    const start = String(Date.now() + 5_000);
    const outs = await Promise.all(['h1', 'h2', 'h3'].map((host) => runAllocator([...common, '--host', host, '--count', '200', '--clients', '8', '--start', start])));
    for (const o of outs) expect(o.done && o.errors.length === 0, o.stderr + o.errors.join(',')).toBe(true);
    const acks = outs.flatMap((o) => o.acks);
    expect(new Set(acks.map((a) => a.address)).size).toBe(600);
    const { held, affinities } = await allocations(prefix, 'global/10.121.0.0/16');
    expect(held).toHaveLength(600);
    // Plenty of free blocks: nobody needs to borrow, so every address lies in its host's block.
    const blockOf = (cidr: string) => {
      const o = cidr.split('/')[0]!.split('.').map(Number);
      return `${o[0]}.${o[1]}.${o[2]}.${o[3]! & ~63}`;
    };
    for (const a of acks) expect(affinities[blockOf(a.address)], a.address).toBe(a.owner.split('-')[0]);
  });
});
