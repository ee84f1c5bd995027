// Shared set-up for the membership tests: several Membership instances ("hosts") on one store,
// with short real timers, a prober whose answers the test decides, and a record of every state
// event each host saw. Used by the unit tier (embedded store) and the e2e tier (real etcd).

import { pino } from 'pino';
import type { HostState } from '../../../src/cluster/host-records.js';
import { type HostFencing, Membership, type MembershipOptions } from '../../../src/cluster/membership.js';
import type { Prober } from '../../../src/cluster/prober.js';
import type { Store } from '../../../src/store/store.js';

/** The VTEP prober of the tests: an address answers while it is in `answering`. */
export class FakeProber implements Prober {
  readonly answering = new Set<string>();
  readonly probed: string[] = [];

  async probe(addr: string): Promise<boolean> {
    this.probed.push(addr);
    return this.answering.has(addr);
  }
}

export interface SeenEvent {
  host: string;
  state: HostState;
  previous?: HostState;
  removed: boolean;
  at: number;
}

export interface TestHost {
  id: string;
  addr: string;
  m: Membership;
  events: SeenEvent[];
}

export interface ClusterOptions {
  ttlSeconds: number;
  deadAfterSeconds: number;
  prober?: Prober;
  fencing?: HostFencing;
  /** Ticks shorter than the defaults keep the tests fast. */
  refreshIntervalMs?: number;
  probeIntervalMs?: number;
  resyncIntervalMs?: number;
}

export class TestCluster {
  readonly hosts: TestHost[] = [];

  constructor(
    private readonly storeOf: (id: string) => Store,
    private readonly opts: ClusterOptions,
  ) {}

  /** Starts a host (a new Membership, as a restarted weftd would be) and records its events. */
  async start(id: string, extra: Partial<MembershipOptions> = {}): Promise<TestHost> {
    const addr = `192.0.2.${this.hosts.length + 10}`;
    const known = this.hosts.find((h) => h.id === id);
    const m = new Membership({
      store: this.storeOf(id),
      self: { id, hostname: `node-${id}`, advertiseAddr: known?.addr ?? addr, version: '0.0.0-test' },
      ttlSeconds: this.opts.ttlSeconds,
      deadAfterSeconds: this.opts.deadAfterSeconds,
      ...(this.opts.prober ? { prober: this.opts.prober } : {}),
      ...(this.opts.fencing ? { fencing: this.opts.fencing } : {}),
      refreshIntervalMs: this.opts.refreshIntervalMs,
      probeIntervalMs: this.opts.probeIntervalMs,
      resyncIntervalMs: this.opts.resyncIntervalMs,
      logger: pino({ level: process.env.WEFT_TEST_LOG ?? 'silent' }),
      ...extra,
    });
    const events: SeenEvent[] = [];
    m.onHostState((h, state, change) => {
      const ev: SeenEvent = { host: h.id, state, removed: change.removed, at: performance.now() };
      if (change.previous) ev.previous = change.previous;
      events.push(ev);
    });
    await m.start();
    const host = { id, addr: known?.addr ?? addr, m, events };
    if (known) Object.assign(known, host);
    else this.hosts.push(host);
    return known ?? host;
  }

  get(id: string): TestHost {
    const h = this.hosts.find((x) => x.id === id);
    if (!h) throw new Error(`no test host ${id}`);
    return h;
  }

  /** The state `observer` currently sees for `id` (watch cache), undefined when not listed. */
  seen(observer: string, id: string): HostState | undefined {
    return this.get(observer).m.snapshot().find((h) => h.id === id)?.state;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.m.stop().catch(() => undefined)));
  }
}

/** Polls `cond` every 50 ms until it holds; fails with `what` after timeoutMs. Returns elapsed ms. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await cond()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
