import { ContainerModule } from 'inversify';
import { NetworkDriverToken } from '../../src/driver-api/driver.js';
import { NoneDriver } from './none-driver.js';

export const noneDriverModule = new ContainerModule(({ bind }) => {
  bind(NetworkDriverToken).toConstantValue(new NoneDriver());
});
