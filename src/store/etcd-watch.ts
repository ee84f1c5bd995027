// One Store watcher on etcd: its own gRPC watch stream, resumed after any disconnect from the last
// revision it delivered, so no event is lost or repeated across an etcd restart or a switch to
// another member.
//
// Why not the etcd3 package's Watcher: on every (re)connect it moves its resume point to the
// revision in etcd's "created" reply, which is the *current* revision, not the last one delivered.
// A watcher that starts from an old revision and loses its stream before the replay arrives would
// then skip the replay. Here the resume point moves only when events are handed to the callback.
//
// Progress notifications are not used to move the resume point either: etcd before 3.4.24 could
// send one ahead of events not yet sent (etcd-io/etcd#15220). The price: a watcher on a quiet
// prefix that reconnects after etcd compacted past its last event gets STORE_COMPACTED, and its
// owner lists again (which the contract asks every watcher to handle anyway).

import type { IDuplexStream, IEvent, IWatchRequest, IWatchResponse } from 'etcd3';
import { ErrorCodes, WeftError } from '../model/errors.js';
import type { WatchEvent, Watcher } from './store.js';

export type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

export interface EtcdWatchInit {
  /** Opens a new gRPC watch stream (on whichever member the client picks). */
  openStream: () => Promise<WatchStream>;
  /** The etcd key range watched. */
  key: Buffer;
  rangeEnd: Buffer;
  /** Turns an etcd event into a Store event (strips the prefix, parses the JSON value). */
  decode: (ev: IEvent) => WatchEvent;
  onEvent: (ev: WatchEvent) => void;
  /** A callback threw, or the watch stopped for good (STORE_COMPACTED). */
  onError: (err: unknown) => void;
  /** How long the first connection may take, and how long to wait for etcd's "created" reply. */
  timeoutMs: number;
  /** Tries for the first connection (each may land on another member), within timeoutMs. */
  firstAttempts: number;
  /** Turns a first-connection failure into the error watch() throws. */
  toError: (e: unknown) => WeftError;
  /** "watch \"ipam/\"", for messages. */
  what: string;
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;

export class EtcdWatch implements Watcher {
  /** Every event up to this revision has been delivered (or was skipped on purpose). */
  private resumeAfter: number | undefined;
  private stream: WatchStream | undefined;
  private cancelled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private createdTimer: NodeJS.Timeout | undefined;
  private backoffMs = MIN_BACKOFF_MS;
  /** Settles the first connection (watch() waits for it). */
  private firstConnect: { resolve: () => void; reject: (e: unknown) => void; deadline: number; attemptsLeft: number } | undefined;

  private constructor(
    private readonly init: EtcdWatchInit,
    afterRevision: number | undefined,
  ) {
    this.resumeAfter = afterRevision;
  }

  /** Starts a watcher; resolves once etcd has registered it (later writes are then seen). */
  static async start(init: EtcdWatchInit, afterRevision: number | undefined): Promise<EtcdWatch> {
    const w = new EtcdWatch(init, afterRevision);
    await new Promise<void>((resolve, reject) => {
      // Two request timeouts: the client picks members at random, so with one member down the first
      // try may spend a whole timeout on it before another member answers.
      w.firstConnect = { resolve, reject, deadline: Date.now() + 2 * init.timeoutMs, attemptsLeft: init.firstAttempts - 1 };
      void w.connect();
    });
    return w;
  }

  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    clearTimeout(this.retryTimer);
    this.dropStream();
  }

