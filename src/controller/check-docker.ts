// The Docker side of `weft check`: which endpoints Docker has on weft's networks, read from the
// Engine API over its unix socket (GET /networks, GET /networks/{id}, through the shared DockerApi
// in src/docker), and the comparison with weft's records. Read-only; `weft check --repair` never changes Docker.

import { DockerApi } from '../docker/docker-api.js';
import { ErrorCodes, WeftError } from '../model/errors.js';
import type { EndpointRecord, NetworkRecord } from '../model/network.js';

export interface DockerNetworkView {
  id: string;
  name: string;
  driver: string;
  /** Endpoints of joined containers (Docker lists only those). */
  endpoints: { endpointId: string; container: string; ipv4?: string }[];
}

/** A check must not hang on a stuck engine: a shorter limit than docker-sync's. */
const TIMEOUT_MS = 5_000;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Docker's networks whose driver is one of weft's (weft-bridge, ...), with their endpoints. */
export async function readDockerNetworks(socketPath: string): Promise<DockerNetworkView[]> {
  try {
    const api = new DockerApi(socketPath, TIMEOUT_MS);
    const list: unknown = await api.listNetworks();
    if (!Array.isArray(list)) throw new Error('/networks: expected a list');
    const out: DockerNetworkView[] = [];
    for (const n of list) {
      if (!isObj(n) || typeof n.Id !== 'string' || typeof n.Driver !== 'string' || !n.Driver.startsWith('weft-')) continue;
      // The list leaves Containers empty: the detail has them.
      const detail = await api.inspectNetwork(n.Id);
      out.push(parseDockerNetwork(detail));
    }
    return out;
  } catch (e) {
    throw new WeftError(ErrorCodes.COMMAND_FAILED, `cannot read Docker's networks from ${socketPath}: ${(e as Error).message}`, { cause: e });
  }
}

/** One GET /networks/{id} answer. Pure. */
export function parseDockerNetwork(v: unknown): DockerNetworkView {
  if (!isObj(v) || typeof v.Id !== 'string') throw new Error('network without Id');
  const containers = isObj(v.Containers) ? v.Containers : {};
  const endpoints = Object.entries(containers).flatMap(([cid, c]) =>
    isObj(c) && typeof c.EndpointID === 'string' && c.EndpointID
      ? [{ endpointId: c.EndpointID, container: typeof c.Name === 'string' && c.Name ? c.Name : cid.slice(0, 12), ...(typeof c.IPv4Address === 'string' && c.IPv4Address ? { ipv4: c.IPv4Address } : {}) }]
      : [],
  );
  return { id: v.Id, name: typeof v.Name === 'string' ? v.Name : v.Id.slice(0, 12), driver: String(v.Driver ?? ''), endpoints };
}

export interface DockerDiff {
  /** Docker has the endpoint on a weft network; weft has no record of it. */
  unknownToWeft: { network: DockerNetworkView; endpointId: string; container: string }[];
  /** weft has a joined Docker-origin endpoint that Docker does not list. */
  unknownToDocker: EndpointRecord[];
}

/**
 * Compares. Docker lists only joined endpoints, so only joined weft endpoints (with a sandbox) can
 * be missing from Docker; Docker-origin networks Docker does not know at all count their joined
 * endpoints as missing too. Pure.
 */
export function compareWithDocker(docker: DockerNetworkView[], networks: NetworkRecord[], endpoints: EndpointRecord[]): DockerDiff {
  const weftIds = new Set(endpoints.map((e) => e.id));
  const unknownToWeft = docker.flatMap((n) => n.endpoints.filter((e) => !weftIds.has(e.endpointId)).map((e) => ({ network: n, endpointId: e.endpointId, container: e.container })));
  const dockerEps = new Set(docker.flatMap((n) => n.endpoints.map((e) => e.endpointId)));
  const dockerNets = new Set(networks.filter((n) => n.origin === 'docker').map((n) => n.id));
  const unknownToDocker = endpoints.filter((e) => e.origin === 'docker' && e.sandbox && dockerNets.has(e.networkId) && !dockerEps.has(e.id));
  return { unknownToWeft, unknownToDocker };
}
