// The drivers the daemon has, by name. Every drivers/<name>/index.ts contributes one
// NetworkDriver to the multi-injection token; the registry collects them (Theia's
// contribution-provider pattern).

import { injectable, multiInject } from 'inversify';
import { NetworkDriverToken, type NetworkDriver } from '../driver-api/driver.js';
import { ErrorCodes, WeftError } from '../model/errors.js';
import type { DriverName } from '../model/network.js';

export const DriverRegistryToken = Symbol.for('weft.DriverRegistry');

@injectable()
export class DriverRegistry {
  private readonly byName = new Map<string, NetworkDriver>();

  constructor(@multiInject(NetworkDriverToken) drivers: NetworkDriver[]) {
    for (const d of drivers) {
      if (this.byName.has(d.name)) throw new Error(`two drivers registered as ${d.name}`);
      this.byName.set(d.name, d);
    }
  }

  get(name: DriverName | string): NetworkDriver {
    const d = this.byName.get(name);
    if (!d) throw new WeftError(ErrorCodes.DRIVER_NOT_FOUND, `unknown driver ${JSON.stringify(name)}: use one of ${[...this.byName.keys()].join(', ')}`);
    return d;
  }

  all(): NetworkDriver[] {
    return [...this.byName.values()];
  }
}
