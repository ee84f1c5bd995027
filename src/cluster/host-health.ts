// What `weft host inspect` shows beyond the membership record, gathered in one place so the
// composition root only wires it: the VTEP monitor (probes to every other host), the
// transmit-checksum guard (self-test at start, offload off on weft VXLAN devices if needed) and
// the overlay driver's peer-programming counters.

import type { Logger } from 'pino';
import type { CommandRunner } from '../sys/exec.js';
import type { LinkOps } from '../sys/link-ops.js';
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
  overlay(): { repairs: number; lastRepairAt?: string; passes: number; networks: Record<string, unknown>; peers?: number; fdbEntries?: number; neighEntries?: number } | undefined;
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
}

export class HostHealth {
  readonly monitor: VtepMonitor;
  readonly guard: TxChecksumGuard | undefined;
  readonly source: HostHealthSource;

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
      deps.vxlanPort === undefined ? undefined : new TxChecksumGuard({ runner: deps.runner, linkOps: deps.linkOps, logger: log, vxlanPort: deps.vxlanPort });
    this.source = {
      probes: () => this.monitor.snapshot(),
      txChecksum: () => this.guard?.status(),
      overlay: deps.overlay,
    };
  }

  start(): void {
    this.guard?.start();
    this.monitor.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.monitor.stop(), this.guard?.stop()]);
  }
}
