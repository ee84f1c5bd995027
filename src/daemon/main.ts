#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --optimize-for-size
// (The interpreter line bounds weftd's resident memory, issue 8 (docs/bench.md, "Memory"), each
// part measured with 1,000 endpoints: V8's young generation at 1 MB per semi-space instead of 16
// (about 20 MB); --optimize-for-size, V8's smaller heap growth (its old generation kept 55 MiB of
// pages for a 25 MB live heap, 29 with it); two malloc arenas instead of one per thread (8 MiB).
// Resident memory is also what each spawn costs: Node forks, and a fork copies the page tables.
// `env -S` is coreutils >= 8.30, Debian 10 and later. The bench reads this line.)
// weftd: the daemon entry. Reads the configuration, opens the store, builds the object graph,
// repairs the kernel from the store, then serves the management API and Docker's plugin sockets.
// SIGTERM/SIGINT: stop taking requests, let in-flight ones finish, close the store.

import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { ApiServer } from '../api/server.js';
import { Reconciler } from '../controller/reconciler.js';
import { FirewallResync } from '../controller/firewall-resync.js';
import { CrashRecovery } from '../controller/recovery.js';
import { armFailpoints } from '../sys/failpoints.js';
import { findOrphanAllocations, runCheck, type CheckDeps, type Finding } from '../controller/checker.js';
import { checkAndRepair, repairFindings, type RepairDeps } from '../controller/check-repair.js';
import { judgeOrphanAllocation, ORPHAN_GRACE_MS } from '../controller/orphan-allocation.js';
import { sandboxLinkExists } from '../sys/sandbox-link.js';
import { readDockerNetworks } from '../controller/check-docker.js';
import { EndpointRepairer } from '../controller/endpoint-repair.js';
import { KeyedLock } from '../model/keyed-lock.js';
import { LinkMonitor } from '../sys/netlink/link-monitor.js';
import type { BridgeDriver } from '../../drivers/bridge/bridge-driver.js';
import { Records } from '../controller/records.js';
import { ScopedRecords } from '../controller/scoped-records.js';
import { resolveVxlanPort } from '../cluster/vxlan-port.js';
import { OverlayDriverToken } from '../../drivers/overlay/index.js';
import type { OverlayDriver } from '../../drivers/overlay/overlay-driver.js';
import { parseDefaultAddressPool } from '../ipam/default-pools.js';
import { ErrorCodes, WeftError, toWeftError } from '../model/errors.js';
import { PluginServer } from '../plugin/server.js';
import { DockerBindings } from '../plugin/docker-bindings.js';
import { createDockerSync } from '../docker-sync/setup.js';
import { watchEngineSocket } from '../docker-sync/socket-watch.js';
import type { DockerSync } from '../docker-sync/sync-loop.js';
import { openLocalStore } from '../store/local-store.js';
import { openStore as openConfiguredStore } from '../store/open-store.js';
import { createMembership, resolveHostId } from '../cluster/setup.js';
import { HostHealth } from '../cluster/host-health.js';
import { ensureSchema } from '../store/schema.js';
import { LinkOpsToken, type LinkOps } from '../sys/link-ops.js';
import { parseMetricsAddr } from '../metrics/listen-address.js';
import { startMetricsServer } from '../metrics/metrics-server.js';
import { collectRuntime } from '../metrics/weft-metrics.js';
import { DEFAULT_CONFIG_FILE, parseConfigFile, resolveConfig, type DaemonConfig } from './config.js';
import { buildContainer, type Stores } from './container.js';
import { createRootLogger } from './logger.js';
import { resolveGid } from './groups.js';
import { WEFT_VERSION, API_VERSION } from './version.js';

