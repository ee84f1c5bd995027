import { ContainerModule } from 'inversify';
import type { Logger } from 'pino';
import { NetworkDriverToken } from '../../src/driver-api/driver.js';
import { IpamToken, type Ipam } from '../../src/ipam/ipam.js';
import { LoggerToken } from '../../src/model/tokens.js';
import { StoreToken, type Store } from '../../src/store/store.js';
import { LinkOpsToken, StackedLinkOpsToken, type LinkOps, type StackedLinkOps } from '../../src/sys/link-ops.js';
import { MacvlanDriver } from './macvlan-driver.js';

export const macvlanDriverModule = new ContainerModule(({ bind }) => {
  bind(NetworkDriverToken)
    .toDynamicValue(
      (ctx) =>
        new MacvlanDriver({
          store: ctx.get<Store>(StoreToken),
          links: ctx.get<LinkOps>(LinkOpsToken),
          // The composition root's choice (netlink, or iproute2 where netlink does not load):
          // both create a macvlan directly in another namespace, which weft's own connect uses.
          stacked: ctx.get<StackedLinkOps>(StackedLinkOpsToken),
          ipam: ctx.get<Ipam>(IpamToken),
          logger: ctx.get<Logger>(LoggerToken),
        }),
    )
    .inSingletonScope();
});
