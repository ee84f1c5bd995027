// Raw requests to a running weftd, below the CLI: one POST to a Docker plugin socket as dockerd
// would send it, one call to the management API with any body bytes, and a full dump of the
// embedded store (keys, values, revisions) to prove that a refused request changed nothing.

import http from 'node:http';
import path from 'node:path';
import { openLocalStore } from '../../src/store/local-store.js';

export interface RawResponse {
  status: number;
  body: string;
}

/** Keep-alive agents per socket path: thousands of calls in a row would otherwise each pay a connect. */
const agents = new Map<string, http.Agent>();
function agentFor(socketPath: string): http.Agent {
  let a = agents.get(socketPath);
  if (!a) {
    a = new http.Agent({ keepAlive: true, maxSockets: 8 });
    agents.set(socketPath, a);
  }
  return a;
}

/** Drops every kept-alive connection (call in afterAll, so the test process holds no sockets). */
export function closeAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}

/** One HTTP request on a unix socket. `body` goes out byte for byte (a Buffer may be invalid UTF-8). */
export function rawCall(
  socketPath: string,
  method: string,
  urlPath: string,
  body?: string | Buffer,
  timeoutMs = 30_000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (body !== undefined) {
      headers['Content-Length'] = Buffer.byteLength(body);
      headers['Content-Type'] = 'application/json';
    }
    const req = http.request({ socketPath, path: urlPath, method, headers, agent: agentFor(socketPath) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${urlPath} on ${socketPath}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** POST /<Interface>.<Method> on a plugin socket. */
export function pluginCall(socketPath: string, method: string, body: string | Buffer): Promise<RawResponse> {
  return rawCall(socketPath, 'POST', `/${method}`, body);
}

/** The stable code at the end of a plugin error (`... [WEFT_ERR_X]`), or undefined. */
export function pluginErrorCode(r: RawResponse): string | undefined {
  try {
    const err = (JSON.parse(r.body) as { Err?: unknown }).Err;
    if (typeof err !== 'string') return undefined;
    return /\[(WEFT_ERR_[A-Z_]+)\]$/.exec(err)?.[1];
  } catch {
    return undefined;
  }
}

/** The code of a management API error body ({"error": {"code"}}), or undefined. */
export function apiErrorCode(r: RawResponse): string | undefined {
  try {
    const code = (JSON.parse(r.body) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

export interface StoreDump {
  revision: number;
  /** key -> JSON of {value, createRevision, modRevision} */
  entries: Map<string, string>;
}

/** Every key of weftd's embedded store (read-only open, safe while weftd runs). */
export async function dumpLocalStore(stateDir: string): Promise<StoreDump> {
  const store = await openLocalStore({ path: path.join(stateDir, 'store'), readOnly: true });
  try {
    const revision = await store.revision();
    const list = await store.list('');
    return {
      revision,
      entries: new Map(list.map((kv) => [kv.key, JSON.stringify({ value: kv.value, createRevision: kv.createRevision, modRevision: kv.modRevision })])),
    };
  } finally {
    await store.close();
  }
}

/** Keys added, removed or changed between two dumps ([] = identical, store revision included). */
export function dumpDiff(a: StoreDump, b: StoreDump): string[] {
  const out: string[] = [];
  if (a.revision !== b.revision) out.push(`store revision ${a.revision} -> ${b.revision}`);
  for (const [k, v] of a.entries) {
    const w = b.entries.get(k);
    if (w === undefined) out.push(`removed ${k}: ${v}`);
    else if (w !== v) out.push(`changed ${k}: ${v} -> ${w}`);
  }
  for (const [k, w] of b.entries) if (!a.entries.has(k)) out.push(`added ${k}: ${w}`);
  return out;
}

/** Differences that are only the marks of a write that was undone: the store-wide revision, and
 *  the per-space change marker the IPAM bumps when it takes a pool and gives it back. The records
 *  themselves (networks, endpoints, pools, addresses) are unchanged. */
export const isUndoneWriteMark = (line: string): boolean => /^store revision /.test(line) || /^changed ipam\/spaces\/[^/:]+: /.test(line);
