// IPv6 pools when the user gives no subnet: a Unique Local Address /48 per host (RFC 4193:
// fd00::/8 plus a 40-bit random Global ID), made once and kept in the store, from which /64s are
// handed out in order. Random so two hosts (or two labs) almost never pick the same prefix.

import { type Cidr } from './cidr.js';

export const ULA_PREFIX_LENGTH = 48;
export const ULA_POOL_SIZE = 64;

/** The /48 for a 5-byte random Global ID. */
export function ulaPrefixFromGlobalId(globalId: Uint8Array): Cidr {
  if (globalId.length !== 5) throw new RangeError('a ULA Global ID is 40 bits (5 bytes)');
  let value = 0xfdn;
  for (const byte of globalId) value = (value << 8n) | BigInt(byte);
  return { family: 6, base: value << 80n, prefix: ULA_PREFIX_LENGTH };
}

/** True for a canonical fdXX:XXXX:XXXX::/48. */
export function isUlaPrefix(c: Cidr): boolean {
  return c.family === 6 && c.prefix === ULA_PREFIX_LENGTH && c.base >> 120n === 0xfdn && (c.base & ((1n << 80n) - 1n)) === 0n;
}
