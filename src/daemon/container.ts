// The single composition root (vscode-js-debug's ioc.ts pattern): the only place where
// implementations are bound to tokens. Everything else takes its dependencies through
// constructors with explicit @inject tokens.

import { Container } from 'inversify';
import type { Logger } from 'pino';
import { bridgeDriverModule } from '../../drivers/bridge/index.js';
import { hostDriverModule } from '../../drivers/host/index.js';
import { macvlanDriverModule } from '../../drivers/macvlan/index.js';
import { noneDriverModule } from '../../drivers/none/index.js';
import { overlayDriverModule } from '../../drivers/overlay/index.js';
import { CnmController } from '../controller/cnm-controller.js';
import { ControllerToken, type Controller } from '../controller/controller.js';
import { DriverRegistry, DriverRegistryToken } from '../controller/driver-registry.js';
import { HostRoutesToken, IpamToken, type DefaultPoolSpec, type Ipam } from '../ipam/ipam.js';
import { IpamOptionsToken, IpamService } from '../ipam/ipam-service.js';
import { SpaceRouter } from '../ipam/space-router.js';
import { DockerIpam } from '../ipam/docker-ipam.js';
import { StoreToken, type Store } from '../store/store.js';
import { CommandRunnerToken, ProcessRunner, type CommandRunner } from '../sys/exec.js';
import { LinuxNetnsOps, NetnsOpsToken } from '../sys/netns.js';
import { readHostRoutes } from '../sys/routes.js';
import { FirewallToken } from '../sys/firewall.js';
import { LinkOpsToken, StackedLinkOpsToken } from '../sys/link-ops.js';
import { createLinkOps } from '../sys/netlink/choose-link-ops.js';
import { CountingRunner } from '../metrics/counting-runner.js';
import { StepObserverToken } from '../controller/step-clock.js';
import { createNetlinkSandbox } from '../sys/netlink/netlink-sandbox.js';
import { findNetnsRelay, NetnsRelay } from '../sys/netlink/netns-relay.js';
import { SandboxNetlinkToken } from '../sys/sandbox.js';
import { NftFirewall } from '../sys/nftables/nft-firewall.js';
import { SysctlToken, createSysctl } from '../sys/sysctl.js';
import type { DaemonConfig } from './config.js';
import { ConfigToken, LoggerToken } from '../model/tokens.js';
import { ClusterStoreToken, HostIdToken } from '../cluster/tokens.js';
import { MeteredController } from '../metrics/metered-controller.js';
import { collectState, createWeftMetrics, type WeftMetrics } from '../metrics/weft-metrics.js';

/** The stores weftd runs on: host-scoped state always in the embedded store; cluster state in etcd
 *  with --store etcd://, else in the same embedded store. */
export interface Stores {
  local: Store;
  cluster: Store;
}

export interface Services {
  container: Container;
  controller: Controller;
  ipam: Ipam;
  /** What Docker's IpamDriver calls reach: `ipam`, with every pool bound to its L2 domain only
   *  at CreateNetwork (src/ipam/docker-ipam.ts). */
  dockerIpam: Ipam;
  /** The IPAM of the global space (block affinity, host fencing). */
  globalIpam: IpamService;
  drivers: DriverRegistry;
  runner: CommandRunner;
  /** The registry behind /metrics; the controller above is already the metered one. */
  metrics: WeftMetrics;
}

