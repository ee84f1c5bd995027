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
