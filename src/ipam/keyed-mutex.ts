// One-at-a-time execution per key inside this process. The store's compare-and-swap is what keeps
// allocation correct (across processes and hosts); this only stops one weftd from racing itself,
// so N parallel requests on one pool cost N allocations instead of N^2 compare-and-swap retries.

export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