/** Builds the object graph. `overrides` lets the one wiring test rebind edges (e.g. the runner). */
export async function buildContainer(
  config: DaemonConfig,
  stores: Stores,
  logger: Logger,
  defaultPools: DefaultPoolSpec[],
  hostId: string,
  overrides: { runner?: CommandRunner } = {},
): Promise<Services> {
  const c = new Container({ defaultScope: 'Singleton' });
  const metrics = createWeftMetrics();
  const runner = new CountingRunner(overrides.runner ?? new ProcessRunner(), metrics.processSpawns);
  c.bind(ConfigToken).toConstantValue(config);
  c.bind(LoggerToken).toConstantValue(logger);
  c.bind(StoreToken).toConstantValue(stores.local);
  c.bind(ClusterStoreToken).toConstantValue(stores.cluster);
  c.bind(HostIdToken).toConstantValue(hostId);
  c.bind(CommandRunnerToken).toConstantValue(runner);
  c.bind(NetnsOpsToken).toConstantValue(new LinuxNetnsOps());
  const links = createLinkOps(runner);
  logger.info({ implementation: links.implementation, reason: links.reason }, 'link operations');
  c.bind(LinkOpsToken).toConstantValue(links.ops);
  c.bind(StackedLinkOpsToken).toConstantValue(links.ops);
  c.bind(SysctlToken).toConstantValue(createSysctl(runner));
  // Container-side attach work over netlink, with no process per attach (issue 8): the sockets
  // live in the container's namespace and are made by weft's netns relay, one helper process
  // started at first use (weftd itself never changes its namespace: design.md). Without the built
  // relay (no C compiler at build time) the container side is `ip -n` / `nsenter`.
  // A runner passed in means the system is faked (unit tests): then no real namespace is touched.
  const relayFile = overrides.runner ? { reason: 'a command runner was passed in' } : findNetnsRelay();
  const inNs = relayFile.file
    ? createNetlinkSandbox(
        new NetnsRelay(relayFile.file, {
          logger: logger.child({ component: 'netns-relay' }),
          // Not through the CommandRunner (it runs short commands): counted here, once per start.
          onSpawn: () => metrics.processSpawns.inc({ program: 'weft-netns-relay' }),
        }),
      )
    : { reason: relayFile.reason };
  logger.info({ implementation: inNs.sandbox ? 'netlink (netns relay)' : 'iproute2', reason: inNs.reason }, 'sandbox attach');
  if (inNs.sandbox) c.bind(SandboxNetlinkToken).toConstantValue(inNs.sandbox);
  c.bind(StepObserverToken).toConstantValue((step: string, seconds: number) => metrics.connectSteps.observe({ step }, seconds));
  c.bind(FirewallToken).toConstantValue(new NftFirewall(runner, logger.child({ component: 'firewall' })));
  c.bind(HostRoutesToken).toConstantValue(() => readHostRoutes(runner));
  const ipamOptions = { ...(defaultPools.length ? { defaultPools } : {}), logger, hostId };
  c.bind(IpamOptionsToken).toConstantValue(ipamOptions);
  const hostRoutes = () => readHostRoutes(runner);
  const localIpam = new IpamService(stores.local, hostRoutes, ipamOptions);
  const globalIpam = stores.cluster === stores.local ? localIpam : new IpamService(stores.cluster, hostRoutes, ipamOptions);
  c.bind(IpamToken).toConstantValue(globalIpam === localIpam ? localIpam : new SpaceRouter(localIpam, globalIpam));
  c.bind(DriverRegistryToken).to(DriverRegistry);
  // Everything that asks for the Controller gets the metered wrapper around the real one.
  c.bind(CnmController).toSelf();
  c.bind(ControllerToken).toResolvedValue((inner: CnmController) => new MeteredController(inner, metrics), [CnmController]);
  await c.load(noneDriverModule, hostDriverModule, bridgeDriverModule, macvlanDriverModule, overlayDriverModule);
  collectState(metrics, c.get<Ipam>(IpamToken), c.get<Controller>(ControllerToken));
  return {
    container: c,
    controller: c.get<Controller>(ControllerToken),
    ipam: c.get<Ipam>(IpamToken),
    dockerIpam: new DockerIpam(c.get<Ipam>(IpamToken)),
    globalIpam,
    drivers: c.get<DriverRegistry>(DriverRegistryToken),
    runner,
    metrics,
  };
}
