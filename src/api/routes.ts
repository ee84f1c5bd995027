// The management API's routes: wire (src/api/types.ts) <-> controller. No sockets here; the
// server (src/api/server.ts) feeds requests in, so routes are tested without listening.

import { z } from 'zod';
import type { Controller, CreateNetworkRequest } from '../controller/controller.js';
import { ErrorCodes, WeftError } from '../model/errors.js';
import { DRIVER_NAMES, type DriverName, type EndpointRecord, type NetworkRecord } from '../model/network.js';
import { parsePublishSpec } from '../model/publish.js';
import type { EndpointView, NetworkView, VersionView } from './types.js';
import type { Membership } from '../cluster/membership.js';
import { type HostHealthSource, routeHosts } from './hosts-routes.js';

export interface ApiResponse {
  status: number;
  body: unknown;
}

export interface ApiContext {
  controller: Controller;
  membership: Membership;
  version: () => VersionView;
  /** Overlay peer programming on this host (GET /v1/overlay): repairs, passes, VTEPs per network. */
  overlay?: () => unknown;
  /** Prometheus text for GET /metrics (served as text by server.ts, not through route()). */
  metrics?: () => Promise<string>;
  /** GET /v1/check: store, IPAM and kernel compared (src/controller/checker.ts). */
  check?: () => Promise<unknown>;
  /** POST /v1/check?repair=1: check, repair what is safe, check again (src/controller/check-repair.ts). */
  repairCheck?: () => Promise<unknown>;
  /** GET /v1/hosts/{host}: VTEP probes, transmit-checksum self-test, overlay counters. */
  hostHealth?: HostHealthSource;
}

const stringMap = z.record(z.string(), z.string());

const createNetworkSchema = z.object({
  name: z.string(),
  driver: z.string().optional(),
  ipam: z
    .array(
      z.object({
        subnet: z.string(),
        gateway: z.string().optional(),
        ipRange: z.string().optional(),
        auxAddresses: stringMap.optional(),
      }),
    )
    .optional(),
  ipv6: z.boolean().optional(),
  internal: z.boolean().optional(),
  options: stringMap.optional(),
});

const connectSchema = z.object({
  netns: z.string(),
  ip: z.string().optional(),
  ip6: z.string().optional(),
  publish: z.array(z.string()).optional(),
});

const disconnectSchema = z.object({ netns: z.string() });

