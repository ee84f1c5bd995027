// Default pools: the `--default-address-pool base=CIDR,size=N` parser and the pure choice of the
// next free subnet. Like Docker, a default pool never overlaps a host route or another pool; unlike
// a naive scan, the choice sweeps once over the sorted obstacles, jumping over each, so a base like
// 10.0.0.0/8 cut into /24s with thousands of pools in it costs one step per obstacle, not one per
// candidate.

import { ErrorCodes, WeftError } from '../model/errors.js';
import type { DefaultPoolSpec } from './ipam.js';
import { alignUp, bitsOf, type Cidr, type Family, formatCidr, lastOf, overlaps, parseSubnet, tryParseCidr, tryParseIp } from './cidr.js';

/** Smallest default pools: a v4 /30 still has 2 usable addresses, a v6 /126 has 3. */
const MAX_SIZE: Record<Family, number> = { 4: 30, 6: 126 };

function invalid(input: string, why: string): WeftError {
  return new WeftError(ErrorCodes.INVALID_OPTION, `invalid --default-address-pool ${JSON.stringify(input)}: ${why}`);
}

/** A spec checked and parsed: the base as a Cidr plus the pool size. */
export interface ParsedPoolSpec {
  base: Cidr;
  size: number;
}

/** Checks one spec (from the flag parser or the constructor); throws INVALID_OPTION. */
export function checkDefaultPoolSpec(spec: DefaultPoolSpec, input = `base=${spec.base},size=${spec.size}`): ParsedPoolSpec {
  let base: Cidr;
  try {
    base = parseSubnet(spec.base, 'base');
  } catch (e) {
    throw invalid(input, (e as Error).message);
  }
  const max = MAX_SIZE[base.family];
  if (!Number.isInteger(spec.size) || spec.size < base.prefix || spec.size > max) {
    throw invalid(input, `size must be a prefix length between ${base.prefix} (the base's) and ${max}, got ${spec.size}`);
  }
  return { base, size: spec.size };
}

/**
 * Parses the value of `weftd --default-address-pool`, Docker's syntax: `base=172.80.0.0/16,size=24`.
 * Both keys are required, each once; nothing else is accepted.
 */
export function parseDefaultAddressPool(str: string): DefaultPoolSpec {
  if (typeof str !== 'string' || str.trim() === '') throw invalid(String(str), 'expected base=CIDR,size=N');
  const fields = new Map<string, string>();
  for (const part of str.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw invalid(str, `${JSON.stringify(part)} is not KEY=VALUE; expected base=CIDR,size=N`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key !== 'base' && key !== 'size') throw invalid(str, `unknown key ${JSON.stringify(key)}; expected base=CIDR,size=N`);
    if (fields.has(key)) throw invalid(str, `${key} is given twice`);
    fields.set(key, value);
  }
  const base = fields.get('base');
  const size = fields.get('size');
  if (base === undefined) throw invalid(str, 'base=CIDR is missing');
  if (size === undefined) throw invalid(str, 'size=N is missing');
  if (!/^[0-9]{1,3}$/.test(size)) throw invalid(str, `size must be a prefix length, got ${JSON.stringify(size)}`);
  const spec = { base, size: Number(size) };
  checkDefaultPoolSpec(spec, str);
  return spec;
}

/**
 * First subnet of `/size` inside `base` that overlaps no obstacle, in address order; undefined
 * when every one is taken. O(n log n) in the number of obstacles.
 */
export function firstFreeSubnet(base: Cidr, size: number, obstacles: readonly Cidr[]): Cidr | undefined {
  const blocked = mergedIntervals(obstacles.filter((o) => overlaps(o, base)));
  const step = 1n << BigInt(bitsOf(base.family) - size);
  const end = lastOf(base);
  let at = base.base;
  let j = 0;
  while (at + step - 1n <= end) {
    while (j < blocked.length && blocked[j]!.hi < at) j++;
    const hit = blocked[j];
    if (!hit || hit.lo > at + step - 1n) return { family: base.family, base: at, prefix: size };
    const past = alignUp(hit.hi + 1n, step);
    at = past > at + step ? past : at + step;
  }
  return undefined;
}

/** Obstacles as sorted, disjoint [lo, hi] intervals, so the scan above is one sweep. */
function mergedIntervals(cidrs: readonly Cidr[]): { lo: bigint; hi: bigint }[] {
  const sorted = cidrs.map((c) => ({ lo: c.base, hi: lastOf(c) })).sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const out: { lo: bigint; hi: bigint }[] = [];
  for (const iv of sorted) {
    const prev = out[out.length - 1];
    if (prev && iv.lo <= prev.hi + 1n) {
      if (iv.hi > prev.hi) prev.hi = iv.hi;
    } else {
      out.push({ ...iv });
    }
  }
  return out;
}

/** The first free subnet over all specs of `family`, in order. */
export function chooseDefaultSubnet(specs: readonly ParsedPoolSpec[], family: Family, obstacles: readonly Cidr[]): Cidr | undefined {
  for (const spec of specs) {
    if (spec.base.family !== family) continue;
    const found = firstFreeSubnet(spec.base, spec.size, obstacles);
    if (found) return found;
  }
  return undefined;
}

/**
 * Host routes as CIDRs, for default pool choice. The default routes (0.0.0.0/0, ::/0) are ignored
 * (they overlap everything); a bare IP is a host route; host bits are masked off. Entries that do
 * not parse are returned in `ignored` so the caller can log them instead of failing.
 */
export function parseHostRoutes(routes: readonly string[]): { routes: Cidr[]; ignored: string[] } {
  const out: Cidr[] = [];
  const ignored: string[] = [];
  for (const text of routes) {
    if (text === 'default') continue;
    let c = tryParseCidr(text);
    if (!c) {
      const ip = tryParseIp(text);
      if (ip) c = { family: ip.family, base: ip.value, prefix: bitsOf(ip.family) };
    }
    if (!c) {
      ignored.push(text);
      continue;
    }
    if (c.prefix === 0) continue;
    const mask = (1n << BigInt(bitsOf(c.family) - c.prefix)) - 1n;
    out.push({ ...c, base: c.base & ~mask });
  }
  return { routes: out, ignored };
}

export const describeSpec = (s: ParsedPoolSpec): string => `${formatCidr(s.base)} in /${s.size}s`;
