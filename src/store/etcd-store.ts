// The etcd store (`--store etcd://HOST:PORT[,...]`): the Store contract of store.ts on an etcd v3
// cluster, through the `etcd3` client's gRPC services. docs/store.md ("etcd") has the key layout,
// timeouts, leases and TLS.
//
// The contract follows etcd, so most calls are one etcd request:
// - keys are `${prefix}/${key}`; values are the JSON text of the value;
// - revisions are etcd's (create_revision, mod_revision, the header revision of a reply);
// - a compare-and-swap is a txn comparing mod_revision (0 = absent: etcd compares a missing key
//   as all zeros), whose failure branch reads the key so the conflict can name its revision;
// - watch is one gRPC stream per watcher (etcd-watch.ts), resumed after the last delivered revision;
// - leases are etcd leases; ids are etcd's int64 ids in decimal.
//
// Every request carries a gRPC deadline of requestTimeoutMs and is also raced against a timer of
// our own, so no call waits longer than that for a cluster without quorum; a failure is a
// STORE_UNAVAILABLE naming the endpoints (etcd-errors.ts). A write that timed out may still have
// been applied: callers read again before retrying a compare-and-swap, as they do on conflict.

import { Etcd3, type IKeyValue, type IRequestOp, type IOptions } from 'etcd3';
import { ErrorCodes, WeftError } from '../model/errors.js';
import { EtcdTimeoutError, isFutureRevisionError, tidyMessage, toStoreError, unavailableError } from './etcd-errors.js';
import { checkEtcdOptions, type CheckedEtcdOptions, type EtcdStoreOptions } from './etcd-options.js';
import { EtcdWatch } from './etcd-watch.js';
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
import { conflictError, encodeValue, validateKey, validatePrefix, validateRevision, validateTxn, type CheckedOp } from './validate.js';

export type { EtcdStoreOptions } from './etcd-options.js';

/** gRPC call options (the deadline), as the etcd3 client methods take them. */
type CallOptions = NonNullable<Parameters<Etcd3['kv']['range']>[1]>;

/** Keys per page when listing: bounded replies, read at one pinned revision. */
const LIST_PAGE = 500;

/** gRPC channel settings (see docs/store.md, "etcd"). */
const GRPC_OPTIONS = {
  // Notice a dead member on a long-lived stream (a watch) even when no TCP reset arrives. etcd
  // refuses pings more often than every 5 s (--grpc-keepalive-min-time), and pings without a
  // call in progress (so permit_without_calls stays off).
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  // Reconnect quickly once a member is back; gRPC's default backoff grows to two minutes.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  // A list page of large values may exceed gRPC's 4 MiB default.
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
};

function defaultWatchError(err: unknown, prefix: string): void {
  const msg = err instanceof Error ? err.message : String(err);
  process.emitWarning(`etcd store watch for prefix ${JSON.stringify(prefix)}: ${msg}`, 'WeftStoreWatch');
}

/** The smallest key greater than every key starting with `prefix` (etcd's range_end for a prefix). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff (or empty): everything from the prefix to the end of the keyspace.
  return Buffer.from([0]);
}

/**
 * Opens the etcd store: checks the options (TLS files are read now), connects, and makes one
 * read within dialTimeoutMs, so an unreachable cluster or one without quorum fails here with
 * STORE_UNAVAILABLE naming the endpoints, not on the first real request.
 */
export async function openEtcdStore(opts: EtcdStoreOptions): Promise<EtcdStore> {
  const checked = checkEtcdOptions(opts);
  const clientOptions: IOptions = { hosts: checked.endpoints, grpcOptions: GRPC_OPTIONS };
  if (checked.credentials) {
    // rootCertificate may be absent (use the system CAs); grpc's createSsl takes that, the
    // etcd3 type does not say so.
    clientOptions.credentials = checked.credentials as NonNullable<IOptions['credentials']>;
  }
  const client = new Etcd3(clientOptions);
  const store = new EtcdStore(client, checked, opts.onWatchError ?? defaultWatchError);
  try {
    await store.probe();
  } catch (e) {
    client.close();
    throw e;
  }
  return store;
}

export class EtcdStore implements Store {
  readonly scope = 'global' as const;
  readonly prefix: string;
  readonly endpoints: readonly string[];
  private closed = false;
  private readonly watchers = new Set<EtcdWatch>();
  private readonly keyPrefix: Buffer;

