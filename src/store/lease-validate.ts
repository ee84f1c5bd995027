// Lease input checks and errors shared by every Store implementation (like validate.ts for keys),
// so that the embedded store and etcd accept the same TTLs and lease ids and fail the same way.

import { ErrorCodes, WeftError } from '../model/errors.js';
import type { LeaseId } from './store.js';

/**
 * Longest lease accepted, in seconds (about 11.5 days). Leases are for liveness (a host's
 * registration, refreshed every few seconds), so a long one is almost surely a unit mistake; the
 * cap also keeps the embedded store's timer inside setTimeout's 24.8-day range.
 */
export const MAX_LEASE_TTL_SECONDS = 1_000_000;

/** etcd lease ids are positive int64s; 0 means "no lease" there, so it is never a valid id. */
const MAX_INT64 = 2n ** 63n - 1n;

/** A TTL given to grantLease: whole seconds, 1 to MAX_LEASE_TTL_SECONDS. */
export function validateTtl(ttlSeconds: unknown): number {
  if (typeof ttlSeconds !== 'number' || !Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_LEASE_TTL_SECONDS) {
    throw new WeftError(
      ErrorCodes.BAD_REQUEST,
      `lease TTL must be whole seconds from 1 to ${MAX_LEASE_TTL_SECONDS}, got ${JSON.stringify(ttlSeconds) ?? String(ttlSeconds)}`,
    );
  }
  return ttlSeconds;
}

/** A lease id given back by a caller (PutOptions.lease): a positive int64 in decimal. */
export function validateLeaseId(id: unknown): LeaseId {
  if (typeof id !== 'string' || !/^[1-9][0-9]{0,18}$/.test(id) || BigInt(id) > MAX_INT64) {
    throw new WeftError(
      ErrorCodes.BAD_REQUEST,
      `lease id must be a positive integer in decimal (as grantLease returns it), got ${JSON.stringify(id) ?? String(id)}`,
    );
  }
  return id;
}

/** The error for a lease that expired or was revoked (or never existed in this store). */
export function leaseExpiredError(id: LeaseId): WeftError {
  return new WeftError(ErrorCodes.STORE_LEASE_EXPIRED, `store lease ${id} has expired or was revoked: grant a new lease and write its keys again`, {
    details: { lease: id },
  });
}
