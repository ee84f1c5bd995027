// CNM records as they live in the store. Pure data.

export const DRIVER_NAMES = ['bridge', 'host', 'none', 'macvlan', 'overlay'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

/** Who created a network or endpoint: Docker through the plugin protocol, or weft's own API. */
export type Origin = 'docker' | 'weft';

export interface IpamEntry {
  /** CIDR, canonical. */
  subnet: string;
  /** Bare IP. */
  gateway?: string;
  /** CIDR, inside subnet. */
  ipRange?: string;
  /** name -> bare IP; never handed out. */
  auxAddresses: Record<string, string>;
  /** IPAM pool id (only for networks whose addresses weft's IPAM manages). */
  poolId?: string;
}

export interface NetworkRecord {
  /** Docker's NetworkID for Docker networks; a random 64-hex id for weft networks. */
  id: string;
  /** User-facing name. Docker does not send names: Docker networks get `docker-<id12>`, except
   *  overlay networks bound through Docker, which carry their `-o weft.network` name. */
  name: string;
  driver: DriverName;
  origin: Origin;
  /** Driver options (-o KEY=VALUE; Docker's com.docker.network.generic). */
  options: Record<string, string>;
  internal: boolean;
  enableIPv6: boolean;
  ipv4: IpamEntry[];
  ipv6: IpamEntry[];
  createdAt: string;
  /** Set while a create is in flight (record written, kernel not yet made). A record still
   *  pending at start-up belongs to a create that crashed unanswered: it is rolled back. */
  pending?: true;
}

export interface SandboxRef {
  /** Path of the network namespace: Docker's SandboxKey, /var/run/netns/NAME or /proc/PID/ns/net. */
  path: string;
  /** Named namespace, when the user gave a name. */
  name?: string;
}

export interface EndpointRecord {
  /** Docker's EndpointID, or a random 64-hex id for weft endpoints. */
  id: string;
  networkId: string;
  origin: Origin;
  /** CIDR. */
  addressV4?: string;
  /** CIDR. */
  addressV6?: string;
  mac?: string;
  /** Interface name inside the sandbox once attached (eth0...). */
  ifName?: string;
  /** Set once joined. */
  sandbox?: SandboxRef;
  /** When Docker joined it (ISO time). Docker sends Join before the sandbox's namespace is
   *  mounted on SandboxKey (its prestart hook does that), so a young join's missing namespace
   *  means "starting", not "dead". */
  joinedAt?: string;
  /** Port mappings requested (Docker portmap or --publish). */
  portMappings?: PortMapping[];
  /** What the driver published for them (host ports chosen, per family). Docker cannot show
   *  ports a remote driver publishes (protocol §2.7), so `weft network inspect` does. */
  published?: PublishedPort[];
  createdAt: string;
  /** Set when a disconnect / DeleteEndpoint starts, before the kernel is touched: a record
   *  still marked at start-up belongs to a delete that crashed midway, which is then finished. */
  deleting?: true;
}

export interface PortMapping {
  proto: 'tcp' | 'udp' | 'sctp';
  containerPort: number;
  /** 0 = weft chooses. */
  hostPort: number;
  hostPortEnd: number;
  hostIp: string;
}

export interface PublishedPort {
  proto: 'tcp' | 'udp' | 'sctp';
  family: 4 | 6;
  /** '' = every address of the host. */
  hostIp: string;
  hostPort: number;
  containerPort: number;
}

/** Interface names: 1-15 bytes (IFNAMSIZ 16 with the NUL) of letters, digits, '_', '.', '-';
 *  not '.' or '..'. Stricter than the kernel on purpose: these names end up in argv and nft. */
export function isValidIfName(name: string): boolean {
  return (
    typeof name === 'string' &&
    Buffer.byteLength(name) >= 1 &&
    Buffer.byteLength(name) <= 15 &&
    name !== '.' &&
    name !== '..' &&
    /^[A-Za-z0-9_.-]+$/.test(name)
  );
}

/** Network names: Docker's rule ([a-zA-Z0-9][a-zA-Z0-9_.-]*), at most 64 characters. */
export function isValidNetworkName(name: string): boolean {
  return typeof name === 'string' && /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(name);
}

/** Docker ids: 64 hex characters. weft accepts 1-64 hex for its own ids. */
export function isValidId(id: string): boolean {
  return typeof id === 'string' && /^[0-9a-f]{1,64}$/.test(id);
}

/** Driver options whose value is an interface name (any driver): checked before the driver sees them. */
export const IFNAME_OPTION_KEYS = ['com.docker.network.bridge.name', 'bridge', 'parent', 'com.docker.network.container_iface_prefix'] as const;
