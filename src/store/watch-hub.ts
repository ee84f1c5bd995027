// In-process watch fan-out with a bounded history, for stores whose writes all pass through one
// object (the embedded LocalStore). A store publishes each committed change here, in revision
// order; watchers get the changes under their prefix, in that order, each from its own queue.
//
// Why a queue per watcher and a microtask drain: a callback never runs inside the store's write
// path (it may itself write to the store), a slow or throwing callback cannot disturb the others,
// and events replayed from history always come before live ones.

import { ErrorCodes, WeftError } from '../model/errors.js';
import type { WatchEvent, Watcher } from './store.js';

/** One committed change, with its value kept as JSON text (parsed for each watcher, so no two
 *  watchers share a mutable object). */
export interface ChangeRecord {
  type: 'put' | 'delete';
  key: string;
  /** The new value (put) or the last value (delete), as JSON text. */
  json?: string;
  revision: number;
}

export const DEFAULT_HISTORY_LIMIT = 10_000;
/**
 * The history's size in characters of keys and JSON values. The count alone did not bound it:
 * an IPAM block record is rewritten whole on every allocation and is tens of KB with a few hundred
 * addresses, so 10,000 changes could hold hundreds of MB (1,000 attaches held 6 MB and growing,
 * issue 8). Only a watch resumed from further back than this needs it, and that one gets
 * STORE_COMPACTED and lists again, as it would after 10,000 changes.
 */
export const DEFAULT_HISTORY_CHARS = 2_000_000;

export interface WatchHubOptions {
  /** The store revision when the hub started: history is complete for revisions after it. */
  startRevision: number;
  /** How many changes to keep for replay (afterRevision). */
  historyLimit?: number;
  /** At most this many characters of keys and values in that history (the older go first). */
  historyChars?: number;
  /** Called when a watcher's callback throws; the watcher keeps running. */
  onCallbackError?: (err: unknown, prefix: string) => void;
}

interface Subscription {
  prefix: string;
  onEvent: (ev: WatchEvent) => void;
  /** Deliver only revisions after this one (a resume point may lie in changes not yet published). */
  after: number;
  queue: ChangeRecord[];
  draining: boolean;
  cancelled: boolean;
}

const charsOf = (ch: ChangeRecord): number => ch.key.length + (ch.json?.length ?? 0);

function defaultCallbackError(err: unknown, prefix: string): void {
  const msg = err instanceof Error ? err.message : String(err);
  process.emitWarning(`store watch callback for prefix ${JSON.stringify(prefix)} threw: ${msg}`, 'WeftStoreWatch');
}

export class WatchHub {
  private readonly limit: number;
  // Ring buffer of the last `limit` changes, oldest at `head`.
  private readonly ring: (ChangeRecord | undefined)[];
  private head = 0;
  private size = 0;
  /** Characters of keys and JSON values held in the ring. */
  private chars = 0;
  private readonly charLimit: number;
  /** History holds every change with a revision greater than this. */
  private completeAfter: number;
  private readonly subs = new Set<Subscription>();
  private readonly onCallbackError: (err: unknown, prefix: string) => void;

  constructor(opts: WatchHubOptions) {
    const limit = opts.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`historyLimit must be a positive integer, got ${limit}`);
    this.limit = limit;
    const chars = opts.historyChars ?? DEFAULT_HISTORY_CHARS;
    if (!Number.isSafeInteger(chars) || chars < 1) throw new RangeError(`historyChars must be a positive integer, got ${chars}`);
    this.charLimit = chars;
    this.ring = new Array<ChangeRecord | undefined>(limit);
    this.completeAfter = opts.startRevision;
    this.onCallbackError = opts.onCallbackError ?? defaultCallbackError;
  }

  /** Oldest revision a watcher may resume after (`afterRevision` below it was forgotten). */
  get oldestResumableRevision(): number {
    return this.completeAfter;
  }

  /** Records committed changes (in revision order) and hands them to the matching watchers. */
  publish(changes: readonly ChangeRecord[]): void {
    for (const ch of changes) {
      this.remember(ch);
      for (const sub of this.subs) {
        if (ch.revision > sub.after && ch.key.startsWith(sub.prefix)) this.enqueue(sub, ch);
      }
    }
  }

  /**
   * Starts a watcher. With `afterRevision`, changes after it that are still in history are
   * replayed first. Throws STORE_COMPACTED when history no longer reaches back that far.
   */
  subscribe(prefix: string, onEvent: (ev: WatchEvent) => void, afterRevision?: number): Watcher {
    const sub: Subscription = {
      prefix,
      onEvent,
      // Live changes: everything published from now on, except revisions the caller asked to
      // skip (a resume point may lie ahead of the last published change).
      after: afterRevision ?? Number.NEGATIVE_INFINITY,
      queue: [],
      draining: false,
      cancelled: false,
    };
    if (afterRevision !== undefined) {
      if (afterRevision < this.completeAfter) {
        throw new WeftError(
          ErrorCodes.STORE_COMPACTED,
          `cannot watch ${JSON.stringify(prefix)} from revision ${afterRevision}: the store only remembers changes after revision ${this.completeAfter}; list the keys again and watch from the current revision`,
          { details: { prefix, afterRevision, oldestResumableRevision: this.completeAfter } },
        );
      }
      for (const ch of this.historyAfter(afterRevision)) {
        if (ch.key.startsWith(prefix)) this.enqueue(sub, ch);
      }
    }
    this.subs.add(sub);
    return {
      cancel: async () => {
        sub.cancelled = true;
        sub.queue.length = 0;
        this.subs.delete(sub);
      },
    };
  }

  /** Stops every watcher (the store is closing). */
  close(): void {
    for (const sub of this.subs) {
      sub.cancelled = true;
      sub.queue.length = 0;
    }
    this.subs.clear();
  }

  get watcherCount(): number {
    return this.subs.size;
  }

  private remember(ch: ChangeRecord): void {
    if (this.size === this.limit) this.forgetOldest();
    this.ring[(this.head + this.size) % this.limit] = ch;
    this.size++;
    this.chars += charsOf(ch);
    // The newest change always stays, however big: a watcher that has just listed can resume.
    while (this.chars > this.charLimit && this.size > 1) this.forgetOldest();
  }

  private forgetOldest(): void {
    const evicted = this.ring[this.head]!;
    // Once part of a revision is gone, nothing at or before it can be replayed in full.
    this.completeAfter = Math.max(this.completeAfter, evicted.revision);
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.limit;
    this.size--;
    this.chars -= charsOf(evicted);
  }

  private at(i: number): ChangeRecord {
    return this.ring[(this.head + i) % this.limit]!;
  }

  private *historyAfter(revision: number): Generator<ChangeRecord> {
    // Binary search for the first change with a revision above `revision`.
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).revision <= revision) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.size; i++) yield this.at(i);
  }

  private enqueue(sub: Subscription, ch: ChangeRecord): void {
    sub.queue.push(ch);
    if (!sub.draining) {
      sub.draining = true;
      queueMicrotask(() => this.drain(sub));
    }
  }

  private drain(sub: Subscription): void {
    // Taking one item at a time lets a callback cancel its own watcher and stop the rest.
    while (!sub.cancelled && sub.queue.length > 0) {
      const ch = sub.queue.shift()!;
      const ev: WatchEvent = { type: ch.type, key: ch.key, revision: ch.revision };
      if (ch.json !== undefined) ev.value = JSON.parse(ch.json) as unknown;
      try {
        sub.onEvent(ev);
      } catch (err) {
        this.onCallbackError(err, sub.prefix);
      }
    }
    sub.draining = false;
  }
}
