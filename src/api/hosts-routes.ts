// The management API's cluster routes (/v1/hosts...), kept apart from routes.ts so the
// membership wiring stays in one place. routes.ts calls routeHosts for every path under /v1/hosts.

import { ErrorCodes, WeftError } from '../model/errors.js';
import type { HostInfo } from '../cluster/host-records.js';
import type { Membership } from '../cluster/membership.js';
import type { ApiResponse } from './routes.js';
import { type HostHealthReport, overlaySummary } from '../cluster/health-records.js';
import type { HostHealthSource } from '../cluster/host-health.js';
import type { HostInspectView, HostView } from './types.js';

export type { HostHealthSource };

export interface HostsApiContext {
  /** Undefined while weftd runs without membership (then /v1/hosts answers 501). */
  membership?: Pick<Membership, 'hosts' | 'remove' | 'selfId' | 'find'>;
  health?: HostHealthSource;
}

export function hostView(h: HostInfo, selfId: string): HostView {
  const v: HostView = {
    id: h.id,
    hostname: h.hostname,
    advertiseAddr: h.advertiseAddr,
    version: h.version,
    state: h.state,
    startedAt: h.startedAt,
    self: h.id === selfId,
  };
  if (h.lastSeen) v.lastSeen = h.lastSeen;
  if (h.state === 'gone' && h.gone) v.goneReason = h.gone.reason;
  return v;
}

/**
 * The inspect view of one host: its record, plus what this weftd (`selfId`) measured, plus (for
 * another host) what that host last reported about itself. Pure.
 */
export function hostInspectView(h: HostInfo, selfId: string, health: HostHealthSource | undefined, reported?: HostHealthReport): HostInspectView {
  const self = h.id === selfId;
  const lease: HostInspectView['lease'] = {};
  if (h.ttl !== undefined) lease.ttlSeconds = h.ttl;
  if (h.state === 'up' && h.ttl !== undefined && h.lastSeen) {
    const t = Date.parse(h.lastSeen);
    if (!Number.isNaN(t)) lease.expiresBy = new Date(t + h.ttl * 1000).toISOString();
  }
  const probes = health?.probes() ?? [];
  const v: HostInspectView = {
    ...hostView(h, selfId),
    ...(h.firstSeen ? { firstSeen: h.firstSeen } : {}),
    lease,
    ...(h.state === 'gone' && h.gone ? { gone: { ...h.gone } } : {}),
    inspectedFrom: selfId,
    probes: self ? probes : probes.filter((p) => p.hostId === h.id),
  };
  if (self) {
    const tx = health?.txChecksum();
    if (tx) v.txChecksum = tx;
    const o = health?.overlay();
    if (o) v.overlay = overlaySummary(o);
  } else if (reported && reported.id === h.id) {
    v.reported = {
      at: reported.at,
      ...(reported.txChecksum ? { txChecksum: reported.txChecksum } : {}),
      ...(reported.overlay ? { overlay: reported.overlay } : {}),
      probes: reported.probes,
    };
  }
  return v;
}

/** `force` from the query (?force=1|true) or the body ({"force": true}); anything else is refused. */
function parseForce(body: unknown, query: URLSearchParams | undefined): boolean {
  let force = false;
  const q = query?.get('force');
  if (q !== null && q !== undefined) {
    if (!['1', 'true', '0', 'false'].includes(q)) throw new WeftError(ErrorCodes.BAD_REQUEST, `invalid force=${JSON.stringify(q)}: use 1 or 0`);
    force = q === '1' || q === 'true';
  }
  if (body !== undefined && body !== null) {
    if (typeof body !== 'object' || Array.isArray(body)) throw new WeftError(ErrorCodes.BAD_REQUEST, 'invalid remove host request: body must be an object');
    const extra = Object.keys(body).filter((k) => k !== 'force');
    if (extra.length > 0) throw new WeftError(ErrorCodes.BAD_REQUEST, `invalid remove host request: unknown field ${JSON.stringify(extra[0])}`);
    const f = (body as { force?: unknown }).force;
    if (f !== undefined && typeof f !== 'boolean') throw new WeftError(ErrorCodes.BAD_REQUEST, 'invalid remove host request: force must be true or false');
    force = force || f === true;
  }
  return force;
}

/**
 * Serves GET /v1/hosts, GET /v1/hosts/{idOrHostname} (inspect) and DELETE /v1/hosts/{idOrHostname}. `parts` is the decoded path split on
 * '/' (['v1', 'hosts', ...]); `query` the request's search params. Throws WeftError.
 */
export async function routeHosts(
  ctx: HostsApiContext,
  method: string,
  parts: readonly string[],
  body: unknown,
  query?: URLSearchParams,
): Promise<ApiResponse> {
  if (parts[0] !== 'v1' || parts[1] !== 'hosts') throw new WeftError(ErrorCodes.BAD_REQUEST, `unknown path /${parts.join('/')}`);
  const m = ctx.membership;
  if (!m) throw new WeftError(ErrorCodes.NOT_SUPPORTED, 'cluster membership is not running in this weftd');
  if (parts.length === 2 && method === 'GET') {
    const hosts = await m.hosts();
    return { status: 200, body: hosts.map((h) => hostView(h, m.selfId)) };
  }
  if (parts.length === 3 && method === 'GET') {
    const h = await m.find(parts[2]!);
    // Another host's own report: shown for what it is (with its time); a store hiccup loses only it.
    const reported = h.id !== m.selfId && ctx.health?.reported ? await ctx.health.reported(h.id).catch(() => undefined) : undefined;
    return { status: 200, body: hostInspectView(h, m.selfId, ctx.health, reported) };
  }
  if (parts.length === 3 && method === 'DELETE') {
    const force = parseForce(body, query);
    const removed = await m.remove(parts[2]!, { force });
    return { status: 200, body: hostView(removed, m.selfId) };
  }
  throw new WeftError(ErrorCodes.BAD_REQUEST, `unknown route ${method} /${parts.join('/')}`);
}
