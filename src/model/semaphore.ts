// At most `limit` holders at once; the others wait in arrival order. Used where a resource has a
// hard cap that must queue rather than fail: the netns relay holds at most 256 namespace sockets,
// and weft's parallel connects (each with an unsolicited ARP still polling after its answer) could
// otherwise ask for more at once and be refused.

export class Semaphore {
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a semaphore needs a limit of at least 1, got ${limit}`);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.held >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    else this.held++;
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter (held stays the same), or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.held--;
    }
  }
}
