// The IPAM contract: what both front doors (Docker's IpamDriver `weft`, and the controller for
// CLI-created networks) use. The implementation (src/ipam/ipam-service.ts) keeps every pool and
// every allocated address in the Store and allocates with compare-and-swap, so a crash or a
// restart never hands out an address twice.

import type { Compare, Store, TxnOp } from '../store/store.js';

export type AddressSpaceName = 'local' | 'global';

export interface PoolRequest {
  /** 'local' (bridge, macvlan) or 'global' (overlay). Docker sends what GetDefaultAddressSpaces returned. */
  addressSpace: string;
  /** Explicit subnet (--subnet), CIDR; empty/undefined = choose a default pool. */
  pool?: string;
  /** Sub-pool (--ip-range) that container addresses are taken from; must lie inside pool. */
  subPool?: string;
  /** --ipam-opt map. */
  options?: Record<string, string>;
  /** True for IPv6. With no pool, picks a ULA /64 from this host's /48. */
  v6: boolean;
  /** Name of the network the pool belongs to, when known (CLI networks); used in overlap errors. */
  network?: string;
  /**
   * The caller cannot tell the pool's L2 domain yet: Docker's RequestPool comes before the
   * network driver's CreateNetwork and shows neither the driver nor `-o parent`
   * (docker-plugin-protocol.md §3). The pool is created unbound (docs/ipam.md, "Binding Docker's
   * pools") and the controller binds it with bindPool when the network is created. Ignored when
   * `weft.l2domain` is given (the domain is then known).
   */
  deferL2Domain?: boolean;
}

/**
 * A pool not yet bound to an L2 domain (Docker's, between RequestPool and CreateNetwork):
 * - `open`: it overlapped nothing when requested; it counts as the host's routing domain until
 *   bound, and stays so when no weft driver ever binds it (a Docker network of another driver);
 * - `pending`: it overlaps pools of other L2 domains (the same subnet on another macvlan parent),
 *   so only a weft driver on yet another domain can use it; dropped when no network binds it
 *   within a minute (a crash between the two calls).
 */
export type PoolBinding = 'open' | 'pending';

export interface PoolBindRequest {
  /** The network that takes the pool (shown in overlap errors). */
  network: string;
  /** The L2 domain of the network's driver (macvlan: its parent or VLAN); undefined = the host. */
  l2domain?: string;
}

export interface PoolInfo {
  poolId: string;
  addressSpace: string;
  /** The pool, CIDR, canonical (host bits zero). */
  pool: string;
  subPool?: string;
  v6: boolean;
  /** Docker's RequestPool response Data (may be empty). */
  data: Record<string, string>;
  network?: string;
  /** The L2 domain the pool is scoped to (`--ipam-opt weft.l2domain=...`, or bindPool). */
  l2domain?: string;
  /** Set while the pool is not bound to an L2 domain (see PoolBinding). */
  binding?: PoolBinding;
}

export type AddressKind = 'gateway' | 'aux' | 'endpoint';

export interface AddressRequest {
  poolId: string;
  /** A specific bare IP (--ip, --gateway, --aux-address); undefined = any free one. */
  address?: string;
  kind: AddressKind;
  /** Who holds it (endpoint id, aux name); informational, shown by inspect/check. */
  owner?: string;
  /**
   * The caller's own record of the holder, to commit in the same store transaction as the
   * allocation (one durable write instead of two: issue 8). Honoured only when `store` is the
   * store this IPAM writes to; AddressInfo.wroteAlongside says whether it was.
   */
  alongside?: AlongsideWrite;
}

export interface AlongsideWrite {
  store: Store;
  /** Ops and compares for the address taken (CIDR). The records must be new (a fresh id): a lost
   *  compare reads as a lost race, and the IPAM retries until it gives up. */
  write(address: string): { ops: TxnOp[]; compares: Compare[] };
}

