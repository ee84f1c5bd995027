// Wire types of weft's management API: HTTP/1.1 + JSON on the unix socket `--socket`
// (/run/weft/weft.sock). The CLI (src/cli) is one client of it.
//
//   GET    /v1/version                          -> VersionView
//   GET    /v1/networks                         -> NetworkView[]
//   POST   /v1/networks            CreateNetworkBody -> NetworkView (201)
//   GET    /v1/networks/{idOrName}              -> NetworkView
//   DELETE /v1/networks/{idOrName}              -> {} (refused with WEFT_ERR_NETWORK_IN_USE while endpoints exist)
//   POST   /v1/networks/{idOrName}/connect    ConnectBody    -> EndpointView
//   POST   /v1/networks/{idOrName}/disconnect DisconnectBody -> {}
//   GET    /v1/hosts                            -> HostView[] (cluster membership; one row on a single host)
//   GET    /v1/hosts/{idOrHostname}             -> HostInspectView (record, VTEP probes, self-test, overlay counters)
//   DELETE /v1/hosts/{idOrHostname}[?force=1]   -> HostView of the removed host (refused with
//                                                  WEFT_ERR_HOST_UP while it is up, unless force)
//   GET    /metrics                             -> Prometheus text (benchmarks issue)
//
// Errors: a non-2xx status (from the error's kind: 400, 403, 404, 409, 500, 501, 503) with
// body ErrorBody.

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export interface VersionView {
  version: string;
  apiVersion: string;
  store: string;
  stateDir: string;
  node: string;
}

export interface IpamConfigBody {
  subnet: string;
  gateway?: string;
  ipRange?: string;
  auxAddresses?: Record<string, string>;
}

export interface CreateNetworkBody {
  name: string;
  /** default 'bridge' */
  driver?: string;
  /** One entry per --subnet. Empty: a default pool (v4; v6 too with ipv6). */
  ipam?: IpamConfigBody[];
  ipv6?: boolean;
  internal?: boolean;
  options?: Record<string, string>;
}

export interface ConnectBody {
  /** Named namespace ("ns1") or a path (/var/run/netns/ns1, /proc/PID/ns/net). */
  netns: string;
  ip?: string;
  ip6?: string;
  /** "8080:80", "127.0.0.1:8080:80/udp", ... (bridge issue) */
  publish?: string[];
}

export interface DisconnectBody {
  netns: string;
}

export interface EndpointView {
  id: string;
  network: string;
  networkId: string;
  netns?: string;
  ifName?: string;
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  /** Published ports: "0.0.0.0:8080->80/tcp" style, plus the raw form. */
  ports?: { proto: string; family: 4 | 6; hostIp: string; hostPort: number; containerPort: number }[];
  origin: 'docker' | 'weft';
}

export interface IpamConfigView {
  subnet: string;
  gateway?: string;
  ipRange?: string;
  auxAddresses: Record<string, string>;
  poolId?: string;
}

export interface NetworkView {
  id: string;
  name: string;
  driver: string;
  scope: 'local' | 'global';
  internal: boolean;
  ipv6: boolean;
  origin: 'docker' | 'weft';
  options: Record<string, string>;
  ipam: IpamConfigView[];
  endpoints: EndpointView[];
  created: string;
}

/** up: its weftd holds its registration lease; lost: the lease ran out (weftd restarting, or the
 *  host cut off; nothing is torn down); gone: removed, or its VTEP silent for --host-dead-after. */
export type HostStateView = 'up' | 'lost' | 'gone';

export interface HostView {
  id: string;
  hostname: string;
  /** Underlay (VTEP) address; '' when unknown. */
  advertiseAddr: string;
  /** weftd version. */
  version: string;
  state: HostStateView;
  /** Last time the host refreshed its registration (ISO time); absent if never recorded. */
  lastSeen?: string;
  /** When its current (or last) weftd registered. */
  startedAt: string;
  /** True for the host whose weftd answered. */
  self: boolean;
  /** Why it is gone: 'probe' (VTEP silent) or 'removed' (weft host rm), when state is gone. */
  goneReason?: 'probe' | 'removed';
}

/** One VTEP probe result, as the answering weftd last saw it (src/cluster/vtep-monitor.ts). */
export interface HostProbeView {
  hostId: string;
  addr: string;
  reachable: boolean;
  rttMs?: number;
  lastProbe: string;
  lastSuccess?: string;
  failures: number;
}

/** The transmit-checksum self-test of the answering weftd (src/cluster/tx-checksum-guard.ts). */
export interface TxChecksumView {
  state: 'pending' | 'ok' | 'corrupted' | 'error' | 'skipped';
  at?: string;
  durationMs?: number;
  udp?: { seen: number; bad: number };
  tcp?: { seen: number; bad: number };
  detects?: boolean;
  offload: 'kept' | 'disabled';
  /** Offload is off because of --vxlan-tx-checksum off. */
  forced?: boolean;
  devicesFixed: number;
  reason?: string;
}

/** Overlay peer programming on the answering weftd (drivers/overlay/peer-programmer.ts). */
export interface OverlayHealthView {
  repairs: number;
  lastRepairAt?: string;
  passes: number;
  /** Overlay networks with local endpoints. */
  networks: number;
  peers: number;
  fdbEntries: number;
  neighEntries: number;
}

/**
 * GET /v1/hosts/{idOrHostname}. The record is the cluster's; probes, self-test and overlay
 * counters are what the answering weftd (`inspectedFrom`) knows: for itself, its probes to every
 * other host and its own self-test and counters; for another host, its probes to that host only,
 * and in `reported` what that host last published about itself (host-health/<id>).
 */
export interface HostInspectView extends HostView {
  firstSeen?: string;
  /** The registration lease: its TTL (as the host registered it) and, while up, when it runs
   *  out unless refreshed (last refresh + TTL). */
  lease: { ttlSeconds?: number; expiresBy?: string };
  gone?: { at: string; reason: 'probe' | 'removed'; by: string };
  inspectedFrom: string;
  probes: HostProbeView[];
  txChecksum?: TxChecksumView;
  overlay?: OverlayHealthView;
  /** Another host only: what it last reported about itself (its self-test, counters and its own
   *  probes to the others), written at `at`. Stale when the host is lost or gone. */
  reported?: { at: string; txChecksum?: TxChecksumView; overlay?: OverlayHealthView; probes: HostProbeView[] };
}

/** DELETE /v1/hosts/{idOrHostname}: force may also be given as the query ?force=1. */
export interface RemoveHostBody {
  force?: boolean;
}
