import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Fixture, dump, makeFixture, rejection } from './fixture.js';
import { parseDefaultAddressPool } from '../../../src/ipam/default-pools.js';
import { IpamService } from '../../../src/ipam/ipam-service.js';
import { tryParseCidr } from '../../../src/ipam/cidr.js';
import { isUlaPrefix } from '../../../src/ipam/ula.js';

let fx: Fixture;
let ipam: IpamService;

beforeEach(async () => {
  fx = await makeFixture();
  ipam = fx.ipam();
});
afterEach(async () => {
  await fx.cleanup();
});

describe('address spaces', () => {
  it('local and global; anything else is ADDRESS_SPACE_NOT_FOUND', async () => {
    expect(ipam.defaultAddressSpaces()).toEqual({ local: 'local', global: 'global' });
    const e = await rejection(ipam.requestPool({ addressSpace: 'LocalDefault', v6: false }));
    expect(e.code).toBe('WEFT_ERR_ADDRESS_SPACE_NOT_FOUND');
  });
});

describe('default pools', () => {
  it("follows Docker's order and never hands out the same pool twice", async () => {
    const a = await ipam.requestPool({ addressSpace: 'local', v6: false });
    const b = await ipam.requestPool({ addressSpace: 'local', v6: false });
    expect(a).toEqual({ poolId: 'local/172.17.0.0/16', addressSpace: 'local', pool: '172.17.0.0/16', v6: false, data: {} });
    expect(b.pool).toBe('172.18.0.0/16');
  });

  it('skips pools that overlap a host route (default routes ignored)', async () => {
    fx.routes = ['0.0.0.0/0', '::/0', '172.17.0.0/16', '172.18.3.0/24', '172.19.0.1'];
    const a = await ipam.requestPool({ addressSpace: 'local', v6: false });
    expect(a.pool).toBe('172.20.0.0/16');
  });

  it('skips explicit pools of either space', async () => {
    await ipam.requestPool({ addressSpace: 'global', pool: '172.17.128.0/24', v6: false });
    await ipam.requestPool({ addressSpace: 'local', pool: '172.18.0.0/16', v6: false });
    const a = await ipam.requestPool({ addressSpace: 'local', v6: false });
    expect(a.pool).toBe('172.19.0.0/16');
    const g = await ipam.requestPool({ addressSpace: 'global', v6: false });
    expect(g).toMatchObject({ poolId: 'global/172.20.0.0/16', addressSpace: 'global' });
  });

  it('uses the configured pools and says NO_DEFAULT_POOL when they run out', async () => {
    const mine = fx.ipam({ defaultPools: [parseDefaultAddressPool('base=10.200.0.0/23,size=24')] });
    fx.routes = ['10.200.1.0/24'];
    expect((await mine.requestPool({ addressSpace: 'local', v6: false })).pool).toBe('10.200.0.0/24');
    const e = await rejection(mine.requestPool({ addressSpace: 'local', v6: false }));
    expect(e.code).toBe('WEFT_ERR_NO_DEFAULT_POOL');
    expect(e.message).toContain('10.200.0.0/23 in /24s overlaps a host route or another weft network');
    // A released pool comes back.
    await mine.releasePool('local/10.200.0.0/24');
    expect((await mine.requestPool({ addressSpace: 'local', v6: false })).pool).toBe('10.200.0.0/24');
  });

  it('refuses invalid configured pools at construction', () => {
    expect(() => fx.ipam({ defaultPools: [{ base: '10.0.0.0/16', size: 8 }] })).toThrow(/invalid --default-address-pool/);
  });

  it('a failing route source is an error, not a silent overlap', async () => {
    const broken = new IpamService(fx.store, async () => {
      throw new Error('netlink said no');
    });
    const e = await rejection(broken.requestPool({ addressSpace: 'local', v6: false }));
    expect(e.message).toContain('reading the host routes failed: internal error: netlink said no');
  });
});

