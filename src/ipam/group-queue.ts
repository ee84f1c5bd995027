// Per-key queues whose items are handled in groups (group commit, docs/ipam.md): items of one key
// (an IPAM pool) that arrive while the key's previous group is being committed wait, and are then
// handled together, under the key's lock. A lone item is handled at once, so one caller pays no
// wait; many callers share one store transaction (one fdatasync, one etcd round trip).

import type { KeyedLock } from '../model/keyed-lock.js';

/** Microtask hops the queue waits for answered callers to ask again (see drain). */
const GATHER_HOPS = 16;

export interface GroupItem {
  /** Called when the handler failed as a whole (it should answer every item itself). */
  reject(e: unknown): void;
}

export class GroupQueue<T extends GroupItem> {
  private readonly queues = new Map<string, T[]>();

  constructor(
    private readonly lock: KeyedLock,
    /** Answers every item of the group (resolve or reject); runs under the key's lock. */
    private readonly handle: (key: string, group: T[]) => Promise<void>,
    private readonly maxGroup: number,
  ) {}

  push(key: string, item: T): void {
    const q = this.queues.get(key);
    if (q) {
      q.push(item); // a drain of this key is running or queued: it will take the item
      return;
    }
    this.queues.set(key, [item]);
    void this.lock.run(key, () => this.drainOne(key));
  }

  /**
   * Handles one group, then queues itself again behind whatever else waits for the key's lock
   * (a release of the same pool), so a steady stream of allocations cannot starve it.
   */
  private async drainOne(key: string): Promise<void> {
    const q = this.queues.get(key)!;
    const group = q.splice(0, this.maxGroup);
    try {
      await this.handle(key, group);
    } catch (e) {
      for (const item of group) item.reject(e);
    }
    // Let the callers just answered ask again before the next group is cut, so that N callers
    // in a loop make groups of N. Their continuations are microtasks a few hops deep (await of
    // an async function's promise); a timer would do too, but would add a macrotask boundary
    // (and its latency) to every single allocation.
    for (let hop = 0; hop < GATHER_HOPS; hop++) await undefined;
    if (q.length === 0) {
      this.queues.delete(key);
      return;
    }
    void this.lock.run(key, () => this.drainOne(key));
  }
}
