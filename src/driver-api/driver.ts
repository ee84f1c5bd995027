// The one interface every driver implements (bridge, host, none, macvlan, overlay). Shaped like
// libnetwork's driverapi.Driver, but with plain data in and out: where libnetwork hands the driver
// setter callbacks (JoinInfo), a weft driver returns a JoinResult value.
//
// The controller owns persistence and locking: it stores the record first, then calls the driver
// to make the kernel match. Drivers must be idempotent (an `ensure` that finds the object done
// does nothing; a delete that finds nothing is done).

import type { DriverName, EndpointRecord, NetworkRecord, PublishedPort, SandboxRef } from '../model/network.js';

export interface DriverCapabilities {
  scope: 'local' | 'global';
  connectivityScope: 'local' | 'global';
}

/** What CreateEndpoint gives back to Docker; only fields Docker left empty may be set. */
export interface EndpointInterface {
  macAddress?: string;
  addressV4?: string;
  addressV6?: string;
  /** Host-side link that Join hands to the sandbox (Docker's SrcName). */
  srcName?: string;
}

export interface StaticRoute {
  destination: string;
  /** 0 = via nextHop, 1 = connected on this interface. */
  routeType: 0 | 1;
  nextHop?: string;
}

export interface JoinResult {
  /** Absent: no interface goes into the sandbox (none driver). `inSandbox`: weft's own connect
   *  only: the driver created srcName inside the sandbox already (macvlan), so nothing is moved. */
  interface?: { srcName: string; dstPrefix: string; inSandbox?: boolean };
  /** Bare IPs. */
  gatewayV4?: string;
  gatewayV6?: string;
  staticRoutes: StaticRoute[];
  disableGatewayService: boolean;
}

/** Who is asking: Docker (it moves and configures the interface itself) or weft's own CLI
 *  (the controller does that work). */
export type Caller = 'docker' | 'weft';

export interface NetworkDriver {
  readonly name: DriverName;
  /** False while this driver's data plane belongs to a later issue: the controller refuses
   *  CreateNetwork with DRIVER_NOT_AVAILABLE. */
  readonly available: boolean;

  /** weft's connect and disconnect of different endpoints of one network may call this driver at
   *  the same time (the controller holds the network shared for them). Only for drivers whose
   *  per-network state is safe under that; the others see one endpoint operation per network at
   *  a time. */
  readonly parallelEndpoints?: boolean;

  capabilities(): DriverCapabilities;

  /** Checks options and caller before anything is stored. Throws WeftError, changes nothing. */
  validateNetwork(net: NetworkRecord, caller: Caller): void;

  /** Checks the network against what exists now (other networks of the driver, the host's links)
   *  before the controller takes a pool or writes a record, so a refusal changes nothing. Reads
   *  only; throws WeftError. Subnets an IPAM has still to choose are empty here. createNetwork
   *  checks again: another create may slip in between. */
  precheckNetwork?(net: NetworkRecord): Promise<void>;

  /** The L2 domain the network's subnets live in, to which the IPAM scopes overlap checks
   *  (macvlan: its parent or VLAN, so the same subnet may serve two LANs). Absent or undefined:
   *  the host's routing domain, where no two networks may overlap. */
  l2Domain?(net: NetworkRecord): string | undefined;

  createNetwork(net: NetworkRecord): Promise<void>;
  deleteNetwork(net: NetworkRecord): Promise<void>;

  createEndpoint(net: NetworkRecord, ep: EndpointRecord, caller: Caller): Promise<EndpointInterface>;
  deleteEndpoint(net: NetworkRecord, ep: EndpointRecord): Promise<void>;

  /** Validates the sandbox (e.g. host driver: only the host's namespace) and says what Docker or
   *  the controller must put into it. Must not configure inside the namespace. */
  join(net: NetworkRecord, ep: EndpointRecord, sandbox: SandboxRef, caller: Caller): Promise<JoinResult>;
  leave(net: NetworkRecord, ep: EndpointRecord): Promise<void>;

  /** Publishes the endpoint's port mappings; returns what it published (the controller records it). */
  programExternalConnectivity(net: NetworkRecord, ep: EndpointRecord): Promise<PublishedPort[] | void>;
  revokeExternalConnectivity(net: NetworkRecord, ep: EndpointRecord): Promise<void>;

  /** Makes the host-side kernel state of a network and its endpoints match the records (the
   *  reconciler calls it at start-up and on drift). Must not re-create endpoints that Docker moved
   *  into a container. */
  restore(net: NetworkRecord, endpoints: EndpointRecord[]): Promise<void>;

  /** Called once after every network of this driver went through restore(): the place for state
   *  shared by all networks (the bridge driver's firewall), so it is synced once from the whole picture. */
  restoreDone?(): Promise<void>;

  /** The host-side links this driver's records say must exist (for `weft check`); an endpoint's
   *  own link names its endpoint (repair re-creates it through EndpointRepairer). */
  expectedLinks?(net: NetworkRecord, endpoints: EndpointRecord[]): { name: string; what: string; endpointId?: string }[];

  /** The link a joined endpoint has inside its sandbox that the host cannot see (macvlan: the
   *  endpoint's own link, born in or moved to the container's namespace), for `weft check` and the
   *  EndpointRepairer; undefined when the endpoint's link is a host link (expectedLinks) or none. */
  sandboxLink?(net: NetworkRecord, ep: EndpointRecord): { name: string; what: string } | undefined;

  /** Periodic drift check (the reconciler's timer): puts back what was changed behind weft's back
   *  (a flushed ruleset, ...) and returns how many repairs it made. */
  repair?(): Promise<number>;
}

/** Multi-injection token: every drivers/<name>/index.ts binds one NetworkDriver to it. */
export const NetworkDriverToken = Symbol.for('weft.NetworkDriver');

/** Docker plugin names of the drivers: weft-bridge, ... */
export const dockerDriverName = (d: DriverName): string => `weft-${d}`;