function parseBody<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'body';
    throw new WeftError(ErrorCodes.BAD_REQUEST, `invalid ${what} request: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data;
}

export function endpointView(ep: EndpointRecord, net: NetworkRecord): EndpointView {
  return {
    id: ep.id,
    network: net.name,
    networkId: net.id,
    ...(ep.sandbox ? { netns: ep.sandbox.name ?? ep.sandbox.path } : {}),
    ...(ep.ifName ? { ifName: ep.ifName } : {}),
    ...(ep.addressV4 ? { ipv4: ep.addressV4 } : {}),
    ...(ep.addressV6 ? { ipv6: ep.addressV6 } : {}),
    ...(ep.mac ? { mac: ep.mac } : {}),
    ...(ep.published?.length ? { ports: ep.published } : {}),
    origin: ep.origin,
  };
}

export function networkView(net: NetworkRecord, endpoints: EndpointRecord[], scope: 'local' | 'global'): NetworkView {
  return {
    id: net.id,
    name: net.name,
    driver: net.driver,
    scope,
    internal: net.internal,
    ipv6: net.enableIPv6,
    origin: net.origin,
    options: net.options,
    ipam: [...net.ipv4, ...net.ipv6].map((e) => ({
      subnet: e.subnet,
      ...(e.gateway ? { gateway: e.gateway } : {}),
      ...(e.ipRange ? { ipRange: e.ipRange } : {}),
      auxAddresses: e.auxAddresses,
      ...(e.poolId ? { poolId: e.poolId } : {}),
    })),
    endpoints: endpoints.map((ep) => endpointView(ep, net)),
    created: net.createdAt,
  };
}

async function viewOf(c: Controller, net: NetworkRecord): Promise<NetworkView> {
  // Overlay networks span the cluster (their records live in the cluster store), though the
  // driver tells Docker "local" (protocol §7): show what they are.
  const scope = net.driver === 'overlay' ? 'global' : c.capabilities(net.driver).scope;
  return networkView(net, await c.listEndpoints(net.id), scope);
}

/** Dispatches one request. Throws WeftError; the server maps it to a status and ErrorBody. */
export async function route(ctx: ApiContext, method: string, pathname: string, body: unknown, searchParams = new URLSearchParams()): Promise<ApiResponse> {
  const c = ctx.controller;
  let parts: string[];
  try {
    parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw new WeftError(ErrorCodes.BAD_REQUEST, `malformed percent-encoding in path ${JSON.stringify(pathname.slice(0, 200))}`);
  }
  if (parts[0] !== 'v1') throw new WeftError(ErrorCodes.BAD_REQUEST, `unknown path ${pathname}`);

  if (parts[1] === 'version' && parts.length === 2 && method === 'GET') return { status: 200, body: ctx.version() };

  if (parts[1] === 'overlay' && parts.length === 2 && method === 'GET') {
    if (!ctx.overlay) throw new WeftError(ErrorCodes.NOT_SUPPORTED, 'this weftd has no overlay driver');
    return { status: 200, body: ctx.overlay() };
  }

  if (parts[1] === 'check' && parts.length === 2 && method === 'GET' && ctx.check) return { status: 200, body: await ctx.check() };
  if (parts[1] === 'check' && parts.length === 2 && method === 'POST' && ctx.repairCheck) {
    if (searchParams.get('repair') !== '1') throw new WeftError(ErrorCodes.BAD_REQUEST, 'POST /v1/check repairs: ask for it with ?repair=1 (GET /v1/check only checks)');
    return { status: 200, body: await ctx.repairCheck() };
  }
  if (parts[1] === 'hosts') return routeHosts({ membership: ctx.membership, ...(ctx.hostHealth ? { health: ctx.hostHealth } : {}) }, method, parts, body, searchParams);

  if (parts[1] === 'networks') {
    if (parts.length === 2 && method === 'GET') {
      const nets = await c.listNetworks();
      return { status: 200, body: await Promise.all(nets.map((n) => viewOf(c, n))) };
    }
    if (parts.length === 2 && method === 'POST') {
      const b = parseBody(createNetworkSchema, body, 'create network');
      const driver = (b.driver ?? 'bridge') as DriverName;
      if (!DRIVER_NAMES.includes(driver)) {
        throw new WeftError(ErrorCodes.DRIVER_NOT_FOUND, `unknown driver ${JSON.stringify(b.driver)}: use one of ${DRIVER_NAMES.join(', ')}`);
      }
      const entries = (b.ipam ?? []).map((e) => ({
        subnet: e.subnet,
        ...(e.gateway ? { gateway: e.gateway } : {}),
        ...(e.ipRange ? { ipRange: e.ipRange } : {}),
        auxAddresses: e.auxAddresses ?? {},
      }));
      const req: CreateNetworkRequest = {
        name: b.name,
        driver,
        origin: 'weft',
        options: b.options ?? {},
        internal: b.internal ?? false,
        enableIPv6: b.ipv6 ?? false,
        ipv4: entries.filter((e) => !e.subnet.includes(':')),
        ipv6: entries.filter((e) => e.subnet.includes(':')),
      };
      const net = await c.createNetwork(req);
      return { status: 201, body: await viewOf(c, net) };
    }
    const name = parts[2];
    if (name !== undefined && parts.length === 3) {
      if (method === 'GET') return { status: 200, body: await viewOf(c, await c.getNetwork(name)) };
      if (method === 'DELETE') {
        await c.deleteNetwork(name);
        return { status: 200, body: {} };
      }
    }
    if (name !== undefined && parts.length === 4 && method === 'POST') {
      if (parts[3] === 'connect') {
        const b = parseBody(connectSchema, body, 'connect');
        const portMappings = (b.publish ?? []).flatMap(parsePublishSpec);
        const ep = await c.connect(name, {
          netns: b.netns,
          ...(b.ip !== undefined ? { ip: b.ip } : {}),
          ...(b.ip6 !== undefined ? { ip6: b.ip6 } : {}),
          ...(portMappings.length ? { portMappings } : {}),
        });
        return { status: 200, body: endpointView(ep, await c.getNetwork(ep.networkId)) };
      }
      if (parts[3] === 'disconnect') {
        const b = parseBody(disconnectSchema, body, 'disconnect');
        await c.disconnect(name, b.netns);
        return { status: 200, body: {} };
      }
    }
  }
  throw new WeftError(ErrorCodes.BAD_REQUEST, `unknown route ${method} ${pathname}`);
}
