// Per-key serialization inside this process: operations on one key (a network, an IPAM pool) run
// one at a time, in arrival order; different keys proceed in parallel. Docker sends parallel
// RequestAddress / CreateEndpoint / Join when many containers start at once (protocol §8 item
// 13). Correctness across processes and hosts comes from the store's compare-and-swap; this only
// stops one weftd from racing itself (N requests cost N writes, not N^2 CAS retries).

export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      // Forget the key when nobody queued behind us, so the map does not grow with every network ever seen.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
