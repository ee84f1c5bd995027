import { ContainerModule } from 'inversify';
import type { Logger } from 'pino';
import { NetworkDriverToken } from '../../src/driver-api/driver.js';
import { LoggerToken } from '../../src/model/tokens.js';
import { StoreToken, type Store } from '../../src/store/store.js';
import { FirewallToken, type Firewall } from '../../src/sys/firewall.js';
import { LinkOpsToken, type LinkOps } from '../../src/sys/link-ops.js';
import { SysctlToken, type Sysctl } from '../../src/sys/sysctl.js';
import { BridgeDriver } from './bridge-driver.js';

export const bridgeDriverModule = new ContainerModule(({ bind }) => {
  bind(NetworkDriverToken)
    .toDynamicValue(
      (ctx) =>
        new BridgeDriver({
          store: ctx.get<Store>(StoreToken),
          links: ctx.get<LinkOps>(LinkOpsToken),
          firewall: ctx.get<Firewall>(FirewallToken),
          sysctl: ctx.get<Sysctl>(SysctlToken),
          logger: ctx.get<Logger>(LoggerToken),
        }),
    )
    .inSingletonScope();
});