describe('explicit pools and overlap', () => {
  it('v4 and v6 explicit pools, with sub-pools', async () => {
    const v4 = await ipam.requestPool({ addressSpace: 'local', pool: '10.31.0.0/24', subPool: '10.31.0.128/25', v6: false, network: 'n1' });
    expect(v4).toEqual({
      poolId: 'local/10.31.0.0/24',
      addressSpace: 'local',
      pool: '10.31.0.0/24',
      subPool: '10.31.0.128/25',
      v6: false,
      data: {},
      network: 'n1',
    });
    const v6 = await ipam.requestPool({ addressSpace: 'local', pool: 'FD00:1:0::/64', v6: true });
    expect(v6.poolId).toBe('local/fd00:1::/64');
    expect(await ipam.getPool('local/fd00:1::/64')).toEqual(v6);
    expect((await ipam.listPools()).map((p) => p.poolId).sort()).toEqual(['local/10.31.0.0/24', 'local/fd00:1::/64']);
  });

  it('names the other network, or its pool when the name is unknown', async () => {
    await ipam.requestPool({ addressSpace: 'local', pool: '10.31.0.0/24', v6: false, network: 'n1' });
    let e = await rejection(ipam.requestPool({ addressSpace: 'local', pool: '10.31.0.0/25', v6: false }));
    expect(e.code).toBe('WEFT_ERR_POOL_OVERLAP');
    expect(e.message).toBe('subnet 10.31.0.0/25 overlaps network "n1" (10.31.0.0/24)');

    await ipam.requestPool({ addressSpace: 'local', pool: '10.32.0.0/24', v6: false });
    e = await rejection(ipam.requestPool({ addressSpace: 'local', pool: '10.32.0.0/16', v6: false }));
    expect(e.message).toBe('subnet 10.32.0.0/16 overlaps pool 10.32.0.0/24');

    await ipam.nameNetwork('local/10.32.0.0/24', 'blue');
    e = await rejection(ipam.requestPool({ addressSpace: 'local', pool: '10.32.0.0/16', v6: false }));
    expect(e.message).toBe('subnet 10.32.0.0/16 overlaps network "blue" (10.32.0.0/24)');
    expect((await ipam.getPool('local/10.32.0.0/24'))?.network).toBe('blue');
  });

  it('same for v6', async () => {
    await ipam.requestPool({ addressSpace: 'local', pool: 'fd00:1::/64', v6: true, network: 'v6net' });
    const e = await rejection(ipam.requestPool({ addressSpace: 'local', pool: 'fd00:1::/48', v6: true }));
    expect(e.message).toBe('subnet fd00:1::/48 overlaps network "v6net" (fd00:1::/64)');
  });

  it('global is its own routing domain: overlap refused within global, allowed against local', async () => {
    await ipam.requestPool({ addressSpace: 'local', pool: '10.40.0.0/24', v6: false });
    const g = await ipam.requestPool({ addressSpace: 'global', pool: '10.40.0.0/24', v6: false });
    expect(g.poolId).toBe('global/10.40.0.0/24');
    const e = await rejection(ipam.requestPool({ addressSpace: 'global', pool: '10.40.0.128/25', v6: false }));
    expect(e.message).toBe('subnet 10.40.0.128/25 overlaps pool 10.40.0.0/24');
  });

  it('explicit subnets may overlap host routes (Docker allows it)', async () => {
    fx.routes = ['10.50.0.0/16'];
    expect((await ipam.requestPool({ addressSpace: 'local', pool: '10.50.1.0/24', v6: false })).pool).toBe('10.50.1.0/24');
  });

  it('nameNetwork of an unknown pool is POOL_NOT_FOUND', async () => {
    expect((await rejection(ipam.nameNetwork('local/10.0.0.0/24', 'x'))).code).toBe('WEFT_ERR_POOL_NOT_FOUND');
  });
});

describe('releasePool', () => {
  it('always succeeds and releases everything in the pool', async () => {
    await ipam.releasePool('local/10.99.0.0/24'); // unknown: fine
    const p = await ipam.requestPool({ addressSpace: 'local', pool: '10.60.0.0/24', v6: false });
    await ipam.requestAddress({ poolId: p.poolId, kind: 'gateway' });
    await ipam.requestAddress({ poolId: p.poolId, kind: 'endpoint' });
    await ipam.releasePool(p.poolId);
    await ipam.releasePool(p.poolId); // twice: fine
    expect(await ipam.getPool(p.poolId)).toBeUndefined();
    expect((await fx.store.list('ipam/blocks/')).length).toBe(0);
    expect((await fx.store.list('ipam/cursors/')).length).toBe(0);
    // The same subnet again starts from scratch.
    const again = await ipam.requestPool({ addressSpace: 'local', pool: '10.60.0.0/24', v6: false });
    expect(await ipam.allocations(again.poolId)).toEqual([]);
    expect(await ipam.requestAddress({ poolId: again.poolId, kind: 'gateway' })).toEqual({ address: '10.60.0.1/24' });
  });
});

describe('IPv6 without a subnet: a ULA /64 from this host /48', () => {
  it('generates the /48 once, persists it, hands out /64s in order skipping used ones', async () => {
    let calls = 0;
    const seeded = fx.ipam({
      randomBytes: (n) => {
        calls++;
        return new Uint8Array(n).fill(0xab);
      },
    });
    const a = await seeded.requestPool({ addressSpace: 'local', v6: true });
    expect(a).toMatchObject({ poolId: 'local/fdab:abab:abab::/64', pool: 'fdab:abab:abab::/64', v6: true });
    expect(calls).toBe(1);
    expect((await fx.store.get('ipam/ula'))?.value).toEqual({ prefix: 'fdab:abab:abab::/48' });

    await seeded.requestPool({ addressSpace: 'local', pool: 'fdab:abab:abab:1::/64', v6: true });
    fx.routes = ['fdab:abab:abab:2::/64'];
    const c = await seeded.requestPool({ addressSpace: 'global', v6: true });
    expect(c.pool).toBe('fdab:abab:abab:3::/64');

    // A new instance (restart) keeps the prefix and does not draw new randomness.
    await fx.reopen();
    let later = 0;
    const restarted = fx.ipam({ randomBytes: (n) => (later++, new Uint8Array(n)) });
    await restarted.releasePool(a.poolId);
    expect((await restarted.requestPool({ addressSpace: 'local', v6: true })).pool).toBe('fdab:abab:abab::/64');
    expect((await restarted.requestPool({ addressSpace: 'local', v6: true })).pool).toBe('fdab:abab:abab:4::/64');
    expect(later).toBe(0);
  });

  it('a real random prefix is a valid ULA', async () => {
    const p = await ipam.requestPool({ addressSpace: 'local', v6: true });
    const { prefix } = (await fx.store.get<{ prefix: string }>('ipam/ula'))!.value;
    expect(isUlaPrefix(tryParseCidr(prefix)!)).toBe(true);
    expect(p.pool).toBe(prefix.replace('/48', '/64'));
  });
});

