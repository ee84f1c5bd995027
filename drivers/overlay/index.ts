// The overlay driver: networks across hosts over VXLAN (docs/overlay.md). Bound as a NetworkDriver
// and under OverlayDriverToken, so weftd can hand it the cluster's VXLAN port and membership.
import { ContainerModule } from 'inversify';
import type { Logger } from 'pino';
import { ClusterStoreToken, HostIdToken } from '../../src/cluster/tokens.js';
import { NetworkDriverToken } from '../../src/driver-api/driver.js';
import { ConfigToken, LoggerToken } from '../../src/model/tokens.js';
import { StoreToken, type Store } from '../../src/store/store.js';
import { CommandRunnerToken, type CommandRunner } from '../../src/sys/exec.js';
import { LinkOpsToken, type LinkOps } from '../../src/sys/link-ops.js';
import { SysctlToken, type Sysctl } from '../../src/sys/sysctl.js';
import { OverlayDriver } from './overlay-driver.js';

export const OverlayDriverToken = Symbol.for('weft.OverlayDriver');

export const overlayDriverModule = new ContainerModule(({ bind }) => {
  bind(OverlayDriverToken)
    .toDynamicValue((ctx) => {
      const config = ctx.get<{ advertiseAddr?: string; overlayRepairInterval?: number }>(ConfigToken);
      return new OverlayDriver({
        clusterStore: ctx.get<Store>(ClusterStoreToken),
        localStore: ctx.get<Store>(StoreToken),
        links: ctx.get<LinkOps>(LinkOpsToken),
        sysctl: ctx.get<Sysctl>(SysctlToken),
        runner: ctx.get<CommandRunner>(CommandRunnerToken),
        logger: ctx.get<Logger>(LoggerToken),
        hostId: ctx.get<string>(HostIdToken),
        ...(config.advertiseAddr ? { advertiseAddr: config.advertiseAddr } : {}),
        repairIntervalMs: (config.overlayRepairInterval ?? 10) * 1000,
      });
    })
    .inSingletonScope();
  bind(NetworkDriverToken).toService(OverlayDriverToken);
});