  /** Use openEtcdStore(). */
  constructor(
    private readonly client: Etcd3,
    private readonly opts: CheckedEtcdOptions,
    private readonly onWatchError: (err: unknown, prefix: string) => void,
  ) {
    this.prefix = opts.prefix;
    this.endpoints = opts.endpoints;
    this.keyPrefix = Buffer.from(`${opts.prefix}/`, 'utf8');
  }

  /** One linearizable read within the dial timeout: proves a member answers and has a quorum. */
  async probe(): Promise<void> {
    const ms = this.opts.dialTimeoutMs;
    try {
      await this.withDeadline(ms, (o) => this.client.kv.range({ key: Buffer.from(this.prefix, 'utf8') }, o));
    } catch (e) {
      const reason = e instanceof EtcdTimeoutError || /deadline/i.test(String((e as Error)?.message)) ? `no answer within ${ms} ms` : tidyMessage(e);
      throw unavailableError(
        `cannot reach etcd at ${this.endpoints.join(', ')}: ${reason} (is etcd running there, reachable, and with a quorum? check --store and the TLS flags)`,
        this.endpoints,
        e,
      );
    }
  }

  async get<T = unknown>(key: string): Promise<KeyValue<T> | undefined> {
    const k = validateKey(key);
    const res = await this.call(`get ${JSON.stringify(k)}`, (o) => this.client.kv.range({ key: this.full(k) }, o));
    const kv = res.kvs[0];
    return kv && this.toKeyValue<T>(kv);
  }

