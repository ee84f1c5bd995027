import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Fixture, makeFixture, rejection } from './fixture.js';

let fx: Fixture;

beforeEach(async () => {
  fx = await makeFixture();
});
afterEach(async () => {
  await fx.cleanup();
});

describe('restart', () => {
  it('a new IpamService on the reopened store keeps every address taken', async () => {
    const first = fx.ipam();
    const p = (await first.requestPool({ addressSpace: 'local', pool: '10.9.0.0/29', v6: false, network: 'n1' })).poolId;
    await first.requestAddress({ poolId: p, kind: 'gateway' });
    for (let i = 0; i < 5; i++) await first.requestAddress({ poolId: p, kind: 'endpoint', owner: `ep${i}` });

    await fx.reopen();
    const second = fx.ipam();
    expect(await second.getPool(p)).toMatchObject({ pool: '10.9.0.0/29', network: 'n1' });
    expect((await rejection(second.requestAddress({ poolId: p, kind: 'endpoint' }))).code).toBe('WEFT_ERR_POOL_EXHAUSTED');
    await second.releaseAddress(p, '10.9.0.4');
    expect(await second.requestAddress({ poolId: p, kind: 'endpoint' })).toEqual({ address: '10.9.0.4/29' });
    const e = await rejection(second.requestAddress({ poolId: p, kind: 'endpoint' }));
    expect(e.message).toBe('pool 10.9.0.0/29 is exhausted: 6 of 6 usable addresses in use');
  });

  it('the round-robin cursor survives a restart too', async () => {
    const first = fx.ipam();
    const p = (await first.requestPool({ addressSpace: 'local', pool: '10.9.5.0/24', v6: false })).poolId;
    await first.requestAddress({ poolId: p, kind: 'gateway' });
    await first.requestAddress({ poolId: p, kind: 'endpoint' }); // .2
    await first.requestAddress({ poolId: p, kind: 'endpoint' }); // .3
    await first.releaseAddress(p, '10.9.5.2');
    await fx.reopen();
    expect(await fx.ipam().requestAddress({ poolId: p, kind: 'endpoint' })).toEqual({ address: '10.9.5.4/24' });
  });
});

describe('concurrency', () => {
  it('300 parallel requests on a /24 from two instances: all distinct, 253 granted, the rest exhausted', async () => {
    const a = fx.ipam();
    const b = fx.ipam();
    const p = (await a.requestPool({ addressSpace: 'local', pool: '10.77.0.0/24', v6: false })).poolId;
    await a.requestAddress({ poolId: p, kind: 'gateway' });
    const results = await Promise.allSettled(
      Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).requestAddress({ poolId: p, kind: 'endpoint', owner: `ep${i}` })),
    );
    const granted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.address] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as { code: string }] : []));
    expect(new Set(granted).size).toBe(granted.length);
    expect(granted.length).toBe(253);
    expect(granted).not.toContain('10.77.0.1/24');
    expect(refused.map((e) => e.code)).toEqual(Array(47).fill('WEFT_ERR_POOL_EXHAUSTED'));
    expect(await a.usage(p)).toEqual({ pool: '10.77.0.0/24', usable: 254, used: 254 });
    // Who holds what is recorded exactly once per address.
    const owners = (await b.allocations(p)).map((x) => x.owner).filter(Boolean);
    expect(new Set(owners).size).toBe(253);
  });

  it('parallel pool requests never produce overlapping pools', async () => {
    const a = fx.ipam();
    const b = fx.ipam();
    const reqs = Array.from({ length: 12 }, (_, i) =>
      (i % 2 ? a : b).requestPool({ addressSpace: 'local', pool: i < 6 ? '10.88.0.0/24' : undefined, v6: false }),
    );
    const results = await Promise.allSettled(reqs);
    const explicitOk = results.slice(0, 6).filter((r) => r.status === 'fulfilled');
    expect(explicitOk.length).toBe(1);
    const defaults = results.slice(6).map((r) => (r.status === 'fulfilled' ? r.value.pool : 'failed'));
    expect(new Set(defaults).size).toBe(6);
    expect(defaults).not.toContain('failed');
  });
});
