// Strict parsing of the addresses users and Docker hand us, before anything acts on them. Pure.
// (Allocation math lives in src/ipam; this is only "is it well formed, and is it inside that".)

import { isIPv4, isIPv6 } from 'node:net';
import { ErrorCodes, WeftError } from './errors.js';

export interface ParsedCidr {
  family: 4 | 6;
  /** The address as written (host bits may be set: "10.0.0.1/24" is an interface address). */
  ip: string;
  prefix: number;
  /** The address as a number. */
  value: bigint;
}

export function ipFamily(ip: string): 4 | 6 | 0 {
  // Node accepts zone ids (fe80::1%eth0); an address in a pool or on an interface never has one.
  if (typeof ip !== 'string' || ip.includes('%')) return 0;
  return isIPv4(ip) ? 4 : isIPv6(ip) ? 6 : 0;
}

export function ipToBigInt(ip: string): bigint {
  if (isIPv4(ip)) return ip.split('.').reduce((acc, o) => (acc << 8n) + BigInt(Number(o)), 0n);
  if (!isIPv6(ip)) throw new WeftError(ErrorCodes.INVALID_ADDRESS, `${JSON.stringify(ip)} is not an IP address`);
  let s = ip;
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hextets.
  const v4 = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4?.[1]) {
    const n = ipToBigInt(v4[1]);
    s = s.slice(0, -v4[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || '0', 16)), 0n);
}

/** Parses "a.b.c.d/n" or "x::y/n"; throws INVALID_ADDRESS with the offending text. */
export function parseCidr(text: string, what = 'subnet'): ParsedCidr {
  if (typeof text !== 'string') throw new WeftError(ErrorCodes.INVALID_ADDRESS, `${what} must be a string in CIDR form`);
  const m = text.match(/^([^/]+)\/(\d{1,3})$/);
  const ip = m?.[1] ?? '';
  const family = ipFamily(ip);
  const prefix = Number(m?.[2]);
  if (!m || family === 0 || prefix > (family === 4 ? 32 : 128) || (m[2]!.length > 1 && m[2]!.startsWith('0'))) {
    throw new WeftError(ErrorCodes.INVALID_ADDRESS, `invalid ${what} ${JSON.stringify(text)}: expected CIDR like 10.1.0.0/24 or fd00::/64`);
  }
  return { family, ip, prefix, value: ipToBigInt(ip) };
}

/** Parses a bare IP; throws INVALID_ADDRESS. */
export function parseIp(text: string, what = 'address'): { family: 4 | 6; ip: string; value: bigint } {
  const family = typeof text === 'string' ? ipFamily(text) : 0;
  if (family === 0) throw new WeftError(ErrorCodes.INVALID_ADDRESS, `invalid ${what} ${JSON.stringify(text)}: expected an IP address`);
  return { family, ip: text, value: ipToBigInt(text) };
}

/** True when ip (bare) lies inside the cidr's network. */
export function cidrContains(cidr: ParsedCidr, ip: { family: number; value: bigint }): boolean {
  if (cidr.family !== ip.family) return false;
  const bits = BigInt(cidr.family === 4 ? 32 : 128);
  const shift = bits - BigInt(cidr.prefix);
  return cidr.value >> shift === ip.value >> shift;
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrWithin(outer: ParsedCidr, inner: ParsedCidr): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, inner);
}

const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
export function isValidMac(mac: string): boolean {
  return typeof mac === 'string' && MAC_RE.test(mac);
}

/** "10.0.0.5/24" -> "10.0.0.5" */
export function stripPrefix(cidrOrIp: string): string {
  return cidrOrIp.split('/')[0]!;
}
