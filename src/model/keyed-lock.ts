// Per-key serialization inside this process: operations on one key (a network, an IPAM pool) run
// one at a time, in arrival order; different keys proceed in parallel. Docker sends parallel
// RequestAddress / CreateEndpoint / Join when many containers start at once (protocol §8 item
// 13). Correctness across processes and hosts comes from the store's compare-and-swap; this only
// stops one weftd from racing itself (N requests cost N writes, not N^2 CAS retries).
//
// A key can also be held shared (runShared): any number of shared holders run together, and an
// exclusive holder (run) waits for all of them and keeps new ones out. weft's own connect holds
// its network shared, so the kernel work of different endpoints overlaps (issue 8: 8 clients),
// while everything that reasons about the whole network (delete, Docker's calls, repairs) still
// holds it alone. Waiters are served in arrival order, so a stream of shared holders cannot starve
// an exclusive one.

type Mode = 'shared' | 'exclusive';

interface Waiter {
  mode: Mode;
  grant: () => void;
}

interface KeyState {
  shared: number;
  exclusive: boolean;
  queue: Waiter[];
}

export class KeyedLock {
  private readonly keys = new Map<string, KeyState>();

  /** fn alone on `key`. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.hold(key, 'exclusive', fn);
  }

  /** fn on `key` beside other shared holders, never beside an exclusive one. */
  runShared<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.hold(key, 'shared', fn);
  }

  private async hold<T>(key: string, mode: Mode, fn: () => Promise<T>): Promise<T> {
    let st = this.keys.get(key);
    if (!st) {
      st = { shared: 0, exclusive: false, queue: [] };
      this.keys.set(key, st);
    }
    const state = st;
    await new Promise<void>((grant) => {
      state.queue.push({ mode, grant });
      this.admit(state);
    });
    try {
      return await fn();
    } finally {
      if (mode === 'exclusive') state.exclusive = false;
      else state.shared--;
      this.admit(state);
      // Forget the key when nobody holds or waits, so the map does not grow with every network ever seen.
      if (!state.exclusive && state.shared === 0 && state.queue.length === 0 && this.keys.get(key) === state) this.keys.delete(key);
    }
  }

  /** Grants the head of the queue while it is compatible with the holders. */
  private admit(st: KeyState): void {
    while (st.queue.length > 0 && !st.exclusive) {
      const head = st.queue[0]!;
      if (head.mode === 'exclusive' && st.shared > 0) return;
      st.queue.shift();
      if (head.mode === 'exclusive') st.exclusive = true;
      else st.shared++;
      head.grant();
    }
  }
}
