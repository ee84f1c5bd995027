// The `none` driver: an endpoint with no interface. The sandbox keeps only its loopback.
// Through Docker, Join returns no InterfaceName and DisableGatewayService, or Docker would attach
// the container to docker_gwbridge for outbound traffic (docker-plugin-protocol.md §2.9).

import { refuseUnknownOptions } from '../../src/driver-api/options.js';
import type { Caller, DriverCapabilities, EndpointInterface, JoinResult, NetworkDriver } from '../../src/driver-api/driver.js';
import { ErrorCodes, WeftError } from '../../src/model/errors.js';
import type { NetworkRecord } from '../../src/model/network.js';

export class NoneDriver implements NetworkDriver {
  readonly name = 'none' as const;
  readonly available = true;

  capabilities(): DriverCapabilities {
    return { scope: 'local', connectivityScope: 'local' };
  }

  validateNetwork(net: NetworkRecord, caller: Caller): void {
    refuseUnknownOptions('none', net.options, []);
    // Docker always runs its IPAM for a network; through weft's own API an address on an endpoint
    // without an interface would only be a leak waiting to happen.
    if (caller === 'weft' && (net.ipv4.length > 0 || net.ipv6.length > 0 || net.enableIPv6)) {
      throw new WeftError(ErrorCodes.INVALID_OPTION, 'driver none gives endpoints no interface, so it takes no --subnet, --gateway or --ipv6');
    }
  }

  async createNetwork(): Promise<void> {}
  async deleteNetwork(): Promise<void> {}
  async createEndpoint(): Promise<EndpointInterface> {
    return {};
  }
  async deleteEndpoint(): Promise<void> {}
  async join(): Promise<JoinResult> {
    return { staticRoutes: [], disableGatewayService: true };
  }
  async leave(): Promise<void> {}
  async programExternalConnectivity(): Promise<void> {}
  async revokeExternalConnectivity(): Promise<void> {}
  async restore(): Promise<void> {}
}
