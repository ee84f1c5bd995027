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
