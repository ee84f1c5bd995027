// The embedded store (`--store local`, the default): the Store contract of store.ts on LMDB, in a
// directory under weftd's --state-dir. docs/store.md says why LMDB and why these settings.
//
// Layout inside the LMDB environment:
//   sub-database "kv":   key (UTF-8 bytes, so keys sort like etcd's) -> {"c":createRev,"m":modRev,"v":value}
//   sub-database "meta": "revision" -> the store-wide revision counter, as decimal text
//
// Every write is one synchronous LMDB transaction (transactionSync): the compare, the revision bump
// and the change commit together or not at all, and the commit has been fdatasync'ed to disk
// before the call returns, so a resolved promise means durable. A CAS check and its write run
// without yielding to the event loop, so callers in this process need no lock of their own.

import { mkdirSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { ABORT, open, type Database, type RootDatabase, type RootDatabaseOptionsWithPath } from 'lmdb';
import { ErrorCodes, WeftError, isWeftError } from '../model/errors.js';
import type {
  DeleteOptions,
  KeyValue,
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
export const REVISION_KEY = 'revision';

export interface LocalStoreOptions {
  /** Directory of the store, created if missing (e.g. /var/lib/weft/store). */
  path: string;
  /** Open an existing store for reading only; writes fail with STORE_UNAVAILABLE. */
  readOnly?: boolean;
  /** Changes kept in memory for watch resume (afterRevision). Default 10,000. */
  historyLimit?: number;
  /** Called when a watch callback throws (default: a process warning). */
  onWatchError?: (err: unknown, prefix: string) => void;
}

interface StoredRecord {
  c: number;
  m: number;
  v: unknown;
}

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
    const store = new LocalStore(path, readOnly, root, kv, meta, opts);
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

  /** Use openLocalStore(). */
  constructor(
    readonly path: string,
    readonly readOnly: boolean,
    private readonly root: RootDatabase,
    private readonly kv: Database<string, Buffer>,
    private readonly meta: Database<string, string>,
    opts: Pick<LocalStoreOptions, 'historyLimit' | 'onWatchError'>,
  ) {
    this.hub = new WatchHub({
      startRevision: this.readRevision(),
      historyLimit: opts.historyLimit,
      onCallbackError: opts.onWatchError,
    });
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
    return this.write((w) => {
      const cur = this.readRecord(k);
      if (expect !== undefined && (cur?.m ?? 0) !== expect) throw conflictError(k, expect, cur?.m ?? 0);
      const rev = w.revision();
      this.writeRecord(k, cur ? cur.c : rev, rev, json);
      w.changes.push({ type: 'put', key: k, json, revision: rev });
      return rev;
    });
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<boolean> {
    this.checkWritable('delete');
    const k = validateKey(key);
    const expect = opts.expectRevision === undefined ? undefined : validateRevision('expectRevision', opts.expectRevision);
    return this.write((w) => {
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
    return this.write((w) => {
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
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

  private writeRecord(key: string, createRev: number, modRev: number, json: string): void {
    // Built by hand from the already-encoded value: no second JSON.stringify of user data.
    this.kv.putSync(keyBytes(key), `{"c":${createRev},"m":${modRev},"v":${json}}`);
  }

  private removeRecord(w: WriteScope, key: string, raw: string): void {
    this.kv.removeSync(keyBytes(key));
    // The last value goes with the delete event ("v" is the tail of the record we wrote).
    const rec = JSON.parse(raw) as StoredRecord;
    w.changes.push({ type: 'delete', key, json: JSON.stringify(rec.v), revision: w.revision() });
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
   * Runs `fn` in one LMDB write transaction. The revision is bumped once, lazily, the first time
   * `fn` changes something: a transaction is one revision, and one that changes nothing leaves
   * the counter alone (and is aborted, saving a flush). A throw aborts everything. Committed
   * changes go to the watchers after the commit.
   */
  private write<T>(fn: (w: WriteScope) => T): T {
    const w = new WriteScope(this.meta);
    let result!: T;
    try {
      const outcome = this.root.transactionSync(() => {
        result = fn(w);
        if (w.changes.length === 0) return ABORT;
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

  persistRevision(): void {
    if (this.rev !== undefined) this.meta.putSync(REVISION_KEY, String(this.rev));
  }
}