describe('a refused request changes nothing', () => {
  it('compares a full dump of the store before and after each refusal', async () => {
    const p = await ipam.requestPool({ addressSpace: 'local', pool: '10.9.0.0/29', v6: false, network: 'n1' });
    await ipam.requestAddress({ poolId: p.poolId, kind: 'gateway' });
    for (let i = 0; i < 5; i++) await ipam.requestAddress({ poolId: p.poolId, kind: 'endpoint', owner: `ep${i}` });
    const small = fx.ipam({ defaultPools: [{ base: '10.9.0.0/29', size: 29 }] });
    const before = await dump(fx.store);
    const refusals = [
      ipam.requestPool({ addressSpace: 'local', pool: '10.0.0.300/24', v6: false }),
      ipam.requestPool({ addressSpace: 'local', pool: '10.0.0.0/33', v6: false }),
      ipam.requestPool({ addressSpace: 'local', pool: 'abc', v6: false }),
      ipam.requestPool({ addressSpace: 'local', pool: '10.0.0.1/24', v6: false }),
      ipam.requestPool({ addressSpace: 'local', pool: '10.0.0.0/24', v6: true }),
      ipam.requestPool({ addressSpace: 'local', pool: '10.0.0.0/24', subPool: '10.1.0.0/25', v6: false }),
      ipam.requestPool({ addressSpace: 'nope', v6: false }),
      ipam.requestPool({ addressSpace: 'local', pool: '10.9.0.0/30', v6: false }),
      small.requestPool({ addressSpace: 'local', v6: false }),
      ipam.requestAddress({ poolId: p.poolId, kind: 'endpoint' }),
      ipam.requestAddress({ poolId: p.poolId, kind: 'endpoint', address: '10.9.0.3' }),
      ipam.requestAddress({ poolId: p.poolId, kind: 'endpoint', address: '10.10.0.3' }),
      ipam.requestAddress({ poolId: p.poolId, kind: 'endpoint', address: '10.9.0.7' }),
      ipam.requestAddress({ poolId: p.poolId, kind: 'endpoint', address: 'x' }),
      ipam.requestAddress({ poolId: 'local/10.8.0.0/24', kind: 'endpoint' }),
      ipam.releaseAddress(p.poolId, '10.10.0.1'),
      ipam.releaseAddress(p.poolId, 'nonsense'),
      ipam.nameNetwork(p.poolId, ''),
    ];
    const codes: string[] = [];
    for (const r of refusals) codes.push((await rejection(r)).code);
    expect(codes).toEqual([
      'WEFT_ERR_INVALID_ADDRESS',
      'WEFT_ERR_INVALID_ADDRESS',
      'WEFT_ERR_INVALID_ADDRESS',
      'WEFT_ERR_INVALID_ADDRESS',
      'WEFT_ERR_BAD_REQUEST',
      'WEFT_ERR_BAD_REQUEST',
      'WEFT_ERR_ADDRESS_SPACE_NOT_FOUND',
      'WEFT_ERR_POOL_OVERLAP',
      'WEFT_ERR_NO_DEFAULT_POOL',
      'WEFT_ERR_POOL_EXHAUSTED',
      'WEFT_ERR_ADDRESS_IN_USE',
      'WEFT_ERR_ADDRESS_OUT_OF_POOL',
      'WEFT_ERR_ADDRESS_OUT_OF_POOL',
      'WEFT_ERR_INVALID_ADDRESS',
      'WEFT_ERR_POOL_NOT_FOUND',
      'WEFT_ERR_ADDRESS_OUT_OF_POOL',
      'WEFT_ERR_INVALID_ADDRESS',
      'WEFT_ERR_BAD_REQUEST',
    ]);
    // Releasing free or unknown addresses succeeds and writes nothing either.
    await ipam.releaseAddress(p.poolId, '10.9.0.7');
    await ipam.releaseAddress('local/10.8.0.0/24', '10.8.0.1');
    await ipam.releasePool('local/10.8.0.0/24');
    expect(await dump(fx.store)).toEqual(before);
  });
});
