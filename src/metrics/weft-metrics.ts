// weft's metrics, in one registry: operation latency by operation and driver (fed by
// MeteredController), errors by code, and gauges read at scrape time from the IPAM (pool size and
// use) and the controller (endpoints per network). Reading them on scrape keeps the hot path free
// of bookkeeping and the numbers true after a restart.

import type { Controller } from '../controller/controller.js';
import type { Ipam } from '../ipam/ipam.js';
import { Registry, type Counter, type Gauge, type Histogram } from './registry.js';

export interface WeftMetrics {
  registry: Registry;
  /** Seconds per controller operation; labels operation, driver, outcome (ok|error). */
  operationSeconds: Histogram;
  /** Failed operations; labels operation, driver, code (WeftError code or "internal"). */
  operationErrors: Counter;
  /** Errors whose code is a store error (WEFT_ERR_STORE_*), by code. */
  storeErrors: Counter;
  poolSize: Gauge;
  poolUsed: Gauge;
  endpoints: Gauge;
  /** Processes weftd started, by program (CountingRunner). */
  processSpawns: Counter;
  reconcilerRepairs: Counter;
  overlayRepairs: Counter;
  overlayPeers: Gauge;
  /** Seconds per step of weft's connect (StepClock); label step. */
  connectSteps: Histogram;
}

export function createWeftMetrics(): WeftMetrics {
  const registry = new Registry();
  return {
    registry,
    operationSeconds: registry.histogram('weft_operation_duration_seconds', 'Time of one controller operation (network create, connect, join, ...).', ['operation', 'driver', 'outcome']),
    operationErrors: registry.counter('weft_operation_errors_total', 'Controller operations that failed, by error code.', ['operation', 'driver', 'code']),
    storeErrors: registry.counter('weft_store_errors_total', 'Operations that failed with a store error (WEFT_ERR_STORE_*).', ['code']),
    poolSize: registry.gauge('weft_ipam_pool_addresses', 'Addresses a pool can hand out (range size minus network/broadcast).', ['pool', 'network', 'space']),
    poolUsed: registry.gauge('weft_ipam_pool_addresses_used', 'Addresses held in a pool (gateway and aux included).', ['pool', 'network', 'space']),
    endpoints: registry.gauge('weft_network_endpoints', 'Endpoints per network.', ['network', 'driver']),
    processSpawns: registry.counter('weft_process_spawns_total', 'Processes weftd started (ip, nft, nsenter, ...), by program.', ['program']),
    reconcilerRepairs: registry.counter('weft_reconciler_repairs_total', 'Kernel drift the periodic reconciler repaired (bridges, ports, firewall, stale endpoints).'),
    overlayRepairs: registry.counter('weft_overlay_repairs_total', 'VXLAN FDB/neighbour entries the overlay anti-entropy pass added or removed.'),
    connectSteps: registry.histogram('weft_connect_step_duration_seconds', 'Time of each step of weft network connect (lookup and lock, address and record, driver, container side, joined record, published ports).', ['step']),
    overlayPeers: registry.gauge('weft_overlay_peers_programmed', 'Remote endpoints programmed into the VXLAN tables, per overlay network with local endpoints.', ['network', 'vxlan']),
  };
}

/** Registers the scrape-time readers of pool use and endpoints per network. */
export function collectState(m: WeftMetrics, ipam: Ipam, controller: Controller): void {
  m.registry.onCollect(async () => {
    const pools = await ipam.listPools();
    const usage = await Promise.all(pools.map(async (p) => ({ p, u: await ipam.usage(p.poolId) })));
    m.poolSize.reset();
    m.poolUsed.reset();
    for (const { p, u } of usage) {
      const labels = { pool: p.pool, network: p.network ?? '', space: p.addressSpace };
      m.poolSize.set(labels, u.usable);
      m.poolUsed.set(labels, u.used);
    }
  });
  m.registry.onCollect(async () => {
    const [nets, eps] = await Promise.all([controller.listNetworks(), controller.listEndpoints()]);
    const perNet = new Map<string, number>();
    for (const ep of eps) perNet.set(ep.networkId, (perNet.get(ep.networkId) ?? 0) + 1);
    m.endpoints.reset();
    for (const n of nets) m.endpoints.set({ network: n.name, driver: n.driver }, perNet.get(n.id) ?? 0);
  });
}

/** What the runtime parts report on their own (read at scrape time, like the rest). */
export interface RuntimeSources {
  /** Total repairs of the periodic reconciler so far. */
  reconcilerRepairs(): number;
  /** The overlay's peer programmer: repairs so far, peers per network. */
  overlay(): { repairs: number; networks: Record<string, { vxlan: string; peers: number }> };
}

/** Registers the scrape-time readers of reconciler repairs and overlay peers. The sources keep
 *  running totals; the counters follow them by difference. */
export function collectRuntime(m: WeftMetrics, src: RuntimeSources): void {
  let seenReconciler = 0;
  let seenOverlay = 0;
  // Shown at 0 from the start, so "no repairs" is visible rather than absent.
  m.reconcilerRepairs.inc({}, 0);
  m.overlayRepairs.inc({}, 0);
  m.registry.onCollect(async () => {
    const r = src.reconcilerRepairs();
    if (r > seenReconciler) m.reconcilerRepairs.inc({}, r - seenReconciler);
    seenReconciler = Math.max(seenReconciler, r);
    const o = src.overlay();
    if (o.repairs > seenOverlay) m.overlayRepairs.inc({}, o.repairs - seenOverlay);
    seenOverlay = Math.max(seenOverlay, o.repairs);
    m.overlayPeers.reset();
    for (const [id, n] of Object.entries(o.networks)) m.overlayPeers.set({ network: id, vxlan: n.vxlan }, n.peers);
  });
}