  private async connect(): Promise<void> {
    if (this.cancelled) return;
    let stream: WatchStream;
    try {
      stream = await this.init.openStream();
    } catch (e) {
      this.failed(e);
      return;
    }
    if (this.cancelled) {
      closeStream(stream);
      return;
    }
    this.stream = stream;
    stream.on('data', (res) => {
      if (this.stream === stream) this.onResponse(res);
    });
    // The stream is dropped on error and on end; the listener stays so an error after that is
    // never an unhandled 'error' event.
    stream.on('error', (err) => {
      if (this.stream === stream) this.failed(err);
    });
    stream.on('end', () => {
      if (this.stream === stream) this.failed(new Error('etcd closed the watch stream'));
    });
    this.createdTimer = setTimeout(() => {
      if (this.stream === stream) this.failed(new Error(`etcd did not confirm the watch within ${this.init.timeoutMs} ms`));
    }, this.init.timeoutMs);
    stream.write({
      create_request: {
        key: this.init.key,
        range_end: this.init.rangeEnd,
        // 0 asks etcd for "from now on"; otherwise the revision after the last one delivered.
        start_revision: this.resumeAfter === undefined ? 0 : this.resumeAfter + 1,
        prev_kv: true,
      },
    });
  }

  private onResponse(res: IWatchResponse): void {
    if (res.created) {
      clearTimeout(this.createdTimer);
      if (res.canceled) {
        this.failed(new Error(`etcd refused the watch: ${res.cancel_reason || 'no reason given'}`));
        return;
      }
      // Watching "from now on": now is the revision in etcd's reply.
      if (this.resumeAfter === undefined) this.resumeAfter = Number(res.header.revision);
      this.backoffMs = MIN_BACKOFF_MS;
      const first = this.firstConnect;
      this.firstConnect = undefined;
      first?.resolve();
      return;
    }
    if (res.canceled) {
      const compactedAt = Number(res.compact_revision);
      if (compactedAt > 0) {
        this.stop(
          new WeftError(
            ErrorCodes.STORE_COMPACTED,
            `${this.init.what}: etcd compacted its history up to revision ${compactedAt}, past revision ${(this.resumeAfter ?? 0) + 1} where this watch had to resume; list the keys again and watch from the current revision`,
            { details: { afterRevision: this.resumeAfter, compactRevision: compactedAt } },
          ),
        );
      } else {
        // e.g. the member lost its leader: try again, maybe elsewhere.
        this.failed(new Error(`etcd cancelled the watch: ${res.cancel_reason || 'no reason given'}`));
      }
      return;
    }
    const from = this.resumeAfter ?? 0;
    let last = from;
    for (const raw of res.events) {
      if (this.cancelled) return;
      const rev = Number(raw.kv.mod_revision);
      // Never hand out a revision twice (a resume starts after `from`; this is a second guard).
      if (rev <= from) continue;
      let ev: WatchEvent;
      try {
        ev = this.init.decode(raw);
      } catch (e) {
        this.init.onError(e);
        last = Math.max(last, rev);
        continue;
      }
      try {
        this.init.onEvent(ev);
      } catch (e) {
        this.init.onError(e);
      }
      last = Math.max(last, rev);
    }
    this.resumeAfter = last;
  }

  /**
   * The stream broke (or never came up): retry with backoff. While watch() still waits for the
   * first connection, only a few tries within its timeout (another member may answer), then
   * watch() fails.
   */
  private failed(err: unknown): void {
    this.dropStream();
    if (this.cancelled) return;
    const first = this.firstConnect;
    if (first && (first.attemptsLeft <= 0 || Date.now() + this.backoffMs >= first.deadline)) {
      this.firstConnect = undefined;
      this.cancelled = true;
      first.reject(this.init.toError(err));
      return;
    }
    if (first) first.attemptsLeft--;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
  }

  /** The watch cannot go on (its history is gone): tell the owner and stop. */
  private stop(err: WeftError): void {
    this.cancelled = true;
    this.dropStream();
    this.init.onError(err);
  }

  private dropStream(): void {
    clearTimeout(this.createdTimer);
    const s = this.stream;
    this.stream = undefined;
    if (s) closeStream(s);
  }
}

/**
 * Ends a gRPC stream without it counting as a failure of the etcd member: the etcd3 client marks
 * a member failed (and closes all its channels, other watchers' streams included) when a stream
 * errors while still writable, and cancel() raises a CANCELLED error. Ending our side first
 * makes the stream non-writable, so the cancel is just a cancel.
 */
function closeStream(s: WatchStream): void {
  try {
    s.end();
    s.cancel();
  } catch {
    // already closed
  }
}
