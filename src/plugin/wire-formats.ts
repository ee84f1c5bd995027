// Address formats as they appear on Docker's plugin wire: bare IPs, CIDRs ("10.50.0.7/16",
// always with the pool's prefix length, so host bits are usually set), colon-hex MACs.
// Pure checks built on node:net; the CIDR *math* (containment, canonical form) belongs to
// src/ipam and the controller, which need it for the CLI's input too.

import { isIP } from 'node:net';

export type Family = 4 | 6;

/** 4 or 6 for a bare IP, 0 for anything else (zones like "fe80::1%eth0" are refused: Docker never
 *  sends them and the kernel address calls would not take them). */
export function ipFamily(s: string): 0 | Family {
  if (s.includes('%')) return 0;
  return isIP(s) as 0 | Family;
}

export interface ParsedCidr {
  ip: string;
  prefix: number;
  family: Family;
}

/** "10.50.0.7/16" -> {ip, prefix, family}; undefined when it is not an IP with a prefix length. */
export function parseCidr(s: string): ParsedCidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = s.slice(0, slash);
  const len = s.slice(slash + 1);
  const family = ipFamily(ip);
  if (family === 0 || !/^\d{1,3}$/.test(len)) return undefined;
  const prefix = Number(len);
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  return { ip, prefix, family };
}

/** Family of a CIDR or a bare IP; 0 if it is neither. */
export function ipOrCidrFamily(s: string): 0 | Family {
  return s.includes('/') ? (parseCidr(s)?.family ?? 0) : ipFamily(s);
}

/** "10.50.0.1/16" -> "10.50.0.1"; a bare IP is returned unchanged. */
export function bareIp(s: string): string {
  const slash = s.indexOf('/');
  return slash < 0 ? s : s.slice(0, slash);
}

/** Colon-hex, six bytes ("02:42:ac:11:00:02"): the form Docker parses in responses. */
export function isMac(s: string): boolean {
  return /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s);
}