export interface AddressInfo {
  /** CIDR with the pool's prefix length, e.g. "10.31.0.2/24". */
  address: string;
  /** The request's `alongside` records were committed with the address. */
  wroteAlongside?: true;
}

export interface PoolUsage {
  pool: string;
  /** Addresses that can ever be handed out (range size minus network/broadcast). With a
   *  sub-pool the range is the sub-pool. (A v6 /64 exceeds 2^53: the number is approximate.) */
  usable: number;
  /** Addresses held (gateway and aux counted) inside the range, so usable - used is what is
   *  left; with a sub-pool, gateway/aux addresses outside it show in allocations() only. */
  used: number;
}

export interface Allocation {
  address: string; // bare IP
  kind: AddressKind;
  owner?: string;
  /** Global space, endpoints: the host that allocated it. */
  host?: string;
  /** When it was allocated (ISO 8601); absent for addresses allocated by a weft that did not
   *  record it. `weft check` releases a Docker address no endpoint has only once it is old. */
  allocatedAt?: string;
}

export interface Ipam {
  defaultAddressSpaces(): { local: string; global: string };
  requestPool(req: PoolRequest): Promise<PoolInfo>;
  /** Releases a pool and whatever it still holds. Unknown ids succeed (Docker ignores errors
   *  here, and has already released the addresses). */
  releasePool(poolId: string): Promise<void>;
  requestAddress(req: AddressRequest): Promise<AddressInfo>;
  /** Releases one address (bare IP or CIDR). Releasing a free address succeeds. */
  releaseAddress(poolId: string, address: string): Promise<void>;
  getPool(poolId: string): Promise<PoolInfo | undefined>;
  listPools(): Promise<PoolInfo[]>;
  allocations(poolId: string): Promise<Allocation[]>;
  usage(poolId: string): Promise<PoolUsage>;
  /** Records the name of the network that owns a pool (Docker does not send names to IPAM;
   *  the controller calls this when it learns which network a pool serves). */
  nameNetwork(poolId: string, network: string): Promise<void>;
  /**
   * Binds an unbound pool (PoolBinding) to the L2 domain of the network that takes it, refusing
   * (POOL_OVERLAP, nothing changed) when it overlaps a pool already in that domain. A pool that is
   * bound already only gets the network's name. The overlap check for Docker's pools lives here
   * because only the controller knows the driver when Docker creates a network.
   */
  bindPool(poolId: string, bind: PoolBindRequest): Promise<PoolInfo>;
}

/**
 * What the cluster layer asks of the IPAM when a host leaves (docs/ipam.md, "Fencing"): a gone
 * host's blocks may be claimed by others; a removed host's addresses are freed. Implemented by
 * IpamService; global space only.
 */
export interface IpamHostFencing {
  /** Returns the number of block affinities released. Idempotent. */
  releaseHostAffinities(hostId: string): Promise<number>;
  /** Frees every global endpoint address the host allocated, and its affinities. Idempotent. */
  releaseHostAddresses(hostId: string): Promise<{ addresses: number; blocks: number }>;
}

/** Injection token. */
export const IpamToken = Symbol.for('weft.Ipam');

/** Where default pools must not land: the host's routes, read at allocation time. */
export type HostRoutesSource = () => Promise<string[]>;
export const HostRoutesToken = Symbol.for('weft.HostRoutes');

export interface DefaultPoolSpec {
  /** e.g. "172.17.0.0/16" */
  base: string;
  /** prefix length of each pool cut from base, e.g. 16 or 20 */
  size: number;
}

/** Docker's defaults: 172.17-31/16 each one /16 pool, 192.168.0.0/16 cut into /20s. */
export const DOCKER_DEFAULT_POOLS: DefaultPoolSpec[] = [
  { base: '172.17.0.0/16', size: 16 },
  { base: '172.18.0.0/16', size: 16 },
  { base: '172.19.0.0/16', size: 16 },
  { base: '172.20.0.0/14', size: 16 },
  { base: '172.24.0.0/14', size: 16 },
  { base: '172.28.0.0/14', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
];
