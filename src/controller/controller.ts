// The CNM operations that both front doors call: src/plugin (Docker) and src/api (weft's CLI).
// The implementation is src/controller/cnm-controller.ts.

import type { Caller, DriverCapabilities, EndpointInterface, JoinResult } from '../driver-api/driver.js';
import type { DriverName, EndpointRecord, IpamEntry, NetworkRecord, Origin, PortMapping, SandboxRef } from '../model/network.js';

export interface CreateNetworkRequest {
  /** Docker's NetworkID; weft generates one when absent. */
  id?: string;
  /** weft networks: required, unique. Docker networks: derived from the id. */
  name?: string;
  driver: DriverName;
  origin: Origin;
  options: Record<string, string>;
  internal: boolean;
  enableIPv6: boolean;
  /** Docker: the pools Docker's IPAM returned (CIDR subnet, bare gateway/aux). weft: what the user
   *  asked for; the controller requests pools and gateways from weft's IPAM. */
  ipv4: IpamEntry[];
  ipv6: IpamEntry[];
}

export interface CreateEndpointRequest {
  networkId: string;
  /** Docker's EndpointID; generated when absent. */
  endpointId?: string;
  origin: Origin;
  /** CIDR (Docker: already allocated by IPAM). */
  addressV4?: string;
  addressV6?: string;
  mac?: string;
  portMappings?: PortMapping[];
}

export interface ConnectRequest {
  /** Named namespace or a path. */
  netns: string;
  /** Bare IPs, optional. */
  ip?: string;
  ip6?: string;
  portMappings?: PortMapping[];
}

export interface Controller {
  capabilities(driver: DriverName): DriverCapabilities;

  createNetwork(req: CreateNetworkRequest): Promise<NetworkRecord>;
  /** Refused with NETWORK_IN_USE (naming the endpoints) while endpoints exist. `caller` 'docker':
   *  Docker's own DeleteNetwork (it checked its containers first). Default 'weft'. */
  deleteNetwork(idOrName: string, caller?: Caller): Promise<void>;
  getNetwork(idOrName: string): Promise<NetworkRecord>;
  listNetworks(): Promise<NetworkRecord[]>;
  listEndpoints(networkId?: string): Promise<EndpointRecord[]>;

  createEndpoint(req: CreateEndpointRequest): Promise<{ record: EndpointRecord; iface: EndpointInterface }>;
  /** Unknown network or endpoint: succeeds (Docker retries stale calls after restarts). */
  deleteEndpoint(networkId: string, endpointId: string): Promise<void>;
  join(networkId: string, endpointId: string, sandbox: SandboxRef): Promise<JoinResult>;
  /** Unknown endpoint: succeeds. */
  leave(networkId: string, endpointId: string): Promise<void>;
  endpointInfo(networkId: string, endpointId: string): Promise<Record<string, unknown>>;
  programExternalConnectivity(networkId: string, endpointId: string): Promise<void>;
  revokeExternalConnectivity(networkId: string, endpointId: string): Promise<void>;

  /** weft front door: create an endpoint and do in `netns` what Docker would do. */
  connect(idOrName: string, req: ConnectRequest): Promise<EndpointRecord>;
  disconnect(idOrName: string, netns: string): Promise<void>;

  /** Runs fn under the network's lock (repairs); fn must not call the locked operations above. */
  withNetworkLock?<T>(networkId: string, fn: () => Promise<T>): Promise<T>;
}

export const ControllerToken = Symbol.for('weft.Controller');