  async put(key: string, value: unknown, opts: PutOptions = {}): Promise<number> {
    const k = validateKey(key);
    const json = encodeValue(k, value);
    const expect = opts.expectRevision === undefined ? undefined : validateRevision('expectRevision', opts.expectRevision);
    const lease = opts.lease === undefined ? undefined : validateLeaseId(opts.lease);
    const op = `put ${JSON.stringify(k)}`;
    const put = { key: this.full(k), value: Buffer.from(json, 'utf8'), ...(lease === undefined ? {} : { lease }) };
    if (expect === undefined) {
      const res = await this.call(op, (o) => this.client.kv.put(put, o), lease);
      return Number(res.header.revision);
    }
    const res = await this.call(
      op,
      (o) =>
        this.client.kv.txn(
          {
            compare: [this.compare(k, expect)],
            success: [{ request_put: put }],
            failure: [{ request_range: { key: this.full(k) } }],
          },
          o,
        ),
      lease,
    );
    if (!res.succeeded) throw conflictError(k, expect, this.modRevisionIn(res.responses[0]?.response_range?.kvs));
    return Number(res.header.revision);
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<boolean> {
    const k = validateKey(key);
    const expect = opts.expectRevision === undefined ? undefined : validateRevision('expectRevision', opts.expectRevision);
    const op = `delete ${JSON.stringify(k)}`;
    if (expect === undefined) {
      const res = await this.call(op, (o) => this.client.kv.deleteRange({ key: this.full(k) }, o));
      return Number(res.deleted) > 0;
    }
    const res = await this.call(op, (o) =>
      this.client.kv.txn(
        {
          compare: [this.compare(k, expect)],
          success: [{ request_delete_range: { key: this.full(k) } }],
          failure: [{ request_range: { key: this.full(k) } }],
        },
        o,
      ),
    );
    if (!res.succeeded) throw conflictError(k, expect, this.modRevisionIn(res.responses[0]?.response_range?.kvs));
    return Number(res.responses[0]?.response_delete_range?.deleted ?? 0) > 0;
  }

  async list<T = unknown>(prefix: string): Promise<KeyValue<T>[]> {
    const p = validatePrefix(prefix);
    const op = `list ${JSON.stringify(p)}`;
    const start = this.full(p);
    const end = prefixRangeEnd(start);
    const out: KeyValue<T>[] = [];
    let from = start;
    let revision: string | undefined;
    for (;;) {
      // Later pages read at the first page's revision: one consistent snapshot.
      const res = await this.call(op, (o) =>
        this.client.kv.range({ key: from, range_end: end, limit: LIST_PAGE, ...(revision ? { revision } : {}) }, o),
      );
      revision ??= res.header.revision;
      for (const kv of res.kvs) out.push(this.toKeyValue<T>(kv));
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || !last) return out;
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  async txn(req: TxnRequest): Promise<TxnResult> {
    const checked = validateTxn(req);
    const res = await this.call('txn', (o) =>
      this.client.kv.txn(
        {
          compare: checked.compares.map((c) => this.compare(c.key, c.revision)),
          success: checked.success.map((op) => this.requestOp(op)),
          failure: checked.failure.map((op) => this.requestOp(op)),
        },
        o,
      ),
    );
    return { succeeded: res.succeeded, revision: Number(res.header.revision) };
  }

  async revision(): Promise<number> {
    // A read of one key (the bare prefix, which weft never writes) is the cheapest way to get
    // etcd's current revision in a reply header.
    const res = await this.call('revision', (o) => this.client.kv.range({ key: Buffer.from(this.prefix, 'utf8') }, o));
    return Number(res.header.revision);
  }

  async watch(prefix: string, onEvent: (ev: WatchEvent) => void, opts: WatchOptions = {}): Promise<Watcher> {
    this.checkOpen('watch');
    const p = validatePrefix(prefix);
    if (typeof onEvent !== 'function') throw new WeftError(ErrorCodes.BAD_REQUEST, 'watch needs an event callback');
    const after = opts.afterRevision === undefined ? undefined : validateRevision('afterRevision', opts.afterRevision);
    const what = `watch ${JSON.stringify(p)}`;
    if (after !== undefined) await this.checkNotCompacted(what, after);
    const key = this.full(p);
    const w = await EtcdWatch.start(
      {
        openStream: () => this.client.watchClient.watch(),
        key,
        rangeEnd: prefixRangeEnd(key),
        decode: (ev) => {
          const kv = ev.type === 'Delete' ? ev.prev_kv : ev.kv;
          const out: WatchEvent = { type: ev.type === 'Delete' ? 'delete' : 'put', key: this.strip(ev.kv.key), revision: Number(ev.kv.mod_revision) };
          if (kv?.value) out.value = this.decodeValue(out.key, kv.value);
          return out;
        },
        onEvent,
        onError: (err) => this.onWatchError(err, p),
        timeoutMs: this.opts.requestTimeoutMs,
        firstAttempts: 3 * this.endpoints.length + 2,
        toError: (e) => toStoreError(e, this.ctx(what)),
        what,
      },
      after,
    );
    this.watchers.add(w);
    return {
      cancel: async () => {
        this.watchers.delete(w);
        await w.cancel();
      },
    };
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    const ttl = validateTtl(ttlSeconds);
    const res = await this.call('grant lease', (o) => this.client.leaseClient.leaseGrant({ TTL: ttl }, o));
    if (res.error) throw unavailableError(`grant lease: etcd at ${this.endpoints.join(', ')} refused: ${res.error}`, this.endpoints);
    const id = res.ID;
    return Object.freeze({
      id,
      // etcd raises a TTL below its minimum (1.5 election timeouts) to that minimum.
      ttlSeconds: Number(res.TTL),
      keepAlive: () => this.keepAliveOnce(id),
      revoke: () => this.revokeLease(id),
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers) await w.cancel();
    this.watchers.clear();
    this.client.close();
  }

  /** Watchers currently open (for tests). */
  get watcherCount(): number {
    return this.watchers.size;
  }

  // ---- internals ----------------------------------------------------------------------------

  private ctx(op: string, lease?: LeaseId) {
    return { op, endpoints: this.endpoints, timeoutMs: this.opts.requestTimeoutMs, ...(lease === undefined ? {} : { lease }) };
  }

  private checkOpen(op: string): void {
    if (this.closed) throw unavailableError(`${op}: the etcd store (${this.endpoints.join(', ')}) is closed`, this.endpoints);
  }

  /** Runs one etcd request with the request timeout; maps its failure to a WeftError. */
  private async call<T>(op: string, fn: (o: CallOptions) => Promise<T>, lease?: LeaseId): Promise<T> {
    this.checkOpen(op);
    try {
      return await this.withDeadline(this.opts.requestTimeoutMs, fn);
    } catch (e) {
      throw toStoreError(e, this.ctx(op, lease));
    }
  }

  /**
   * gRPC deadline for the call (the client's retries on other members share it), plus our own
   * timer a little later in case something below does not honour the deadline.
   */
  private async withDeadline<T>(ms: number, fn: (o: CallOptions) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const backstop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EtcdTimeoutError(ms)), ms + 250);
    });
    try {
      return await Promise.race([fn({ deadline: Date.now() + ms }), backstop]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async keepAliveOnce(id: LeaseId): Promise<void> {
    // One request on a short-lived keep-alive stream; etcd answers TTL 0 for a lease it no
    // longer has.
    const ttl = await this.call(
      'lease keep-alive',
      async (o) => {
        const stream = await this.client.leaseClient.leaseKeepAlive(o);
        return new Promise<number>((resolve, reject) => {
          stream.on('data', (res) => {
            resolve(Number(res.TTL));
            // Ending our side makes the stream non-writable, so closing it is not taken for a
            // failure of the member (see closeStream in etcd-watch.ts).
            stream.end();
          });
          stream.on('error', reject);
          stream.on('end', () => reject(new Error('etcd ended the keep-alive stream without an answer')));
          stream.write({ ID: id });
        });
      },
      id,
    );
    if (ttl <= 0) throw leaseExpiredError(id);
  }

  private async revokeLease(id: LeaseId): Promise<void> {
    try {
      await this.call('revoke lease', (o) => this.client.leaseClient.leaseRevoke({ ID: id }, o), id);
    } catch (e) {
      // Already expired or revoked: revoke is idempotent.
      if (!(e instanceof WeftError && e.code === ErrorCodes.STORE_LEASE_EXPIRED)) throw e;
    }
  }

  /** A resume point etcd has compacted away fails now, not later on the stream. */
  private async checkNotCompacted(what: string, after: number): Promise<void> {
    try {
      await this.call(what, (o) => this.client.kv.range({ key: Buffer.from(this.prefix, 'utf8'), revision: after + 1 }, o));
    } catch (e) {
      if (isFutureRevisionError((e as WeftError).cause)) return; // resuming ahead of now is fine
      if (e instanceof WeftError && e.code === ErrorCodes.STORE_COMPACTED) {
        throw new WeftError(
          ErrorCodes.STORE_COMPACTED,
          `cannot ${what} from revision ${after}: etcd has compacted its history past it; list the keys again and watch from the current revision`,
          { cause: e, details: { afterRevision: after } },
        );
      }
      throw e;
    }
  }

  private full(key: string): Buffer {
    return Buffer.from(`${this.prefix}/${key}`, 'utf8');
  }

  private strip(full: Buffer): string {
    return full.subarray(this.keyPrefix.length).toString('utf8');
  }

  private compare(key: string, revision: number) {
    return { key: this.full(key), target: 'Mod' as const, result: 'Equal' as const, mod_revision: revision };
  }

  private requestOp(op: CheckedOp): IRequestOp {
    switch (op.type) {
      case 'put':
        return { request_put: { key: this.full(op.key), value: Buffer.from(op.json, 'utf8') } };
      case 'delete':
        return { request_delete_range: { key: this.full(op.key) } };
      case 'deletePrefix': {
        const start = this.full(op.prefix);
        return { request_delete_range: { key: start, range_end: prefixRangeEnd(start) } };
      }
    }
  }

  private modRevisionIn(kvs: IKeyValue[] | undefined): number {
    return kvs && kvs[0] ? Number(kvs[0].mod_revision) : 0;
  }

  private toKeyValue<T>(kv: IKeyValue): KeyValue<T> {
    const key = this.strip(kv.key);
    return { key, value: this.decodeValue(key, kv.value) as T, createRevision: Number(kv.create_revision), modRevision: Number(kv.mod_revision) };
  }

  private decodeValue(key: string, value: Buffer): unknown {
    try {
      return JSON.parse(value.toString('utf8')) as unknown;
    } catch {
      throw new WeftError(
        ErrorCodes.STORE_SCHEMA,
        `etcd key ${this.prefix}/${key} does not hold JSON: something other than weft writes under --etcd-prefix ${this.prefix}; give weft a prefix of its own`,
        { details: { prefix: this.prefix, key } },
      );
    }
  }
}
