// The Store contract. Two implementations: the embedded one (src/store/local-store.ts, default,
// `--store local`) and etcd (`--store etcd://...`, multi-host issue). Both pass the same contract
// suite (test/contract/store-contract.ts). Semantics follow etcd v3 so the two can agree:
//
// - every write bumps one store-wide revision counter; a key remembers the revision that created
//   it (createRevision) and the one that last modified it (modRevision);
// - compare-and-swap compares a key's modRevision; `expectRevision: 0` means "must not exist";
// - a transaction checks all its compares, then applies all its ops atomically, or none;
// - watch delivers every change under a prefix, in revision order, optionally starting after a
//   given revision (so a watcher can resume without missing events).
//
// Values are JSON-compatible data. Keys are strings without a leading slash ("networks/abc");
// the implementation adds its own prefix (etcd: --etcd-prefix).
//
// Rules both implementations share (src/store/validate.ts; the contract suite checks them):
// - a key is a non-empty string without NUL, at most 1,024 bytes of UTF-8; a bad key, a value with
//   no JSON form, or a malformed request fails with BAD_REQUEST and changes nothing;
// - values round-trip through JSON: `get` returns a copy equal to JSON.parse(JSON.stringify(v));
// - keys sort by their UTF-8 bytes (list order, as in etcd);
// - like etcd, one branch of a transaction may not put a key twice or put a key it also deletes;
// - a CAS that loses throws STORE_CONFLICT naming the key and both revisions;
// - a watch that asks to resume from a revision the store has forgotten throws STORE_COMPACTED:
//   read revision(), list the prefix, then watch from that revision (a change made in between may
//   arrive both in the list and as an event, so apply events idempotently);
// - watch callbacks run asynchronously (never inside the write), one event at a time per watcher.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export interface KeyValue<T = unknown> {
  key: string;
  value: T;
  /** Store revision of the write that created this key (since it last did not exist). */
  createRevision: number;
  /** Store revision of the last write to this key. */
  modRevision: number;
}

export interface PutOptions {
  /** Only write if the key's modRevision equals this; 0 = only if the key does not exist. */
  expectRevision?: number;
  /** Attach the key to a lease: it is deleted when the lease expires or is revoked. */
  lease?: LeaseId;
}

export interface DeleteOptions {
  /** Only delete if the key's modRevision equals this. */
  expectRevision?: number;
}

/** A condition of a transaction: the key's modRevision must equal `revision` (0 = absent). */
export interface Compare {
  key: string;
  revision: number;
}

export type TxnOp =
  | { type: 'put'; key: string; value: unknown }
  | { type: 'delete'; key: string }
  | { type: 'deletePrefix'; prefix: string };

export interface TxnRequest {
  compares: Compare[];
  success: TxnOp[];
  failure?: TxnOp[];
}

export interface TxnResult {
  succeeded: boolean;
  /** Store revision after the transaction (unchanged if it wrote nothing). */
  revision: number;
}

export interface WatchEvent<T = unknown> {
  type: 'put' | 'delete';
  key: string;
  /** The new value for put; the last value for delete when known. */
  value?: T;
  /** Revision of the write that made this event. */
  revision: number;
}

export interface WatchOptions {
  /** Deliver events with revision > afterRevision (replaying history the store still has). */
  afterRevision?: number;
}

export interface Watcher {
  /** Stops delivery. Idempotent. */
  cancel(): Promise<void>;
}

/** etcd lease ids are 64-bit integers; carried as decimal strings so JSON and JS numbers stay exact. */
export type LeaseId = string;

export interface Lease {
  readonly id: LeaseId;
  readonly ttlSeconds: number;
  /** Refreshes the lease once. Throws WeftError STORE_LEASE_EXPIRED when the lease is gone. */
  keepAlive(): Promise<void>;
  /** Ends the lease now; its keys are deleted. Idempotent. */
  revoke(): Promise<void>;
}

export interface Store {
  readonly scope: 'local' | 'global';

  get<T = unknown>(key: string): Promise<KeyValue<T> | undefined>;

  /** Writes a value. Returns the new modRevision. Throws WeftError STORE_CONFLICT when the
   *  expectRevision compare fails. */
  put(key: string, value: unknown, opts?: PutOptions): Promise<number>;

  /** Deletes a key. Returns false when the key did not exist. Throws STORE_CONFLICT when the
   *  expectRevision compare fails (an absent key fails any expectRevision other than 0). */
  delete(key: string, opts?: DeleteOptions): Promise<boolean>;

  /** Every key under the prefix, sorted by key. */
  list<T = unknown>(prefix: string): Promise<KeyValue<T>[]>;

  /** Atomic multi-key compare-and-swap. */
  txn(req: TxnRequest): Promise<TxnResult>;

  /** Current store revision. */
  revision(): Promise<number>;

  /** Calls onEvent for every change under prefix until cancelled. */
  watch(prefix: string, onEvent: (ev: WatchEvent) => void, opts?: WatchOptions): Promise<Watcher>;

  /** A lease of ttlSeconds (etcd semantics: keys put with it are deleted when it expires). */
  grantLease(ttlSeconds: number): Promise<Lease>;

  /** Flushes and closes. Further calls fail with STORE_UNAVAILABLE. */
  close(): Promise<void>;
}

/** Injection token for the Store. */
export const StoreToken = Symbol.for('weft.Store');
