// What `weft host inspect` shows beyond the membership record, gathered in one place so the
// composition root only wires it: the VTEP monitor (probes to every other host), the
// transmit-checksum guard (self-test at start, offload off on weft VXLAN devices if needed) and
// the overlay driver's peer-programming counters.

import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { CommandRunner } from '../sys/exec.js';
import type { LinkOps } from '../sys/link-ops.js';
import { type HostHealthReport, type OverlayStatsLike, decodeHealthReport, hostHealthKey, overlaySummary, shouldPublish } from './health-records.js';
import type { HostInfo } from './host-records.js';
import { PingProber } from './prober.js';
import { TxChecksumGuard, type TxChecksumStatus } from './tx-checksum-guard.js';
import { VtepMonitor, type VtepProbeResult } from './vtep-monitor.js';

/** What this weftd knows about the cluster's health as seen from here (weft host inspect). */
export interface HostHealthSource {
  /** The VTEP monitor's last result per other host. */
  probes(): VtepProbeResult[];
  /** The transmit-checksum self-test; undefined when it does not run (no cluster store). */
  txChecksum(): TxChecksumStatus | undefined;
  /** Overlay peer programming counters (the overlay driver's stats). */
  overlay(): OverlayStatsLike | undefined;
  /** What host `id` last reported about itself (host-health/<id>), if anything. */
  reported?(id: string): Promise<HostHealthReport | undefined>;
}

export interface HostHealthDeps {
  selfId: string;
  runner: CommandRunner;
  linkOps: LinkOps;
  logger: Logger;
  /** Membership's snapshot: the hosts to probe. */
  hosts: () => HostInfo[];
  /** --host-dead-after (seconds): probes run every dead-after / 10, between 0.5 and 5 s, as
   *  membership's own probe of lost hosts does. */
  deadAfterSeconds: number;
  /** The cluster's VXLAN port; undefined without a cluster store (then no self-test: no overlay). */
  vxlanPort?: number;
  overlay: HostHealthSource['overlay'];
  /** Where reports are published and read (the cluster store); none = no reports. */
  store?: Store;
  /** --vxlan-tx-checksum off: offload off on weft VXLAN devices whatever the self-test says. */
  forceTxChecksumOff?: boolean;
}

export class HostHealth {
  readonly monitor: VtepMonitor;
  readonly guard: TxChecksumGuard | undefined;
  readonly source: HostHealthSource;
  private readonly deps: HostHealthDeps;
  private readonly log: Logger;
  private lastPublished: { report: Omit<HostHealthReport, 'at'>; atMs: number } | undefined;
  private publishing = false;

  constructor(deps: HostHealthDeps) {
    const log = deps.logger.child({ component: 'host-health' });
    this.monitor = new VtepMonitor({
      selfId: deps.selfId,
      prober: new PingProber(deps.runner),
      hosts: deps.hosts,
      intervalMs: Math.min(5000, Math.max(500, (deps.deadAfterSeconds * 1000) / 10)),
      logger: log,
    });
    this.guard =
      deps.vxlanPort === undefined ? undefined : new TxChecksumGuard({ runner: deps.runner, linkOps: deps.linkOps, logger: log, vxlanPort: deps.vxlanPort, forceOff: deps.forceTxChecksumOff === true });
    const store = deps.store;
    this.source = {
      probes: () => this.monitor.snapshot(),
      txChecksum: () => this.guard?.status(),
      overlay: deps.overlay,
      ...(store
        ? {
            reported: async (id: string) => {
              const kv = await store.get(hostHealthKey(id));
              return kv ? decodeHealthReport(kv.key, kv.value) : undefined;
            },
          }
        : {}),
    };
    this.deps = deps;
    this.log = log;
  }

  /** This host's report now. */
  report(): Omit<HostHealthReport, 'at'> {
    const tx = this.guard?.status();
    const o = this.deps.overlay();
    return { id: this.deps.selfId, ...(tx ? { txChecksum: tx } : {}), ...(o ? { overlay: overlaySummary(o) } : {}), probes: this.monitor.snapshot() };
  }

  /** Writes this host's report when it changed or the heartbeat is due. Never throws. */
  async publish(): Promise<void> {
    const store = this.deps.store;
    if (!store || this.publishing) return;
    this.publishing = true;
    try {
      const next = this.report();
      const now = Date.now();
      if (!shouldPublish(this.lastPublished, next, now)) return;
      await store.put(hostHealthKey(this.deps.selfId), { ...next, at: new Date(now).toISOString() } satisfies HostHealthReport);
      this.lastPublished = { report: next, atMs: now };
    } catch (err) {
      this.log.debug({ err }, 'could not publish the health report; the next round tries again');
    } finally {
      this.publishing = false;
    }
  }

  start(): void {
    this.guard?.start();
    this.monitor.start();
    // Publish after every probe round (the monitor's period), and once the self-test is done.
    this.monitor.onRound(() => void this.publish());
    void this.guard?.done().then(() => this.publish());
  }

  async stop(): Promise<void> {
    await Promise.all([this.monitor.stop(), this.guard?.stop()]);
  }
}
