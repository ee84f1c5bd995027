// The Docker side of `weft check`: which endpoints Docker has on weft's networks, read from the
// Engine API over its unix socket (GET /networks, GET /networks/{id}) with node:http, and the
// comparison with weft's records. Read-only; `weft check --repair` never changes Docker.

import http from 'node:http';
import { ErrorCodes, WeftError } from '../model/errors.js';
import type { EndpointRecord, NetworkRecord } from '../model/network.js';

export interface DockerNetworkView {
  id: string;
  name: string;
  driver: string;
  /** Endpoints of joined containers (Docker lists only those). */
  endpoints: { endpointId: string; container: string; ipv4?: string }[];
}

const TIMEOUT_MS = 5_000;
const MAX_BODY = 16 * 1024 * 1024;

function getJson(socketPath: string, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, timeout: TIMEOUT_MS, headers: { Host: 'docker' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`answer to ${path} is larger than ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new Error(`${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(new Error(`${path}: not JSON (${(e as Error).message})`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer in ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Docker's networks whose driver is one of weft's (weft-bridge, ...), with their endpoints. */
export async function readDockerNetworks(socketPath: string): Promise<DockerNetworkView[]> {
  try {
    const list = await getJson(socketPath, '/networks');
    if (!Array.isArray(list)) throw new Error('/networks: expected a list');
    const out: DockerNetworkView[] = [];
    for (const n of list) {
      if (!isObj(n) || typeof n.Id !== 'string' || typeof n.Driver !== 'string' || !n.Driver.startsWith('weft-')) continue;
      // The list leaves Containers empty: the detail has them.
      const detail = await getJson(socketPath, `/networks/${encodeURIComponent(n.Id)}`);
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