function parseFlags(argv: string[]): { flags: Record<string, unknown>; configFile?: string } {
  const collect = (v: string, prev: string[] = []) => [...prev, v];
  const program = new Command('weftd')
    .description('weft daemon: container networking for Docker and plain network namespaces')
    .version(WEFT_VERSION)
    .option('--config <file>', `config file (JSON; default ${DEFAULT_CONFIG_FILE} when present)`)
    .option('--state-dir <dir>', 'state directory (default /var/lib/weft)')
    .option('--socket <path>', 'management API socket (default /run/weft/weft.sock)')
    .option('--socket-group <group>', 'group allowed on the management socket besides root')
    .option('--plugin-dir <dir>', 'Docker plugin socket folder (default /run/docker/plugins)')
    .option('--store <store>', 'local, or etcd://HOST:PORT[,HOST:PORT...]')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info)')
    .option('--default-address-pool <spec>', 'base=CIDR,size=N (repeatable; replaces the defaults)', collect)
    .option('--advertise-addr <ip>', 'underlay address for VXLAN')
    .option('--etcd-cacert <file>', 'CA bundle for etcd TLS')
    .option('--etcd-cert <file>', 'client certificate for etcd TLS')
    .option('--etcd-key <file>', 'client key for etcd TLS')
    .option('--etcd-prefix <prefix>', 'key prefix in etcd (default /weft)')
    .option('--host-ttl <seconds>', 'cluster registration lease (default 15)')
    .option('--host-dead-after <seconds>', 'silence after which a lost host is gone (default 60)')
    .option('--reconcile-interval <seconds>', 'seconds between drift checks of the kernel state (default 10)')
    .option('--host-id <id>', 'stable host id (default: generated once, kept in the state dir)')
    .option('--vxlan-port <port>', 'VXLAN UDP port, one for the whole cluster (default 4789; recorded by the first host)')
    .option('--overlay-repair-interval <seconds>', 'anti-entropy period of the overlay FDB/neighbour tables (default 10)')
    .option('--vxlan-tx-checksum <mode>', 'auto: tx checksum offload off on VXLAN devices only if the self-test finds bad checksums; off: always off (default auto)')
    .option('--metrics-addr <ip:port>', 'also serve /metrics over TCP on this address (e.g. 127.0.0.1:9323)')
    .option('--docker-sync [mode]', 'create cluster overlay networks on this host\'s Docker engine: auto (default: when its socket exists), on, off')
    .option('--no-docker-sync', 'same as --docker-sync off')
    .option('--docker-socket <path>', 'Docker engine API socket for --docker-sync and for weft check (default /var/run/docker.sock; ignored when absent)')
    .allowExcessArguments(false);
  program.parse(argv);
  const o = program.opts();
  return {
    flags: {
      stateDir: o.stateDir,
      socket: o.socket,
      socketGroup: o.socketGroup,
      pluginDir: o.pluginDir,
      store: o.store,
      logLevel: o.logLevel,
      defaultAddressPools: o.defaultAddressPool,
      advertiseAddr: o.advertiseAddr,
      etcdCacert: o.etcdCacert,
      etcdCert: o.etcdCert,
      etcdKey: o.etcdKey,
      etcdPrefix: o.etcdPrefix,
      hostTtl: o.hostTtl,
      hostDeadAfter: o.hostDeadAfter,
      hostId: o.hostId,
      vxlanPort: o.vxlanPort,
      overlayRepairInterval: o.overlayRepairInterval,
      vxlanTxChecksum: o.vxlanTxChecksum,
      reconcileInterval: o.reconcileInterval,
      metricsAddr: o.metricsAddr,
      // --docker-sync alone is true, --no-docker-sync false, --docker-sync=MODE the mode.
      dockerSync: o.dockerSync,
      dockerSocket: o.dockerSocket,
    },
    ...(o.config ? { configFile: o.config as string } : {}),
  };
}

function loadConfig(argv: string[], env: NodeJS.ProcessEnv): DaemonConfig {
  const { flags, configFile } = parseFlags(argv);
  const file = configFile ?? env.WEFT_CONFIG ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  let fileValues = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new WeftError(ErrorCodes.INVALID_OPTION, `cannot read config file ${file}: ${(e as Error).message}`);
    }
    fileValues = parseConfigFile(text, file);
  }
  return resolveConfig(flags, env, fileValues);
}

/** Host-scoped state (local networks, endpoints, the local address space) stays in the embedded
 *  store even in a cluster, so a host keeps working while etcd is away; --store etcd:// adds the
 *  cluster store for membership, the global address space and global networks. */
async function openStores(config: DaemonConfig): Promise<Stores> {
  const local = await openLocalStore({ path: path.join(config.stateDir, 'store') });
  if (config.store === 'local') return { local, cluster: local };
  try {
    return { local, cluster: await openConfiguredStore(config) };
  } catch (e) {
    await local.close();
    throw e;
  }
}

