// The IPAM errors users see. Kept together so their wording stays consistent; tests and docs
// quote some of them exactly (the exhaustion and overlap forms).

import { ErrorCodes, WeftError } from '../model/errors.js';
import { type Cidr, formatCidr, formatIp, lastOf } from './cidr.js';
import type { HeldAddress, PoolRecord } from './records.js';

/** `domain`: the L2 domain both pools are in, when it is not the host's routing domain. */
export function overlapError(subnet: Cidr, other: PoolRecord, domain?: string): WeftError {
  const whom = other.network ? `network ${JSON.stringify(other.network)} (${other.pool})` : `pool ${other.pool}`;
  const where = domain ? ` on the same L2 domain (${domain}); use another subnet, or another parent or VLAN` : '';
  return new WeftError(ErrorCodes.POOL_OVERLAP, `subnet ${formatCidr(subnet)} overlaps ${whom}${where}`, {
    details: { subnet: formatCidr(subnet), otherPool: other.pool, otherPoolId: other.poolId, otherNetwork: other.network, ...(domain ? { l2domain: domain } : {}) },
  });
}

export function exhaustedError(pool: PoolRecord, usable: bigint): WeftError {
  const where = pool.subPool ? `pool ${pool.pool} (ip-range ${pool.subPool})` : `pool ${pool.pool}`;
  return new WeftError(ErrorCodes.POOL_EXHAUSTED, `${where} is exhausted: ${usable} of ${usable} usable addresses in use`, {
    details: { poolId: pool.poolId, pool: pool.pool, range: pool.subPool ?? pool.pool, usable: Number(usable) },
  });
}

export function holderText(h: HeldAddress): string {
  switch (h.kind) {
    case 'gateway':
      return h.owner ? `the gateway (${JSON.stringify(h.owner)})` : 'the gateway';
    case 'aux':
      return h.owner ? `aux address ${JSON.stringify(h.owner)}` : 'an aux address';
    default:
      return h.owner ? `endpoint ${JSON.stringify(h.owner)}` : 'an endpoint';
  }
}

export function inUseError(address: string, pool: PoolRecord, held: HeldAddress): WeftError {
  return new WeftError(ErrorCodes.ADDRESS_IN_USE, `address ${address} in pool ${pool.pool} is already in use by ${holderText(held)}`, {
    details: { address, poolId: pool.poolId, heldBy: held.owner, kind: held.kind },
  });
}

export function outOfPoolError(address: string, pool: PoolRecord): WeftError {
  return new WeftError(ErrorCodes.ADDRESS_OUT_OF_POOL, `address ${address} is not in pool ${pool.pool}`, {
    details: { address, poolId: pool.poolId },
  });
}

/** For the addresses isReserved() refuses. */
export function reservedError(address: string, pool: PoolRecord, poolCidr: Cidr, value: bigint): WeftError {
  const what =
    poolCidr.family === 6
      ? 'the subnet-router anycast address'
      : value === poolCidr.base
        ? 'the network address'
        : value === lastOf(poolCidr)
          ? 'the broadcast address'
          : 'reserved';
  return new WeftError(ErrorCodes.ADDRESS_OUT_OF_POOL, `address ${address} is ${what} of pool ${pool.pool} and is never handed out`, {
    details: { address, poolId: pool.poolId },
  });
}

export function poolNotFound(poolId: string): WeftError {
  return new WeftError(ErrorCodes.POOL_NOT_FOUND, `no IPAM pool ${JSON.stringify(poolId)}; it was released or never existed`, {
    details: { poolId },
  });
}

export function busyError(what: string, attempts: number): WeftError {
  return new WeftError(ErrorCodes.STORE_CONFLICT, `${what} lost ${attempts} compare-and-swap races in a row; the store is busy, try again`);
}

export const ipText = (c: Cidr, value: bigint): string => formatIp(c.family, value);
