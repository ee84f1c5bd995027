// A driver whose data plane is built by a later issue. Docker still needs constant capabilities
// from it (a failed GetCapabilities disables the driver until dockerd restarts), so it answers
// those, and refuses CreateNetwork with a clear "not available yet".

import { ErrorCodes, WeftError } from '../model/errors.js';
import type { DriverName, NetworkRecord } from '../model/network.js';
import type { DriverCapabilities, EndpointInterface, JoinResult, NetworkDriver } from './driver.js';

export class UnavailableDriver implements NetworkDriver {
  readonly available = false;

  constructor(
    readonly name: DriverName,
    private readonly caps: DriverCapabilities,
  ) {}

  capabilities(): DriverCapabilities {
    return this.caps;
  }

  private refuse(): never {
    throw new WeftError(ErrorCodes.DRIVER_NOT_AVAILABLE, `driver ${this.name} is not available yet in this weft release`);
  }

  validateNetwork(_net: NetworkRecord): void {
    this.refuse();
  }
  async createNetwork(): Promise<void> {
    this.refuse();
  }
  // Deletes and leaves of records that cannot exist are no-ops, so clean-up paths stay forgiving.
  async deleteNetwork(): Promise<void> {}
  async createEndpoint(): Promise<EndpointInterface> {
    this.refuse();
  }
  async deleteEndpoint(): Promise<void> {}
  async join(): Promise<JoinResult> {
    this.refuse();
  }
  async leave(): Promise<void> {}
  async programExternalConnectivity(): Promise<void> {}
  async revokeExternalConnectivity(): Promise<void> {}
  async restore(): Promise<void> {}
}
