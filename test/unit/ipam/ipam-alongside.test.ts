// A caller's record committed in the same transaction as the address (AddressRequest.alongside):
// one durable write per endpoint instead of two (issue 8).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeFixture, type Fixture } from './fixture.js';

let fx: Fixture;
beforeEach(async () => {
  fx = await makeFixture();
});
afterEach(async () => {
  await fx.cleanup();
});

const along = (store: Fixture['store'], key: string) => ({
  store,
  write: (cidr: string) => ({ ops: [{ type: 'put' as const, key, value: { cidr } }], compares: [{ key, revision: 0 }] }),
});

describe('alongside writes', () => {
  it('commits the record with the address, in the same revision, for any and for a specific address', async () => {
    const ipam = fx.ipam();
    const { poolId } = await ipam.requestPool({ addressSpace: 'local', pool: '10.77.0.0/24', v6: false });
    const before = await fx.store.revision();
    const got = await ipam.requestAddress({ poolId, kind: 'endpoint', owner: 'ep1', alongside: along(fx.store, 'eps/1') });
    expect(got).toEqual({ address: '10.77.0.1/24', wroteAlongside: true });
    const kv = await fx.store.get<{ cidr: string }>('eps/1');
    expect(kv?.value).toEqual({ cidr: '10.77.0.1/24' });
    // One transaction: the record's revision is the allocation's, one after where the store was.
    expect(kv?.modRevision).toBe(before + 1);
    expect(await fx.store.revision()).toBe(before + 1);
    const pinned = await ipam.requestAddress({ poolId, kind: 'endpoint', owner: 'ep2', address: '10.77.0.9', alongside: along(fx.store, 'eps/2') });
    expect(pinned).toEqual({ address: '10.77.0.9/24', wroteAlongside: true });
    expect((await fx.store.get('eps/2'))?.value).toEqual({ cidr: '10.77.0.9/24' });
  });

  it('leaves the write to the caller when the record lives in another store', async () => {
    const other = await makeFixture();
    try {
      const ipam = fx.ipam();
      const { poolId } = await ipam.requestPool({ addressSpace: 'local', pool: '10.78.0.0/24', v6: false });
      const got = await ipam.requestAddress({ poolId, kind: 'endpoint', owner: 'ep1', alongside: along(other.store, 'eps/1') });
      expect(got).toEqual({ address: '10.78.0.1/24' });
      expect(await other.store.get('eps/1')).toBeUndefined();
      expect(await fx.store.get('eps/1')).toBeUndefined();
    } finally {
      await other.cleanup();
    }
  });
});
