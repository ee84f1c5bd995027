// Read-modify-write of one key with compare-and-swap: read the key, compute the new value, write
// it only if nobody changed the key in between, otherwise read again and retry. This is how IPAM
// and the controller update shared records without a lock that spans processes or hosts.

import { ErrorCodes, WeftError, isWeftError } from '../model/errors.js';
import type { KeyValue, Store } from './store.js';

/** Returned by an update function to leave the key as it is (no write, no new revision). */
export const KEEP: unique symbol = Symbol('weft.store.keep');
/** Returned by an update function to delete the key. */
export const REMOVE: unique symbol = Symbol('weft.store.remove');

export type UpdateFn<T> = (
  current: T | undefined,
  kv: KeyValue<T> | undefined,
) => T | typeof KEEP | typeof REMOVE | Promise<T | typeof KEEP | typeof REMOVE>;

export interface UpdateOptions {
  /** Attempts after the first one that lost a race. Default 20. */
  retries?: number;
  /** Upper bound of the random pause before a retry, in ms; it grows with each attempt up to
   *  this value. Spreading retries keeps many concurrent writers from colliding forever. Default 20. */
  maxBackoffMs?: number;
}

export interface UpdateResult<T> {
  /** The value after the update (undefined when the key was removed or is absent). */
  value: T | undefined;
  /** modRevision of the key after the update (0 when it is absent). */
  revision: number;
  /** Whether this call wrote anything. */
  changed: boolean;
  /** How many attempts it took (1 = no conflict). */
  attempts: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Applies `fn` to the key's current value and writes the result with compare-and-swap, retrying
 * on STORE_CONFLICT. `fn` may run more than once, so it must not have side effects beyond
 * computing the value. Errors thrown by `fn` are passed through unchanged (no retry).
 */
export async function updateKey<T>(store: Store, key: string, fn: UpdateFn<T>, opts: UpdateOptions = {}): Promise<UpdateResult<T>> {
  const retries = opts.retries ?? 20;
  const maxBackoff = opts.maxBackoffMs ?? 20;
  if (!Number.isSafeInteger(retries) || retries < 0) throw new RangeError(`retries must be a non-negative integer, got ${retries}`);

  for (let attempt = 1; ; attempt++) {
    const kv = await store.get<T>(key);
    const curRev = kv?.modRevision ?? 0;
    const next = await fn(kv?.value, kv);
    try {
      if (next === KEEP) return { value: kv?.value, revision: curRev, changed: false, attempts: attempt };
      if (next === REMOVE) {
        if (!kv) return { value: undefined, revision: 0, changed: false, attempts: attempt };
        await store.delete(key, { expectRevision: curRev });
        return { value: undefined, revision: 0, changed: true, attempts: attempt };
      }
      const revision = await store.put(key, next, { expectRevision: curRev });
      return { value: next, revision, changed: true, attempts: attempt };
    } catch (e) {
      if (!isWeftError(e, ErrorCodes.STORE_CONFLICT)) throw e;
      if (attempt > retries) {
        throw new WeftError(
          ErrorCodes.STORE_CONFLICT,
          `store key ${JSON.stringify(key)} kept changing: gave up after ${attempt} attempts; try again`,
          { cause: e, details: { key, attempts: attempt } },
        );
      }
      await sleep(Math.random() * Math.min(maxBackoff, attempt * 2));
    }
  }
}
