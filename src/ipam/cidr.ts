// Pure IP and CIDR math over bigint, for both families. Parsing is strict (no leading zeros, no
// zone ids, no shorthand like "10.1"), so what the user typed is either understood exactly or
// refused with a message that says why. Everything here is synchronous and side-effect free.

import { ErrorCodes, WeftError } from '../model/errors.js';

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** First address (the network address when canonical). */
  base: bigint;
  prefix: number;
}

export const bitsOf = (family: Family): number => (family === 4 ? 32 : 128);

const V4_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const V6_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!V4_OCTET.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseV6Groups(text: string): bigint[] | undefined {
  if (text === '') return [];
  const groups: bigint[] = [];
  const parts = text.split(':');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    // An embedded IPv4 tail ("::ffff:10.0.0.1") counts as two groups.
    if (i === parts.length - 1 && part.includes('.')) {
      const v4 = parseV4(part);
      if (v4 === undefined) return undefined;
      groups.push(v4 >> 16n, v4 & 0xffffn);
      continue;
    }
    if (!V6_GROUP.test(part)) return undefined;
    groups.push(BigInt(parseInt(part, 16)));
  }
  return groups;
}

function parseV6(text: string): bigint | undefined {
  if (text.includes('%')) return undefined; // zone ids make no sense in a pool
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  let groups: bigint[];
  if (halves.length === 2) {
    const head = parseV6Groups(halves[0]!);
    const tail = parseV6Groups(halves[1]!);
    if (!head || !tail) return undefined;
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<bigint>(missing).fill(0n), ...tail];
  } else {
    const all = parseV6Groups(text);
    if (!all) return undefined;
    groups = all;
  }
  if (groups.length !== 8) return undefined;
  return groups.reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** Parses a bare IP; undefined when it is not one. */
export function tryParseIp(text: string): { family: Family; value: bigint } | undefined {
  if (typeof text !== 'string') return undefined;
  if (text.includes(':')) {
    const value = parseV6(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseV4(text);
  return value === undefined ? undefined : { family: 4, value };
}

/** Parses a bare IP or throws INVALID_ADDRESS naming `what` ("address", "gateway"...). */
export function parseIp(text: string, what = 'address'): { family: Family; value: bigint } {
  const ip = tryParseIp(text);
  if (!ip) {
    throw new WeftError(ErrorCodes.INVALID_ADDRESS, `invalid ${what} ${JSON.stringify(text)}: not an IPv4 or IPv6 address`);
  }
  return ip;
}

export function formatIp(family: Family, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((value >> s) & 0xffn).toString()).join('.');
  }
  const groups: number[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(Number((value >> s) & 0xffffn));
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

export const formatCidr = (c: Cidr): string => `${formatIp(c.family, c.base)}/${c.prefix}`;

export function hostMask(c: Pick<Cidr, 'family' | 'prefix'>): bigint {
  return (1n << BigInt(bitsOf(c.family) - c.prefix)) - 1n;
}

/** Number of addresses in the CIDR. */
export const sizeOf = (c: Pick<Cidr, 'family' | 'prefix'>): bigint => hostMask(c) + 1n;

export const lastOf = (c: Cidr): bigint => c.base + hostMask(c);

export const isCanonical = (c: Cidr): boolean => (c.base & hostMask(c)) === 0n;

export const canonical = (c: Cidr): Cidr => ({ ...c, base: c.base & ~hostMask(c) });

/** Parses "IP/PREFIX"; undefined when it is not one. Host bits are kept as typed. */
export function tryParseCidr(text: string): Cidr | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  if (slash < 0 || slash !== text.lastIndexOf('/')) return undefined;
  const ip = tryParseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > bitsOf(ip.family)) return undefined;
  return { family: ip.family, base: ip.value, prefix };
}

/**
 * Parses a subnet that must be canonical. "10.0.0.1/24" is refused (as Docker 25+ does) rather
 * than silently turned into 10.0.0.0/24: the user may have meant a gateway, and guessing hides it.
 */
export function parseSubnet(text: string, what = 'subnet'): Cidr {
  const c = tryParseCidr(text);
  if (!c) {
    throw new WeftError(
      ErrorCodes.INVALID_ADDRESS,
      `invalid ${what} ${JSON.stringify(text)}: expected an IPv4 or IPv6 CIDR such as 10.1.0.0/24 or fd00:1::/64`,
    );
  }
  if (!isCanonical(c)) {
    throw new WeftError(
      ErrorCodes.INVALID_ADDRESS,
      `invalid ${what} ${text}: host bits are set; did you mean ${formatCidr(canonical(c))}?`,
    );
  }
  return c;
}

export function contains(outer: Cidr, ip: { family: Family; value: bigint }): boolean {
  return outer.family === ip.family && ip.value >= outer.base && ip.value <= lastOf(outer);
}

/** True when `inner` lies entirely inside `outer`. */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && inner.prefix >= outer.prefix && inner.base >= outer.base && lastOf(inner) <= lastOf(outer);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base <= lastOf(b) && b.base <= lastOf(a);
}

/** The smallest multiple of `step` that is >= value. */
export function alignUp(value: bigint, step: bigint): bigint {
  const rem = value % step;
  return rem === 0n ? value : value + (step - rem);
}

export const sameCidr = (a: Cidr, b: Cidr): boolean => a.family === b.family && a.base === b.base && a.prefix === b.prefix;