async function main(): Promise<void> {
  const config = loadConfig(process.argv, process.env);
  const logger = createRootLogger(config.logLevel);
  const failpoints = armFailpoints(process.env.WEFT_FAILPOINTS);
  if (failpoints.length > 0) logger.warn({ failpoints }, 'failpoints armed: weftd will SIGKILL itself there (testing only)');
  const defaultPools = config.defaultAddressPools.map(parseDefaultAddressPool);
  const socketGid = config.socketGroup === undefined ? undefined : resolveGid(config.socketGroup);
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  const stores = await openStores(config);
  await ensureSchema(stores.local, 1, {}, { writtenBy: `weft ${WEFT_VERSION}` });
  const hostId = await resolveHostId(config);

  const services = await buildContainer(config, stores, logger, defaultPools, hostId);
  const clustered = stores.cluster !== stores.local;
  const overlay = services.container.get<OverlayDriver>(OverlayDriverToken);
  let vxlanPort: number | undefined;
  if (clustered) {
    // Before the reconciler: restoring overlay networks needs the cluster's VXLAN port.
    vxlanPort = await resolveVxlanPort(stores.cluster, config.vxlanPort, hostId);
    await overlay.startCluster(vxlanPort);
    logger.info({ vxlanPort }, 'overlay: cluster VXLAN port');
  } else if (config.vxlanPort !== undefined) {
    logger.warn('--vxlan-port has no effect without --store etcd:// (overlay networks need the cluster store)');
  }
  // Overlay network records live in the cluster store; endpoints always in the local one.
  const records = clustered
    ? new ScopedRecords(stores.local, stores.cluster, (d) => (services.drivers.get(d) as { globalNetworks?: boolean }).globalNetworks === true)
    : new Records(stores.local);
  const linkOps = services.container.get<LinkOps>(LinkOpsToken);
  // Repairs must hold the lock every CNM operation takes; a controller without one is a wiring bug.
  const lockOf = services.controller.withNetworkLock?.bind(services.controller);
  if (!lockOf) throw new Error('the controller offers no network lock: repairs could race connects');
  const withNetworkLock = <T>(networkId: string, fn: () => Promise<T>): Promise<T> => lockOf(networkId, fn);
  const endpointRepairer = new EndpointRepairer({ records, drivers: services.drivers, links: linkOps, runner: services.runner, withNetworkLock, logger });
  const orphanGraceMs = orphanGraceFromEnv();
  const bridge = services.drivers.get('bridge') as BridgeDriver;
  // Docker is compared only when its socket exists (the default path on a host without Docker has none).
  const checkDeps = (): CheckDeps => ({
    controller: services.controller,
    ipam: services.ipam,
    links: () => linkOps.listLinks(),
    sandboxLinkExists: (sandbox, name) => sandboxLinkExists(services.runner, sandbox, name),
    driver: (d) => services.drivers.get(d),
    firewallDiff: () => bridge.firewallDiff(),
    clusterPeers: (net) => overlay.clusterPeers(net),
    hostId,
    ...(existsSync(config.dockerSocket) ? { docker: () => readDockerNetworks(config.dockerSocket) } : {}),
  });
  const repairLock = new KeyedLock();
  const repairDeps = (): RepairDeps => ({ controller: { withNetworkLock, deleteEndpoint: (n, e) => services.controller.deleteEndpoint(n, e) }, ipam: services.ipam, records, links: linkOps, drivers: services.drivers, endpoints: endpointRepairer, hostId, orphanGraceMs, logger });
  // Addresses the IPAM holds that provably no one uses (a Docker RequestAddress answered into a
  // crash): released by every periodic pass, as `weft check --repair` would (repairLock: one at a time).
  const releaseOrphanAllocations = async (): Promise<number> => {
    const deps = checkDeps();
    const now = Date.now();
    const ripe = (fs: Finding[]) => fs.filter((f) => judgeOrphanAllocation(f.details ?? {}, now, orphanGraceMs).release);
    // Docker's view is read only when something is to be released (one more holder to rule out).
    let found = ripe(await findOrphanAllocations({ ...deps, docker: undefined }));
    if (found.length && deps.docker) found = ripe(await findOrphanAllocations(deps));
    if (!found.length) return 0;
    const acts = await repairLock.run('repair', () => repairFindings(found, repairDeps()));
    return acts.filter((a) => a.outcome === 'repaired' && a.action.startsWith('address released')).length;
  };
  const reconciler = new Reconciler(records, services.drivers, linkOps, logger, (netId, epId) => services.controller.deleteEndpoint(netId, epId), endpointRepairer, undefined, releaseOrphanAllocations);
  // Settle what a crash left half-done, then make the kernel match the records.
  await new CrashRecovery(records, services.drivers, services.ipam, services.runner, logger).run();
  await reconciler.run();
  reconciler.startPeriodic(config.reconcileInterval * 1000);
  // A weft link deleted by hand is repaired at once; the periodic pass stays as the backup.
  // WEFT_LINK_EVENTS=off turns the events off (tests of the periodic pass and of check --repair).
  const linkMonitor = new LinkMonitor(linkOps, (names) => void reconciler.linksDeleted(names));
  if (process.env.WEFT_LINK_EVENTS === 'off') logger.info('link events off (WEFT_LINK_EVENTS=off): only the periodic pass repairs');
  else if (!linkMonitor.start()) logger.warn('no netlink link events with this link backend: repairs wait for the periodic pass');
  collectRuntime(services.metrics, { reconcilerRepairs: () => reconciler.repairs, overlay: () => overlay.stats() });
  const membership = createMembership(config, hostId, { store: stores.cluster, runner: services.runner, version: WEFT_VERSION, logger, fencing: services.globalIpam });
  await membership.start();
  // Gone hosts leave the overlay tables, returning ones come back; lost ones change nothing.
  const hostStates = new Map(membership.snapshot().map((h) => [h.id, h.state] as const));
  membership.onHostState((h, state, change) => {
    hostStates.set(h.id, state);
    overlay.hostsChanged();
    if (change.removed) void overlay.forgetHost(h.id).catch((err) => logger.warn({ err, host: h.id }, 'could not delete a removed host\'s overlay peers'));
  });
  overlay.useHostStates((id) => hostStates.get(id));
  // weft host inspect: VTEP probes, the transmit-checksum self-test (in the background), counters.
  const health = new HostHealth({
    selfId: hostId,
    runner: services.runner,
    linkOps,
    logger,
    hosts: () => membership.snapshot(),
    deadAfterSeconds: config.hostDeadAfter,
    overlay: () => overlay.stats(),
    ...(vxlanPort !== undefined ? { vxlanPort } : {}),
    ...(clustered ? { store: stores.cluster } : {}),
    forceTxChecksumOff: config.vxlanTxChecksum === 'off',
  });
  health.start();

  // Made once the plugin sockets listen (below); the API reports its counters.
  let dockerSync: DockerSync | undefined;
  const api = new ApiServer(
    {
      controller: services.controller,
      membership,
      overlay: () => ({ ...overlay.stats(), ...(dockerSync ? { dockerSync: dockerSync.stats() } : {}) }),
      hostHealth: health.source,
      check: () => runCheck(checkDeps()),
      // One repair at a time: two would race each other's re-checks.
      repairCheck: () =>
        repairLock.run('repair', () =>
          checkAndRepair(checkDeps(), repairDeps()),
        ),
      metrics: () => services.metrics.registry.render(),
      version: () => ({ version: WEFT_VERSION, apiVersion: API_VERSION, store: config.store, stateDir: config.stateDir, node: process.version }),
    },
    logger,
    { socketPath: config.socket, ...(socketGid !== undefined ? { socketGid } : {}) },
  );
  const bindings = new DockerBindings(stores.local);
  // dockerd starting after weftd sets FORWARD to DROP and makes DOCKER-USER: put weft's accept in
  // at once, not at the next periodic pass (src/controller/firewall-resync.ts).
  const firewallResync = new FirewallResync({ check: () => bridge.repairFirewall(), logger });
  const unwatchEngine = watchEngineSocket(config.dockerSocket, () => firewallResync.request('Docker engine socket changed'), logger);
  const plugins = new PluginServer(services.controller, services.dockerIpam, logger, {
    pluginDir: config.pluginDir,
    bindings,
    onActivate: () => firewallResync.request('Plugin.Activate'),
    ...(socketGid !== undefined ? { socketGid } : {}),
  });
  await api.listen();
  await plugins.listen();
  // After the plugin sockets listen: the engine calls them back while creating the networks.
  dockerSync = createDockerSync(config, {
    clustered,
    bindings,
    clusterStore: stores.cluster,
    listNetworks: () => services.controller.listNetworks(),
    logger,
    onEngineReachable: () => firewallResync.request('docker-sync reached the engine'),
  });
  await dockerSync?.start();
  const metricsServer = config.metricsAddr ? await startMetricsServer(services.metrics.registry, parseMetricsAddr(config.metricsAddr), logger) : undefined;
  logger.info({ version: WEFT_VERSION, stateDir: config.stateDir, store: config.store, pid: process.pid }, 'weftd ready');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    reconciler.stop();
    firewallResync.stop();
    unwatchEngine();
    linkMonitor.stop();
    await dockerSync?.stop();
    await Promise.all([api.close(), plugins.close(), metricsServer?.close()]);
    await health.stop();
    await membership.stop();
    await overlay.stop();
    if (stores.cluster !== stores.local) await stores.cluster.close();
    await stores.local.close();
    logger.info('stopped');
    logger.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e) => {
  const err = toWeftError(e);
  process.stderr.write(`weftd: ${err.message} (${err.code})\n`);
  if (err.kind === 'Internal' && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});

/** WEFT_ORPHAN_GRACE (seconds, default 60): how old an address Docker's IPAM handed out must be
 *  before, with no endpoint, it is released as an orphan (src/controller/orphan-allocation.ts).
 *  Tests shorten it. */
function orphanGraceFromEnv(): number {
  const raw = process.env.WEFT_ORPHAN_GRACE;
  if (raw === undefined || raw === '') return ORPHAN_GRACE_MS;
  const s = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(s >= 1) || s > 86_400) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `WEFT_ORPHAN_GRACE=${raw} is not a number of seconds from 1 to 86400`);
  }
  return s * 1000;
}
