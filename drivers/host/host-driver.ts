// The `host` driver: one network whose endpoints share the host's own namespace. Docker cannot be
// offered it: a remote driver only gets to hand Docker an interface to move, never to choose the
// container's namespace, so `weft-host` refuses CreateNetwork and points at Docker's own
// `--network host`. Through weft's CLI, `connect` accepts only the namespace weftd runs in.

import { refuseUnknownOptions } from '../../src/driver-api/options.js';
import type { Caller, DriverCapabilities, EndpointInterface, JoinResult, NetworkDriver } from '../../src/driver-api/driver.js';
import { ErrorCodes, WeftError } from '../../src/model/errors.js';
import type { NetworkRecord, SandboxRef } from '../../src/model/network.js';
import type { NetnsOps } from '../../src/sys/netns.js';

export class HostDriver implements NetworkDriver {
  readonly name = 'host' as const;
  readonly available = true;
  /** There is one host namespace, so there is at most one host network. */
  readonly singleton = true;

  constructor(private readonly netns: NetnsOps) {}

  capabilities(): DriverCapabilities {
    return { scope: 'local', connectivityScope: 'local' };
  }

  validateNetwork(net: NetworkRecord, caller: Caller): void {
    if (caller === 'docker') {
      throw new WeftError(
        ErrorCodes.NOT_SUPPORTED,
        "weft-host cannot be used through Docker: a remote network driver cannot put a container in the host's namespace; use Docker's own `--network host`",
      );
    }
    refuseUnknownOptions('host', net.options, []);
    if (net.ipv4.length > 0 || net.ipv6.length > 0 || net.enableIPv6 || net.internal) {
      throw new WeftError(ErrorCodes.INVALID_OPTION, "driver host uses the host's own addresses: it takes no --subnet, --gateway, --ipv6 or --internal");
    }
  }

  async createNetwork(): Promise<void> {}
  async deleteNetwork(): Promise<void> {}
  async createEndpoint(): Promise<EndpointInterface> {
    return {};
  }
  async deleteEndpoint(): Promise<void> {}

  async join(_net: NetworkRecord, _ep: unknown, sandbox: SandboxRef): Promise<JoinResult> {
    if (!(await this.netns.isHostNamespace(sandbox))) {
      throw new WeftError(
        ErrorCodes.NOT_SUPPORTED,
        `the host network only accepts the host's own network namespace, and ${sandbox.name ?? sandbox.path} is another one`,
      );
    }
    return { staticRoutes: [], disableGatewayService: true };
  }

  async leave(): Promise<void> {}
  async programExternalConnectivity(): Promise<void> {}
  async revokeExternalConnectivity(): Promise<void> {}
  async restore(): Promise<void> {}
}
