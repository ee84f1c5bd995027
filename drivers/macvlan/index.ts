// The macvlan data plane arrives with its own issue; until then the driver answers Docker's
// capability query and refuses networks with "not available yet".
import { ContainerModule } from 'inversify';
import { NetworkDriverToken } from '../../src/driver-api/driver.js';
import { UnavailableDriver } from '../../src/driver-api/unavailable-driver.js';

export const macvlanDriverModule = new ContainerModule(({ bind }) => {
  bind(NetworkDriverToken).toConstantValue(new UnavailableDriver('macvlan', { scope: 'local', connectivityScope: 'global' }));
});
