import { describe, expect, it } from 'vitest';
import {
  allBlocksFull,
  blockIndexOf,
  blockSpan,
  claimStart,
  firstFree,
  geometryOf,
  isBlockFull,
  isReserved,
  rangeBlocks,
  searchOrder,
  searchOrderIn,
  usableCount,
} from '../../../src/ipam/blocks.js';
import { formatIp, tryParseCidr, tryParseIp } from '../../../src/ipam/cidr.js';

const cidr = (s: string) => tryParseCidr(s)!;
const v = (s: string) => tryParseIp(s)!.value;

describe('reserved addresses and usable counts', () => {
  it('v4: network and broadcast, except /31 and /32', () => {
    const p = cidr('10.9.0.0/29');
    expect(isReserved(p, v('10.9.0.0'))).toBe(true);
    expect(isReserved(p, v('10.9.0.7'))).toBe(true);
    expect(isReserved(p, v('10.9.0.1'))).toBe(false);
    expect(usableCount(geometryOf(p))).toBe(6n);
    expect(usableCount(geometryOf(cidr('10.9.0.0/31')))).toBe(2n);
    expect(usableCount(geometryOf(cidr('10.9.0.4/32')))).toBe(1n);
    expect(usableCount(geometryOf(cidr('10.0.0.0/8')))).toBe(16777214n);
  });

  it('v6: only the subnet-router anycast address', () => {
    const p = cidr('fd00::/64');
    expect(isReserved(p, v('fd00::'))).toBe(true);
    expect(isReserved(p, v('fd00::ffff:ffff:ffff:ffff'))).toBe(false);
    expect(usableCount(geometryOf(p))).toBe((1n << 64n) - 1n);
    expect(usableCount(geometryOf(cidr('fd00::/128')))).toBe(0n);
  });

  it('sub-pool counts only the pool reservations that fall inside it', () => {
    const pool = cidr('10.0.0.0/24');
    expect(usableCount(geometryOf(pool, cidr('10.0.0.128/25')))).toBe(127n); // broadcast .255 inside
    expect(usableCount(geometryOf(pool, cidr('10.0.0.64/26')))).toBe(64n); // its own .64/.127 are usable
    expect(usableCount(geometryOf(pool, cidr('10.0.0.255/32')))).toBe(0n);
  });
});

describe('block geometry', () => {
  it('blocks are at most 64 addresses and at most the pool', () => {
    expect(geometryOf(cidr('10.9.0.0/29')).blockBits).toBe(3);
    expect(geometryOf(cidr('10.0.0.0/8')).blockBits).toBe(6);
    const g = geometryOf(cidr('10.0.0.0/24'), cidr('10.0.0.96/27'));
    expect(rangeBlocks(g)).toEqual({ first: 1n, last: 1n, count: 1n });
    expect(blockSpan(g, 1n)).toEqual({ lo: v('10.0.0.96'), hi: v('10.0.0.127') });
    expect(blockIndexOf(g, v('10.0.0.200'))).toBe(3n);
  });

  it('a huge v6 range has 2^58 blocks but nothing is iterated', () => {
    const g = geometryOf(cidr('fd00::/64'));
    expect(rangeBlocks(g).count).toBe(1n << 58n);
    const first = searchOrder(g, g.range.base, new Set()).next().value;
    expect(first).toEqual({ block: 0n, lo: v('fd00::'), hi: v('fd00::3f') });
    expect(firstFree(g.pool, new Set(), first!.lo, first!.hi)).toBe(v('fd00::1'));
  });
});

describe('firstFree / isBlockFull', () => {
  it('skips reserved and taken', () => {
    const p = cidr('10.9.0.0/29');
    const taken = new Set([v('10.9.0.1'), v('10.9.0.2')]);
    expect(formatIp(4, firstFree(p, taken, p.base, v('10.9.0.7'))!)).toBe('10.9.0.3');
    const all = new Set([1, 2, 3, 4, 5, 6].map((i) => v(`10.9.0.${i}`)));
    expect(firstFree(p, all, p.base, v('10.9.0.7'))).toBeUndefined();
    expect(isBlockFull(geometryOf(p), 0n, all)).toBe(true);
    all.delete(v('10.9.0.4'));
    expect(isBlockFull(geometryOf(p), 0n, all)).toBe(false);
  });

  it('fullness is about the range: an aux outside the sub-pool does not count', () => {
    // .0 is the pool's network address; .1 to .3 are usable (.3 is no broadcast in a /24).
    const g = geometryOf(cidr('10.0.0.0/24'), cidr('10.0.0.0/30'));
    expect(isBlockFull(g, 0n, new Set([v('10.0.0.1'), v('10.0.0.2'), v('10.0.0.5')]))).toBe(false);
    expect(isBlockFull(g, 0n, new Set([v('10.0.0.1'), v('10.0.0.2'), v('10.0.0.3')]))).toBe(true);
  });
});

