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
import { StoreToken, type Store } from '../store/store.js';
import { CommandRunnerToken, ProcessRunner, type CommandRunner } from '../sys/exec.js';
import { LinuxNetnsOps, NetnsOpsToken } from '../sys/netns.js';
import { readHostRoutes } from '../sys/routes.js';
import type { DaemonConfig } from './config.js';
import { ConfigToken, LoggerToken } from './tokens.js';

export interface Services {
  container: Container;
  controller: Controller;
  ipam: Ipam;
  drivers: DriverRegistry;
  runner: CommandRunner;
}

/** Builds the object graph. `overrides` lets the one wiring test rebind edges (e.g. the runner). */
export async function buildContainer(
  config: DaemonConfig,
  store: Store,
  logger: Logger,
  defaultPools: DefaultPoolSpec[],
  overrides: { runner?: CommandRunner } = {},
): Promise<Services> {
  const c = new Container({ defaultScope: 'Singleton' });
  const runner = overrides.runner ?? new ProcessRunner();
  c.bind(ConfigToken).toConstantValue(config);
  c.bind(LoggerToken).toConstantValue(logger);
  c.bind(StoreToken).toConstantValue(store);
  c.bind(CommandRunnerToken).toConstantValue(runner);
  c.bind(NetnsOpsToken).toConstantValue(new LinuxNetnsOps(runner));
  c.bind(HostRoutesToken).toConstantValue(() => readHostRoutes(runner));
  c.bind(IpamOptionsToken).toConstantValue({ ...(defaultPools.length ? { defaultPools } : {}), logger });
  c.bind(IpamToken).to(IpamService);
  c.bind(DriverRegistryToken).to(DriverRegistry);
  c.bind(ControllerToken).to(CnmController);
  await c.load(noneDriverModule, hostDriverModule, bridgeDriverModule, macvlanDriverModule, overlayDriverModule);
  return {
    container: c,
    controller: c.get<Controller>(ControllerToken),
    ipam: c.get<Ipam>(IpamToken),
    drivers: c.get<DriverRegistry>(DriverRegistryToken),
    runner,
  };
}
