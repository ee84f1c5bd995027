// The embedded store (`--store local`, the default): the Store contract of store.ts on LMDB, in a
// directory under weftd's --state-dir. docs/store.md says why LMDB and why these settings.
//
// Layout inside the LMDB environment:
//   sub-database "kv":   key (UTF-8 bytes, so keys sort like etcd's) -> {"c":createRev,"m":modRev,"v":value}
//   sub-database "meta": "revision" -> the store-wide revision counter, as decimal text;
//                        "lease-counter" -> the last lease id handed out (ids are never reused)
//   sub-database "leases": "<id>" -> the lease's TTL in seconds, and "<id>\0<key>" -> "" for each
//                        key attached to it (keys never contain NUL), so expiry finds its keys
//                        without a scan; a record of a leased key also names its lease ("l")
//
// Every write is one synchronous LMDB transaction (transactionSync): the compare, the revision bump
// and the change commit together or not at all, and the commit has been fdatasync'ed to disk
// before the call returns, so a resolved promise means durable. A CAS check and its write run
// without yielding to the event loop, so callers in this process need no lock of their own.
//
// Leases (store.ts, etcd semantics) live in this process: a timer per lease, refreshed by
// keepAlive; expiry or revoke deletes the lease's keys in one transaction (one revision, one
// delete event per key). Only the Lease object that granted a lease can refresh it, and that
// object dies with the process, so on open every lease of an earlier run is over: its keys are
// deleted before the store is handed out (docs/store.md, "Leases").

import { mkdirSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { ABORT, open, type Database, type RootDatabase, type RootDatabaseOptionsWithPath } from 'lmdb';
import { ErrorCodes, WeftError, isWeftError } from '../model/errors.js';
import { leaseExpiredError, validateLeaseId, validateTtl } from './lease-validate.js';
import type {
  DeleteOptions,
  KeyValue,
  Lease,
  LeaseId,
  PutOptions,
  Store,
  TxnRequest,
  TxnResult,
  WatchEvent,
  WatchOptions,
  Watcher,
} from './store.js';
import {
  conflictError,
  encodeValue,
  validateKey,
  validatePrefix,
  validateRevision,
  validateTxn,
  type CheckedOp,
} from './validate.js';
import { WatchHub, type ChangeRecord } from './watch-hub.js';

/**
 * LMDB settings, shared with anything else that opens the same directory (tests). Chosen for
 * durability first (docs/store.md, "Durability"):
 * - overlappingSync off: a commit is flushed (fdatasync) before it returns, classic LMDB; with it
 *   on, a commit could be visible before it is on disk and recovery relies on a boot-id check.
 * - noSync / noMetaSync off: never skip the flush of data or of the meta page.
 * - useWritemap off: pages are written with write(2), so a stray pointer cannot scribble on the map.
 * - noSubdir off: the path is always a directory, even if its name contains a dot.
 * - cache off: every read comes from the committed database, never from a JS-side copy.
 */
export const LMDB_OPTIONS = Object.freeze({
  noSubdir: false,
  overlappingSync: false,
  noSync: false,
  noMetaSync: false,
  useWritemap: false,
  cache: false,
  maxDbs: 4,
} satisfies RootDatabaseOptionsWithPath);

export const KV_DB = 'kv';
export const META_DB = 'meta';
export const LEASES_DB = 'leases';
export const REVISION_KEY = 'revision';
export const LEASE_COUNTER_KEY = 'lease-counter';

export interface LocalStoreOptions {
  /** Directory of the store, created if missing (e.g. /var/lib/weft/store). */
  path: string;
  /** Open an existing store for reading only; writes fail with STORE_UNAVAILABLE. */
  readOnly?: boolean;
  /** Changes kept in memory for watch resume (afterRevision). Default 10,000. */
  historyLimit?: number;
  /** ...and at most this many characters of keys and values in it. Default 2,000,000. */
  historyChars?: number;
  /** Called when a watch callback throws (default: a process warning). */
  onWatchError?: (err: unknown, prefix: string) => void;
}

interface StoredRecord {
  c: number;
  m: number;
  /** The lease the key is attached to, if any. */
  l?: LeaseId;
  v: unknown;
}

/** Lease bookkeeping keys: the lease itself, and one entry per attached key. */
const leaseEntryKey = (id: LeaseId): Buffer => Buffer.from(id, 'utf8');
const leaseIndexKey = (id: LeaseId, key: string): Buffer => Buffer.from(`${id}\0${key}`, 'utf8');

function unavailable(message: string, cause?: unknown, details?: Record<string, unknown>): WeftError {
  return new WeftError(ErrorCodes.STORE_UNAVAILABLE, message, { cause, details });
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const keyBytes = (key: string): Buffer => Buffer.from(key, 'utf8');

/** Opens (creating if needed) the embedded store in a directory. */
export async function openLocalStore(opts: LocalStoreOptions): Promise<LocalStore> {
  if (typeof opts?.path !== 'string' || opts.path.length === 0) {
    throw new WeftError(ErrorCodes.BAD_REQUEST, 'local store path must be a non-empty string');
  }
  const path = resolvePath(opts.path);
  const readOnly = opts.readOnly === true;
  try {
    // LMDB would create the directory itself, but we want our own message and a private mode.
    if (!readOnly) mkdirSync(path, { recursive: true, mode: 0o700 });
    const st = statSync(path);
    if (!st.isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw unavailable(`cannot open store at ${path}: ${reason(e)}`, e, { path });
  }

  let root: RootDatabase | undefined;
  try {
    root = open({ ...LMDB_OPTIONS, path, readOnly });
    const kv = root.openDB<string, Buffer>(KV_DB, { encoding: 'string', keyEncoding: 'binary' });
    const meta = root.openDB<string, string>(META_DB, { encoding: 'string' });
    // A reader never touches leases (and lmdb cannot open a sub-database read-only before a
    // writer has created it).
    const leases = readOnly ? undefined : root.openDB<string, Buffer>(LEASES_DB, { encoding: 'string', keyEncoding: 'binary' });
    const store = new LocalStore(path, readOnly, root, kv, meta, leases, opts);
    return store;
  } catch (e) {
    try {
      await root?.close();
    } catch {
      // already failing; the first error is the one to report
    }
    if (isWeftError(e)) throw e;
    throw unavailable(`cannot open store at ${path}: ${reason(e)}`, e, { path });
  }
}

export class LocalStore implements Store {
  readonly scope = 'local' as const;
  private closed = false;
  private readonly hub: WatchHub;
  /** Live leases of this process: the timer that ends each one unless keepAlive comes first. */
  private readonly liveLeases = new Map<LeaseId, { ttl: number; timer: NodeJS.Timeout }>();

  /** Use openLocalStore(). */
  constructor(
    readonly path: string,
    readonly readOnly: boolean,
    private readonly root: RootDatabase,
    private readonly kv: Database<string, Buffer>,
    private readonly meta: Database<string, string>,
    private readonly leases: Database<string, Buffer> | undefined,
    opts: Pick<LocalStoreOptions, 'historyLimit' | 'historyChars' | 'onWatchError'>,
  ) {
    this.hub = new WatchHub({
      startRevision: this.readRevision(),
      historyLimit: opts.historyLimit,
      historyChars: opts.historyChars,
      onCallbackError: opts.onWatchError,
    });
    if (!readOnly) this.dropLeasesOfEarlierRuns();
  }

  async get<T = unknown>(key: string): Promise<KeyValue<T> | undefined> {
    this.checkOpen('get');
    const k = validateKey(key);
    const rec = this.readRecord(k);
    return rec && { key: k, value: rec.v as T, createRevision: rec.c, modRevision: rec.m };
  }

  async put(key: string, value: unknown, opts: PutOptions = {}): Promise<number> {
    this.checkWritable('put');
    const k = validateKey(key);
    const json = encodeValue(k, value);
    const expect = opts.expectRevision === undefined ? undefined : validateRevision('expectRevision', opts.expectRevision);
    const lease = opts.lease === undefined ? undefined : validateLeaseId(opts.lease);
    return this.writeBatched((w) => {
      const cur = this.readRecord(k);
      // Compare first, then the lease, as etcd does: a lost compare is a conflict either way.
      if (expect !== undefined && (cur?.m ?? 0) !== expect) throw conflictError(k, expect, cur?.m ?? 0);
      if (lease !== undefined && !this.liveLeases.has(lease)) throw leaseExpiredError(lease);
      const rev = w.revision();
      this.writeRecord(k, cur ? cur.c : rev, rev, json, lease);
      this.relinkLease(k, cur?.l, lease);
      w.changes.push({ type: 'put', key: k, json, revision: rev });
      return rev;
    });
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<boolean> {
    this.checkWritable('delete');
    const k = validateKey(key);
    const expect = opts.expectRevision === undefined ? undefined : validateRevision('expectRevision', opts.expectRevision);
    return this.writeBatched((w) => {
      const cur = this.readRawRecord(k);
      const actual = cur ? (JSON.parse(cur) as StoredRecord).m : 0;
      if (expect !== undefined && actual !== expect) throw conflictError(k, expect, actual);
      if (cur === undefined) return false;
      this.removeRecord(w, k, cur);
      return true;
    });
  }

  async list<T = unknown>(prefix: string): Promise<KeyValue<T>[]> {
    this.checkOpen('list');
    const p = validatePrefix(prefix);
    return this.scan(p).map(({ key, raw }) => {
      const rec = JSON.parse(raw) as StoredRecord;
      return { key, value: rec.v as T, createRevision: rec.c, modRevision: rec.m };
    });
  }

  async txn(req: TxnRequest): Promise<TxnResult> {
    this.checkWritable('txn');
    const checked = validateTxn(req);
    return this.writeBatched((w) => {
      const succeeded = checked.compares.every((c) => (this.readRecord(c.key)?.m ?? 0) === c.revision);
      for (const op of succeeded ? checked.success : checked.failure) this.apply(w, op);
      return { succeeded, revision: w.changes.length > 0 ? w.revision() : this.readRevision() };
    });
  }

  async revision(): Promise<number> {
    this.checkOpen('revision');
    return this.readRevision();
  }

  async watch(prefix: string, onEvent: (ev: WatchEvent) => void, opts: WatchOptions = {}): Promise<Watcher> {
    this.checkOpen('watch');
    const p = validatePrefix(prefix);
    if (typeof onEvent !== 'function') throw new WeftError(ErrorCodes.BAD_REQUEST, 'watch needs an event callback');
    const after = opts.afterRevision === undefined ? undefined : validateRevision('afterRevision', opts.afterRevision);
    return this.hub.subscribe(p, onEvent, after);
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    this.checkWritable('grantLease');
    const ttl = validateTtl(ttlSeconds);
    // Granting is bookkeeping, not a change of keys: like etcd, it costs no revision.
    const id = this.write((w) => {
      const last = Number(this.meta.get(LEASE_COUNTER_KEY) ?? '0');
      const next = String(last + 1);
      this.meta.putSync(LEASE_COUNTER_KEY, next);
      this.leaseDb().putSync(leaseEntryKey(next), String(ttl));
      w.touch();
      return next;
    });
    this.liveLeases.set(id, { ttl, timer: this.expiryTimer(id, ttl) });
    return Object.freeze({
      id,
      ttlSeconds: ttl,
      keepAlive: async () => this.keepAliveLease(id),
      revoke: async () => this.revokeLease(id),
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const { timer } of this.liveLeases.values()) clearTimeout(timer);
    this.liveLeases.clear();
    this.hub.close();
    try {
      await this.root.close();
    } catch (e) {
      throw unavailable(`closing store at ${this.path} failed: ${reason(e)}`, e, { path: this.path });
    }
  }

  /** Oldest revision that watch({afterRevision}) can still resume after. */
  get oldestResumableRevision(): number {
    return this.hub.oldestResumableRevision;
  }

  // ---- internals ----------------------------------------------------------------------------

  private checkOpen(op: string): void {
    if (this.closed) throw unavailable(`store at ${this.path} is closed (${op})`, undefined, { path: this.path });
  }

  private checkWritable(op: string): void {
    this.checkOpen(op);
    if (this.readOnly) throw unavailable(`store at ${this.path} is open read-only (${op})`, undefined, { path: this.path });
  }

  private readRevision(): number {
    const text = this.meta.get(REVISION_KEY);
    if (text === undefined) return 0;
    const rev = Number(text);
    if (!Number.isSafeInteger(rev) || rev < 0) {
      throw unavailable(`store at ${this.path} is damaged: revision counter reads ${JSON.stringify(text)}`, undefined, { path: this.path });
    }
    return rev;
  }

  private readRawRecord(key: string): string | undefined {
    return this.kv.get(keyBytes(key));
  }

  private readRecord(key: string): StoredRecord | undefined {
    const raw = this.readRawRecord(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as StoredRecord);
  }

  private writeRecord(key: string, createRev: number, modRev: number, json: string, lease?: LeaseId): void {
    // Built by hand from the already-encoded value: no second JSON.stringify of user data. The
    // lease id is digits only (validateLeaseId), so it needs no escaping.
    const l = lease === undefined ? '' : `"l":"${lease}",`;
    this.kv.putSync(keyBytes(key), `{"c":${createRev},"m":${modRev},${l}"v":${json}}`);
  }

  private removeRecord(w: WriteScope, key: string, raw: string): void {
    this.kv.removeSync(keyBytes(key));
    // The last value goes with the delete event ("v" is the tail of the record we wrote).
    const rec = JSON.parse(raw) as StoredRecord;
    if (rec.l !== undefined) this.leaseDb().removeSync(leaseIndexKey(rec.l, key));
    w.changes.push({ type: 'delete', key, json: JSON.stringify(rec.v), revision: w.revision() });
  }

  /** Moves a key's entry in the lease index (a put without a lease detaches it, as in etcd). */
  private relinkLease(key: string, from: LeaseId | undefined, to: LeaseId | undefined): void {
    if (from === to) return;
    if (from !== undefined) this.leaseDb().removeSync(leaseIndexKey(from, key));
    if (to !== undefined) this.leaseDb().putSync(leaseIndexKey(to, key), '');
  }

  private leaseDb(): Database<string, Buffer> {
    // Only writers open it, and only writers get here (checkWritable runs first).
    if (!this.leases) throw unavailable(`store at ${this.path} is open read-only (leases)`, undefined, { path: this.path });
    return this.leases;
  }

  private expiryTimer(id: LeaseId, ttl: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.expireLease(id), ttl * 1000);
    // A lease must not keep the process alive on its own (weftd has its sockets for that).
    timer.unref();
    return timer;
  }

  private expireLease(id: LeaseId): void {
    if (this.closed) return;
    try {
      this.endLease(id);
    } catch (e) {
      // The lease stays live, so its keys are not lost track of; try again shortly.
      process.emitWarning(`expiring store lease ${id} at ${this.path} failed: ${reason(e)}; retrying`, 'WeftStoreLease');
      const live = this.liveLeases.get(id);
      if (live) {
        clearTimeout(live.timer);
        live.timer = setTimeout(() => this.expireLease(id), 1_000);
        live.timer.unref();
      }
    }
  }

  private async keepAliveLease(id: LeaseId): Promise<void> {
    this.checkWritable('keepAlive');
    const live = this.liveLeases.get(id);
    if (!live) throw leaseExpiredError(id);
    clearTimeout(live.timer);
    live.timer = this.expiryTimer(id, live.ttl);
  }

  private async revokeLease(id: LeaseId): Promise<void> {
    this.checkWritable('revoke');
    this.endLease(id);
  }

  /** Deletes a live lease and its keys in one transaction; a lease already over is a no-op. */
  private endLease(id: LeaseId): void {
    const live = this.liveLeases.get(id);
    if (!live) return;
    this.write((w) => this.dropLease(w, id));
    clearTimeout(live.timer);
    this.liveLeases.delete(id);
  }

  /** Removes a lease, its index and every key still attached to it, inside a write. */
  private dropLease(w: WriteScope, id: LeaseId): void {
    const db = this.leaseDb();
    const start = leaseIndexKey(id, '');
    const attached: string[] = [];
    for (const { key } of db.getRange({ start })) {
      const kb = key as Buffer;
      if (kb.length < start.length || kb.compare(start, 0, start.length, 0, start.length) !== 0) break;
      attached.push(kb.subarray(start.length).toString('utf8'));
    }
    for (const key of attached) {
      const raw = this.readRawRecord(key);
      // removeRecord also drops the index entry; a stale entry (the key moved on) goes by itself.
      if (raw !== undefined && (JSON.parse(raw) as StoredRecord).l === id) this.removeRecord(w, key, raw);
      else db.removeSync(leaseIndexKey(id, key));
    }
    db.removeSync(leaseEntryKey(id));
    w.touch();
  }

  /** On open: every lease in the database belongs to an earlier process, so it is over. */
  private dropLeasesOfEarlierRuns(): void {
    const ids = new Set<LeaseId>();
    for (const { key } of this.leaseDb().getRange({})) {
      const text = (key as Buffer).toString('utf8');
      const nul = text.indexOf('\0');
      ids.add(nul === -1 ? text : text.slice(0, nul));
    }
    if (ids.size === 0) return;
    this.write((w) => {
      for (const id of ids) this.dropLease(w, id);
    });
  }

  /** Keys under a prefix, in byte order (UTF-8), read in the current transaction if any. */
  private scan(prefix: string): { key: string; raw: string }[] {
    const start = keyBytes(prefix);
    const out: { key: string; raw: string }[] = [];
    for (const { key, value } of this.kv.getRange({ start })) {
      const kb = key as Buffer;
      // Byte order keeps every key with this prefix together, so the first miss ends the scan.
      if (kb.length < start.length || kb.compare(start, 0, start.length, 0, start.length) !== 0) break;
      out.push({ key: kb.toString('utf8'), raw: value });
    }
    return out;
  }

  private apply(w: WriteScope, op: CheckedOp): void {
    switch (op.type) {
      case 'put': {
        const cur = this.readRecord(op.key);
        const rev = w.revision();
        this.writeRecord(op.key, cur ? cur.c : rev, rev, op.json);
        this.relinkLease(op.key, cur?.l, undefined);
        w.changes.push({ type: 'put', key: op.key, json: op.json, revision: rev });
        break;
      }
      case 'delete': {
        const raw = this.readRawRecord(op.key);
        if (raw !== undefined) this.removeRecord(w, op.key, raw);
        break;
      }
      case 'deletePrefix':
        for (const { key, raw } of this.scan(op.prefix)) this.removeRecord(w, key, raw);
        break;
    }
  }

  /**
   * `write` for the operations callers make (put, delete, txn): `fn` runs in a child transaction
   * of the next batched LMDB write transaction, so writes that arrive together share one commit
   * and one fdatasync, and the flush runs on LMDB's writer thread instead of blocking the event
   * loop (it blocked it for 1-12 ms per write on this machine: issue 8, eight clients attaching at
   * once). Same guarantees: the compare and the change are atomic (a throw or an empty change
   * aborts only this child), one revision per call, and the promise resolves once the commit is
   * on disk (overlappingSync off).
   */
  private async writeBatched<T>(fn: (w: WriteScope) => T): Promise<T> {
    const w = new WriteScope(this.meta);
    let result!: T;
    let failure: { e: unknown } | undefined;
    try {
      await this.root.childTransaction(() => {
        try {
          result = fn(w);
        } catch (e) {
          failure = { e };
          return ABORT;
        }
        if (w.changes.length === 0 && !w.touched) return ABORT;
        w.persistRevision();
        return undefined;
      });
    } catch (e) {
      throw unavailable(`store write at ${this.path} failed: ${reason(e)}`, e, { path: this.path });
    }
    if (failure) {
      if (isWeftError(failure.e)) throw failure.e;
      throw unavailable(`store write at ${this.path} failed: ${reason(failure.e)}`, failure.e, { path: this.path });
    }
    this.hub.publish(w.changes);
    return result;
  }

  /**
   * Runs `fn` in one LMDB write transaction. The revision is bumped once, lazily, the first time
   * `fn` changes something: a transaction is one revision, and one that changes nothing leaves
   * the counter alone (and is aborted, saving a flush, unless it wrote lease bookkeeping). A
   * throw aborts everything. Committed changes go to the watchers after the commit.
   */
  private write<T>(fn: (w: WriteScope) => T): T {
    const w = new WriteScope(this.meta);
    let result!: T;
    try {
      const outcome = this.root.transactionSync(() => {
        result = fn(w);
        if (w.changes.length === 0 && !w.touched) return ABORT;
        w.persistRevision();
        return undefined;
      });
      if (outcome !== undefined && outcome !== ABORT) {
        // transactionSync hands back a promise only for async callbacks, which we never pass.
        throw new Error('unexpected asynchronous transaction');
      }
    } catch (e) {
      if (isWeftError(e)) throw e;
      throw unavailable(`store write at ${this.path} failed: ${reason(e)}`, e, { path: this.path });
    }
    this.hub.publish(w.changes);
    return result;
  }
}

/** State of one write transaction: the revision it claims and the changes it made. */
class WriteScope {
  readonly changes: ChangeRecord[] = [];
  /** Bookkeeping (leases) was written: commit even if no key changed. */
  touched = false;
  private rev: number | undefined;

  constructor(private readonly meta: Database<string, string>) {}

  /** The revision of this transaction, claimed on first use. */
  revision(): number {
    if (this.rev === undefined) {
      // Read inside the write transaction: the counter on disk, not a cached copy.
      const text = this.meta.get(REVISION_KEY);
      this.rev = (text === undefined ? 0 : Number(text)) + 1;
    }
    return this.rev;
  }

  touch(): void {
    this.touched = true;
  }

  persistRevision(): void {
    if (this.rev !== undefined) this.meta.putSync(REVISION_KEY, String(this.rev));
  }
}