describe('searchOrder: round robin over blocks not known to be full', () => {
  const g = geometryOf(cidr('10.0.0.0/24')); // 4 blocks of 64
  const steps = (start: string, full: bigint[]) =>
    [...searchOrder(g, v(start), new Set(full))].map((s) => `${s.block}:${formatIp(4, s.lo)}-${formatIp(4, s.hi)}`);

  it('starts at the cursor, wraps, and ends with the start block below the cursor', () => {
    expect(steps('10.0.0.70', [])).toEqual([
      '1:10.0.0.70-10.0.0.127',
      '2:10.0.0.128-10.0.0.191',
      '3:10.0.0.192-10.0.0.255',
      '0:10.0.0.0-10.0.0.63',
      '1:10.0.0.64-10.0.0.69',
    ]);
  });

  it('skips full blocks', () => {
    expect(steps('10.0.0.70', [2n, 3n])).toEqual(['1:10.0.0.70-10.0.0.127', '0:10.0.0.0-10.0.0.63', '1:10.0.0.64-10.0.0.69']);
    expect(steps('10.0.0.70', [0n, 1n, 2n, 3n])).toEqual([]);
    expect(allBlocksFull(g, new Set([0n, 1n, 2n, 3n]))).toBe(true);
    expect(allBlocksFull(g, new Set([0n, 1n, 2n]))).toBe(false);
  });

  it('a cursor outside the range starts at the range start', () => {
    expect(steps('10.0.1.5', [])[0]).toBe('0:10.0.0.0-10.0.0.63');
  });

  it('stays inside a sub-pool', () => {
    const sub = geometryOf(cidr('10.0.0.0/24'), cidr('10.0.0.96/27'));
    const out = [...searchOrder(sub, v('10.0.0.100'), new Set())].map((s) => [formatIp(4, s.lo), formatIp(4, s.hi)]);
    expect(out).toEqual([
      ['10.0.0.100', '10.0.0.127'],
      ['10.0.0.96', '10.0.0.99'],
    ]);
  });

  it('skipping many full blocks of a v6 /64 costs one step per full block', () => {
    const big = geometryOf(cidr('fd00::/64'));
    const full = new Set(Array.from({ length: 1000 }, (_, i) => BigInt(i)));
    const first = searchOrder(big, big.range.base, full).next().value;
    expect(first?.block).toBe(1000n);
  });
});

describe('global space helpers', () => {
  const g = geometryOf(cidr('10.0.0.0/24'));

  it('searchOrderIn walks only the given blocks, from the start address, wrapping', () => {
    const steps = [...searchOrderIn(g, [3n, 1n, 2n], v('10.0.0.140'), new Set([3n]))];
    expect(steps.map((s) => [s.block, s.lo - g.pool.base, s.hi - g.pool.base])).toEqual([
      [2n, 140n, 191n],
      [1n, 64n, 127n],
      [2n, 128n, 139n],
    ]);
    expect([...searchOrderIn(g, [], g.pool.base, new Set())]).toEqual([]);
  });

  it('claimStart is a stable block start of the range, different for different hosts', () => {
    const big = geometryOf(cidr('10.0.0.0/16'));
    const starts = ['h1', 'h2', 'h3', 'h4', 'h5'].map((h) => claimStart(big, h));
    expect(starts.map((s) => claimStart(big, ['h1', 'h2', 'h3', 'h4', 'h5'][starts.indexOf(s)]!))).toEqual(starts);
    for (const s of starts) expect((s - big.pool.base) % 64n).toBe(0n);
    expect(new Set(starts).size).toBe(5);
    const sub = geometryOf(cidr('10.0.0.0/24'), cidr('10.0.0.200/29'));
    expect(claimStart(sub, 'h1')).toBe(v('10.0.0.200'));
  });
});
