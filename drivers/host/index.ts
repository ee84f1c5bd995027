import { ContainerModule } from 'inversify';
import { NetworkDriverToken } from '../../src/driver-api/driver.js';
import { NetnsOpsToken, type NetnsOps } from '../../src/sys/netns.js';
import { HostDriver } from './host-driver.js';

export const hostDriverModule = new ContainerModule(({ bind }) => {
  bind(NetworkDriverToken)
    .toDynamicValue((ctx) => new HostDriver(ctx.get<NetnsOps>(NetnsOpsToken)))
    .inSingletonScope();
});
