// A Controller that times every call of the real one and counts its failures (weft_operation_*).
// A wrapper rather than timers inside CnmController: the controller stays about networking, and
// both front doors (plugin and API) are measured at the same boundary.

import type { Caller, DriverCapabilities, EndpointInterface, JoinResult } from '../driver-api/driver.js';
import type { ConnectRequest, Controller, CreateEndpointRequest, CreateNetworkRequest } from '../controller/controller.js';
import { WeftError } from '../model/errors.js';
import type { DriverName, EndpointRecord, NetworkRecord, SandboxRef } from '../model/network.js';
import type { WeftMetrics } from './weft-metrics.js';

const UNKNOWN = 'unknown';

export class MeteredController implements Controller {
  /** Network id and name -> driver, learnt from results, so labels cost no store read. */
  private readonly driverOf = new Map<string, DriverName>();

  constructor(
    private readonly inner: Controller,
    private readonly m: WeftMetrics,
  ) {}

  private learn(net: NetworkRecord): NetworkRecord {
    this.driverOf.set(net.id, net.driver);
    this.driverOf.set(net.name, net.driver);
    return net;
  }

  /** The driver label of a network: from the cache, else one lookup (outside the timed span). */
  private async driverLabel(idOrName: string): Promise<string> {
    const known = this.driverOf.get(idOrName);
    if (known) return known;
    try {
      return this.learn(await this.inner.getNetwork(idOrName)).driver;
    } catch {
      return UNKNOWN;
    }
  }

  private async timed<T>(operation: string, driver: string | ((result: T | undefined) => Promise<string> | string), fn: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    let result: T | undefined;
    let error: unknown;
    try {
      result = await fn();
      return result;
    } catch (e) {
      error = e;
      throw e;
    } finally {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const label = typeof driver === 'string' ? driver : await driver(result);
      const outcome = error === undefined ? 'ok' : 'error';
      this.m.operationSeconds.observe({ operation, driver: label, outcome }, seconds);
      if (error !== undefined) {
        const code = error instanceof WeftError ? error.code : 'internal';
        this.m.operationErrors.inc({ operation, driver: label, code });
        if (code.startsWith('WEFT_ERR_STORE_')) this.m.storeErrors.inc({ code });
      }
    }
  }

  capabilities(driver: DriverName): DriverCapabilities {
    return this.inner.capabilities(driver);
  }

  createNetwork(req: CreateNetworkRequest): Promise<NetworkRecord> {
    return this.timed('network_create', req.driver, async () => this.learn(await this.inner.createNetwork(req)));
  }

  async deleteNetwork(idOrName: string, caller?: Caller): Promise<void> {
    const driver = await this.driverLabel(idOrName);
    await this.timed('network_delete', driver, () => this.inner.deleteNetwork(idOrName, caller));
    this.driverOf.delete(idOrName);
  }

  async getNetwork(idOrName: string): Promise<NetworkRecord> {
    return this.learn(await this.inner.getNetwork(idOrName));
  }

  async listNetworks(): Promise<NetworkRecord[]> {
    const nets = await this.inner.listNetworks();
    for (const n of nets) this.learn(n);
    return nets;
  }

  listEndpoints(networkId?: string): Promise<EndpointRecord[]> {
    return this.inner.listEndpoints(networkId);
  }

  createEndpoint(req: CreateEndpointRequest): Promise<{ record: EndpointRecord; iface: EndpointInterface }> {
    return this.timed('endpoint_create', () => this.driverLabel(req.networkId), () => this.inner.createEndpoint(req));
  }

  deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    return this.timed('endpoint_delete', () => this.driverLabel(networkId), () => this.inner.deleteEndpoint(networkId, endpointId));
  }

  join(networkId: string, endpointId: string, sandbox: SandboxRef): Promise<JoinResult> {
    return this.timed('join', () => this.driverLabel(networkId), () => this.inner.join(networkId, endpointId, sandbox));
  }

  leave(networkId: string, endpointId: string): Promise<void> {
    return this.timed('leave', () => this.driverLabel(networkId), () => this.inner.leave(networkId, endpointId));
  }

  endpointInfo(networkId: string, endpointId: string): Promise<Record<string, unknown>> {
    return this.inner.endpointInfo(networkId, endpointId);
  }

  programExternalConnectivity(networkId: string, endpointId: string): Promise<void> {
    return this.timed('program_external_connectivity', () => this.driverLabel(networkId), () => this.inner.programExternalConnectivity(networkId, endpointId));
  }

  revokeExternalConnectivity(networkId: string, endpointId: string): Promise<void> {
    return this.timed('revoke_external_connectivity', () => this.driverLabel(networkId), () => this.inner.revokeExternalConnectivity(networkId, endpointId));
  }

  connect(idOrName: string, req: ConnectRequest): Promise<EndpointRecord> {
    return this.timed('connect', () => this.driverLabel(idOrName), () => this.inner.connect(idOrName, req));
  }

  /** Not timed: repairs hold the lock, they are not CNM operations. */
  withNetworkLock<T>(networkId: string, fn: () => Promise<T>): Promise<T> {
    if (!this.inner.withNetworkLock) throw new Error('the wrapped controller has no network lock');
    return this.inner.withNetworkLock(networkId, fn);
  }

  disconnect(idOrName: string, netns: string): Promise<void> {
    return this.timed('disconnect', () => this.driverLabel(idOrName), () => this.inner.disconnect(idOrName, netns));
  }
}
