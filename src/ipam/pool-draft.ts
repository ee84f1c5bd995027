// One group commit of a pool's allocations, decided in memory (docs/ipam.md, "Group commit").
//
// A PoolDraft reads the pool's records (blocks, full-block list, cursors) through the IPAM's cache
// of what it last read or wrote, lets the allocations of one batch change them in memory one
// after the other, and turns the result into ONE store transaction that compares every record a
// decision rested on (the pool record, each block changed, the full-block list when it changed)
// at the revision it was read at. So a batch commits only if nobody else changed what it looked
// at, exactly like one allocation did before: uniqueness still rests on compare-and-swap alone,
// the cache only saves reads. After a successful commit the cache learns the new revision (every
// key a transaction writes gets the transaction's revision, in etcd and in the embedded store),
// so the next batch of a host allocating alone needs no read at all: one allocation batch is one
// round trip (etcd) or one fdatasync (embedded).

import type { Compare, Store, TxnOp, TxnRequest } from '../store/store.js';

/** A record as last seen: its modRevision (0 = absent) and value. */
export interface CachedRecord {
  rev: number;
  value: unknown;
}

/** What this IPAM knows of one pool's records, keyed by store key. Dropped on any doubt. */
export type RecordCache = Map<string, CachedRecord>;

interface Staged {
  /** undefined = delete. */
  value: unknown;
  /** Revision to compare against; undefined = a hint written without a compare (cursors). */
  compare?: number;
}

export class PoolDraft {
  /** Records read in this draft (the revision its decisions rest on). */
  private readonly seen = new Map<string, CachedRecord>();
  private readonly staged = new Map<string, Staged>();
  /** Records read and not changed whose revision the commit must still compare. */
  private readonly checks = new Set<string>();
  private readonly extraOps: TxnOp[] = [];
  private readonly extraCompares: Compare[] = [];
  /** Some read came from the cache: a refusal (in use, exhausted) must be checked again on a
   *  fresh read before it is given to a caller. */
  usedCache = false;

  constructor(
    private readonly store: Store,
    private readonly cache: RecordCache,
    /** Read every record from the store (and refresh the cache with it). */
    private readonly fresh: boolean,
  ) {}

  /** The record as this batch sees it: its own changes first, then the cache, then the store. */
  async get(key: string): Promise<unknown> {
    const s = this.staged.get(key);
    if (s) return s.value;
    const seen = this.seen.get(key);
    if (seen) return seen.value;
    let rec = this.fresh ? undefined : this.cache.get(key);
    if (rec) this.usedCache = true;
    else {
      const kv = await this.store.get(key);
      rec = { rev: kv?.modRevision ?? 0, value: kv?.value };
      this.cache.set(key, rec);
    }
    this.seen.set(key, rec);
    return rec.value;
  }

  /** Changes a record read before (get), compared at the revision it was read at. */
  set(key: string, value: unknown | undefined): void {
    const seen = this.seen.get(key);
    if (!seen) throw new Error(`pool draft: ${key} written before it was read`);
    this.staged.set(key, { value, compare: seen.rev });
  }

  /** Compares a record read before (get) at that revision without changing it: a change made
   *  elsewhere rests on its value. */
  check(key: string): void {
    if (!this.seen.has(key)) throw new Error(`pool draft: ${key} checked before it was read`);
    this.checks.add(key);
  }

  /** Creates a record that must not exist (a block affinity claimed). */
  create(key: string, value: unknown): void {
    this.staged.set(key, { value, compare: 0 });
  }

  /** Writes a hint without a compare (a round-robin cursor: racing writers only bend the order). */
  hint(key: string, value: unknown): void {
    const prev = this.staged.get(key);
    this.staged.set(key, prev?.compare !== undefined ? { value, compare: prev.compare } : { value });
  }

  /** The caller's own records (AddressRequest.alongside), committed in the same transaction. */
  alongside(ops: TxnOp[], compares: Compare[]): void {
    this.extraOps.push(...ops);
    this.extraCompares.push(...compares);
  }

  /** Takes `key`'s change out of the draft (to write it separately): the value it would have
   *  written, and the value it was read as. */
  unstage(key: string): { value: unknown; seen: unknown } | undefined {
    const s = this.staged.get(key);
    if (!s) return undefined;
    this.staged.delete(key);
    return { value: s.value, seen: this.seen.get(key)?.value };
  }

  /** Whether this draft changes `key`. */
  changes(key: string): boolean {
    return this.staged.has(key);
  }

  get empty(): boolean {
    return this.staged.size === 0 && this.extraOps.length === 0;
  }

  /** Operations and compares so far (to keep a batch within etcd's --max-txn-ops). */
  get size(): number {
    return this.staged.size + this.extraOps.length + this.extraCompares.length;
  }

  /** The one transaction: `pool` is the pool record's key and revision, compared so that an
   *  allocation racing releasePool fails instead of leaving an orphan block. */
  toTxn(pool: { key: string; rev: number }): TxnRequest {
    const compares: Compare[] = [{ key: pool.key, revision: pool.rev }];
    const ops: TxnOp[] = [];
    for (const [key, s] of this.staged) {
      if (s.compare !== undefined) compares.push({ key, revision: s.compare });
      if (s.value === undefined) {
        // Deleting what does not exist is a no-op; the compare above still guards it.
        if (s.compare !== 0) ops.push({ type: 'delete', key });
      } else ops.push({ type: 'put', key, value: s.value });
    }
    for (const key of this.checks) if (!this.staged.has(key)) compares.push({ key, revision: this.seen.get(key)!.rev });
    return { compares: [...compares, ...this.extraCompares], success: [...ops, ...this.extraOps] };
  }

  /** After a successful commit at `revision`: the cache holds what the store now holds. */
  committed(revision: number): void {
    for (const [key, s] of this.staged) {
      // The staged value itself: the IPAM never changes a record value in place (every change
      // is a new object), so a later batch cannot alter what this one committed.
      this.cache.set(key, s.value === undefined ? { rev: 0, value: undefined } : { rev: revision, value: s.value });
    }
  }
}
