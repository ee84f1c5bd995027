import { ContainerModule } from 'inversify';
import type { Logger } from 'pino';
import { NetworkDriverToken } from '../../src/driver-api/driver.js';
import { IpamToken, type Ipam } from '../../src/ipam/ipam.js';
import { LoggerToken } from '../../src/model/tokens.js';
import { StoreToken, type Store } from '../../src/store/store.js';
import { CommandRunnerToken, type CommandRunner } from '../../src/sys/exec.js';
import { Iproute2LinkOps } from '../../src/sys/iproute2/iproute2-link-ops.js';
import { LinkOpsToken, type LinkOps } from '../../src/sys/link-ops.js';
import { MacvlanDriver } from './macvlan-driver.js';

export const macvlanDriverModule = new ContainerModule(({ bind }) => {
  bind(NetworkDriverToken)
    .toDynamicValue(
      (ctx) =>
        new MacvlanDriver({
          store: ctx.get<Store>(StoreToken),
          links: ctx.get<LinkOps>(LinkOpsToken),
          // Stacked links go through iproute2: it creates a link directly in another namespace
          // (`ip link add ... netns NS`), which weft's own connect uses.
          stacked: new Iproute2LinkOps(ctx.get<CommandRunner>(CommandRunnerToken)),
          ipam: ctx.get<Ipam>(IpamToken),
          logger: ctx.get<Logger>(LoggerToken),
        }),
    )
    .inSingletonScope();
});
