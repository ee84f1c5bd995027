// The VTEP reachability probe (docs/overlay.md, "Host health"; anchors.md §3 rows 16-17): every
// weftd pings the underlay address of every other host of the cluster, whatever its state, and
// keeps the last result, round-trip time and last success per host. `weft host inspect` shows it,
// so "the overlay is down" can be told apart from "the underlay between these two hosts is down"
// (or filtered: a firewall that drops VXLAN's UDP would still let ICMP through, which the docs say).
//
// Membership's own probe (lost -> gone) stays where it is: it runs only for lost hosts and decides
// state; this one only observes.

import type { Logger } from 'pino';
import type { HostInfo } from './host-records.js';
import type { RttProber } from './prober.js';

export interface VtepProbeResult {
  hostId: string;
  addr: string;
  /** Did the last probe get an answer? */
  reachable: boolean;
  /** Round-trip time of the last answered probe, ms. */
  rttMs?: number;
  /** ISO times of the last probe and the last answered one. */
  lastProbe: string;
  lastSuccess?: string;
  /** Probes in a row without an answer (0 while reachable). */
  failures: number;
}

export interface VtepMonitorOptions {
  selfId: string;
  prober: RttProber;
  /** The hosts to probe (membership's snapshot); hosts without an address are skipped. */
  hosts: () => HostInfo[];
  intervalMs: number;
  logger: Logger;
}

/** Next state of one host's record after a probe. Pure. */
export function nextProbeResult(prev: VtepProbeResult | undefined, hostId: string, addr: string, outcome: { answered: boolean; rttMs?: number }, nowIso: string): VtepProbeResult {
  // A new address is a new target: what was known about the old one says nothing about it.
  const p = prev && prev.addr === addr ? prev : undefined;
  const out: VtepProbeResult = {
    hostId,
    addr,
    reachable: outcome.answered,
    lastProbe: nowIso,
    failures: outcome.answered ? 0 : (p?.failures ?? 0) + 1,
  };
  if (outcome.answered) {
    out.lastSuccess = nowIso;
    if (outcome.rttMs !== undefined) out.rttMs = outcome.rttMs;
  } else if (p?.lastSuccess) {
    out.lastSuccess = p.lastSuccess;
  }
  return out;
}

export class VtepMonitor {
  private readonly results = new Map<string, VtepProbeResult>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly roundListeners: Array<() => void> = [];

  constructor(private readonly opts: VtepMonitorOptions) {}

  /** Called after every finished round (the health report is published then). */
  onRound(fn: () => void): void {
    this.roundListeners.push(fn);
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.round()
        .catch((err) => this.opts.logger.warn({ err }, 'VTEP probe round failed'))
        .finally(() => {
          this.running = undefined;
          if (this.stopped) return;
          for (const fn of this.roundListeners) fn();
          this.timer = setTimeout(tick, this.opts.intervalMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One probe of every other host, in parallel; results of hosts no longer listed are dropped. */
  async round(): Promise<void> {
    const hosts = this.opts.hosts().filter((h) => h.id !== this.opts.selfId && h.advertiseAddr !== '');
    const ids = new Set(hosts.map((h) => h.id));
    for (const id of this.results.keys()) if (!ids.has(id)) this.results.delete(id);
    await Promise.all(
      hosts.map(async (h) => {
        const outcome = await this.opts.prober.probeRtt(h.advertiseAddr);
        const prev = this.results.get(h.id);
        const next = nextProbeResult(prev, h.id, h.advertiseAddr, outcome, new Date().toISOString());
        if (prev && prev.reachable !== next.reachable) {
          this.opts.logger.info({ host: h.id, addr: h.advertiseAddr, reachable: next.reachable }, 'VTEP reachability changed');
        }
        this.results.set(h.id, next);
      }),
    );
  }

  /** The last result per host, sorted by host id. */
  snapshot(): VtepProbeResult[] {
    return [...this.results.values()].sort((a, b) => (a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0));
  }

  get(hostId: string): VtepProbeResult | undefined {
    return this.results.get(hostId);
  }
}
