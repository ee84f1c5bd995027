// Each host's own health report in the cluster store, so `weft host inspect HOST` run anywhere
// shows that host's transmit-checksum self-test, overlay counters and VTEP probes (as it last
// reported them, with the time), not only what the answering weftd measured itself.
//
//   host-health/<id>   HostHealthReport   written by host <id>: when something in it changed
//                                         (probe times and pass counts aside), and at least every
//                                         HEARTBEAT_MS; deleted by `weft host rm`.

import type { TxChecksumStatus } from './tx-checksum-guard.js';
import type { VtepProbeResult } from './vtep-monitor.js';

export const HOST_HEALTH_PREFIX = 'host-health/';
export const hostHealthKey = (id: string) => `${HOST_HEALTH_PREFIX}${id}`;
/** A report is written again at least this often, so its `at` says the host is still reporting. */
export const HEARTBEAT_MS = 30_000;

/** The overlay driver's counters, summed up for people. */
export interface OverlaySummary {
  repairs: number;
  lastRepairAt?: string;
  passes: number;
  /** Overlay networks with local endpoints. */
  networks: number;
  peers: number;
  fdbEntries: number;
  neighEntries: number;
}

/** What the overlay driver's stats() returns (drivers/overlay/peer-programmer.ts, PeerStats). */
export interface OverlayStatsLike {
  repairs: number;
  lastRepairAt?: string;
  passes: number;
  networks: Record<string, unknown>;
  peers?: number;
  fdbEntries?: number;
  neighEntries?: number;
}

export function overlaySummary(o: OverlayStatsLike): OverlaySummary {
  return {
    repairs: o.repairs,
    ...(o.lastRepairAt ? { lastRepairAt: o.lastRepairAt } : {}),
    passes: o.passes,
    networks: Object.keys(o.networks).length,
    peers: o.peers ?? 0,
    fdbEntries: o.fdbEntries ?? 0,
    neighEntries: o.neighEntries ?? 0,
  };
}

export interface HostHealthReport {
  id: string;
  /** When the host wrote it (ISO time). */
  at: string;
  txChecksum?: TxChecksumStatus;
  overlay?: OverlaySummary;
  probes: VtepProbeResult[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A report as read back, or undefined when it is not one this weft understands (it is only shown). */
export function decodeHealthReport(key: string, v: unknown): HostHealthReport | undefined {
  if (!isObject(v) || typeof v.id !== 'string' || typeof v.at !== 'string' || !Array.isArray(v.probes)) return undefined;
  if (key !== hostHealthKey(v.id)) return undefined;
  return v as unknown as HostHealthReport;
}

/** The part of a report whose change is worth a write: probe times and pass counts left out. */
function essence(r: Omit<HostHealthReport, 'at'>): string {
  return JSON.stringify({
    tx: r.txChecksum,
    overlay: r.overlay ? { ...r.overlay, passes: undefined } : undefined,
    probes: r.probes.map((p) => [p.hostId, p.addr, p.reachable]),
  });
}

/** Should `next` be written, given what was written last (and when)? Pure. */
export function shouldPublish(last: { report: Omit<HostHealthReport, 'at'>; atMs: number } | undefined, next: Omit<HostHealthReport, 'at'>, nowMs: number): boolean {
  if (!last) return true;
  return nowMs - last.atMs >= HEARTBEAT_MS || essence(last.report) !== essence(next);
}
