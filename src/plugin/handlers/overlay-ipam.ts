// IpamDriver calls for weft-overlay networks (`--ipam-opt weft.network=NAME`): every host's
// engine asks for "a pool" and gets the cluster network's one global pool, under a PoolID that
// says which network it stands for: `weft.network/<NAME>/<global pool id>`. Docker's engines
// each believe they own that pool, so what they release is filtered here:
//
// - RequestPool: the existing network's pool (subnet must match --subnet, if given), with its
//   gateway in Data so the engine does not ask for one; or, while NAME is being created, a new
//   global pool named NAME (or the one a retried create left).
// - RequestAddress: container addresses from the global pool (unique across hosts by the IPAM's
//   compare-and-swap); the gateway is the network's, never a second one.
// - ReleaseAddress: never the network's gateway or aux addresses while it exists.
// - ReleasePool: never while the network holds the pool (it goes with the network, see
//   CnmController.deleteNetwork); a pool no network holds is a rolled-back create and is released.

import type { HandlerContext } from './context.js';
import { ErrorCodes, WeftError, isWeftError } from '../../model/errors.js';
import { isValidNetworkName, type IpamEntry, type NetworkRecord } from '../../model/network.js';
import { parseCidr } from '../../model/address.js';
import type { AddressKind } from '../../ipam/ipam.js';
import { WEFT_NETWORK_OPTION } from '../../../drivers/overlay/options.js';

export const MAPPED_POOL_PREFIX = `${WEFT_NETWORK_OPTION}/`;
const GATEWAY_DATA_KEY = 'com.docker.network.gateway';

export function mappedPoolId(name: string, poolId: string): string {
  return `${MAPPED_POOL_PREFIX}${name}/${poolId}`;
}

export function parseMappedPoolId(id: string): { name: string; poolId: string } | undefined {
  if (!id.startsWith(MAPPED_POOL_PREFIX)) return undefined;
  const rest = id.slice(MAPPED_POOL_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  const name = rest.slice(0, slash);
  return isValidNetworkName(name) ? { name, poolId: rest.slice(slash + 1) } : undefined;
}

const sameCidr = (a: string, b: string): boolean => {
  try {
    const x = parseCidr(a);
    const y = parseCidr(b);
    return x.family === y.family && x.prefix === y.prefix && x.value === y.value;
  } catch {
    return false;
  }
};
const prefixOf = (cidr: string): number => parseCidr(cidr).prefix;
const entriesOf = (n: NetworkRecord): IpamEntry[] => [...n.ipv4, ...n.ipv6];

/** The cluster network named exactly `name`, if any (getNetwork also matches id prefixes). */
export async function clusterNetwork(ctx: HandlerContext, name: string): Promise<NetworkRecord | undefined> {
  try {
    const n = await ctx.controller.getNetwork(name);
    return n.name === name ? n : undefined;
  } catch (e) {
    if (isWeftError(e, ErrorCodes.NETWORK_NOT_FOUND)) return undefined;
    throw e;
  }
}

function checkName(name: string): void {
  if (!isValidNetworkName(name)) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `IPAM option ${WEFT_NETWORK_OPTION}=${JSON.stringify(name)} is not a network name: a letter or digit, then letters, digits, '_', '.', '-' (at most 64)`);
  }
}

export interface MappedPoolRequest {
  name: string;
  pool?: string;
  subPool?: string;
  v6: boolean;
  /** The other --ipam-opt values. */
  options: Record<string, string>;
}

export async function requestMappedPool(ctx: HandlerContext, req: MappedPoolRequest): Promise<{ PoolID: string; Pool: string; Data: Record<string, string> }> {
  checkName(req.name);
  const fam = req.v6 ? 6 : 4;
  const net = await clusterNetwork(ctx, req.name);
  if (net) {
    if (net.driver !== 'overlay') {
      throw new WeftError(ErrorCodes.INVALID_OPTION, `network ${req.name} is a ${net.driver} network: ${WEFT_NETWORK_OPTION} names an overlay network`);
    }
    const entries = req.v6 ? net.ipv6 : net.ipv4;
    if (entries.length === 0) throw new WeftError(ErrorCodes.INVALID_OPTION, `overlay network ${req.name} has no IPv${fam} subnet`);
    const entry = req.pool ? entries.find((e) => sameCidr(e.subnet, req.pool!)) : entries[0];
    if (!entry) {
      throw new WeftError(
        ErrorCodes.INVALID_OPTION,
        `overlay network ${req.name} has subnet ${entries.map((e) => e.subnet).join(', ')}, not ${req.pool}: leave --subnet out (the network exists) or give the same`,
      );
    }
    if (!entry.poolId) throw new WeftError(ErrorCodes.POOL_NOT_FOUND, `overlay network ${req.name} has no weft pool for ${entry.subnet}`);
    ctx.bindings?.claim(req.name, entry.subnet);
    ctx.log.info({ network: req.name, poolId: entry.poolId }, 'engine bound to the cluster network\'s pool');
    return {
      PoolID: mappedPoolId(req.name, entry.poolId),
      Pool: entry.subnet,
      Data: entry.gateway ? { [GATEWAY_DATA_KEY]: `${entry.gateway}/${prefixOf(entry.subnet)}` } : {},
    };
  }
  // NAME is being created (here, or on another host right now): take the pool a retried or
  // concurrent create left, else a new one, named NAME, in the cluster's address space.
  const space = ctx.ipam.defaultAddressSpaces().global;
  const held = new Set((await ctx.controller.listNetworks()).flatMap((n) => entriesOf(n).flatMap((e) => (e.poolId ? [e.poolId] : []))));
  const pending = (await ctx.ipam.listPools()).find(
    (p) => p.addressSpace === space && p.network === req.name && p.v6 === req.v6 && !held.has(p.poolId) && (!req.pool || sameCidr(p.pool, req.pool)),
  );
  const info =
    pending ??
    (await ctx.ipam.requestPool({
      addressSpace: space,
      v6: req.v6,
      network: req.name,
      ...(req.pool ? { pool: req.pool } : {}),
      ...(req.subPool ? { subPool: req.subPool } : {}),
      ...(Object.keys(req.options).length ? { options: req.options } : {}),
    }));
  ctx.bindings?.claim(req.name, info.pool);
  return { PoolID: mappedPoolId(req.name, info.poolId), Pool: info.pool, Data: {} };
}

/** The entry of `net` that holds the pool, or a clear error for an engine bound to an older network of the same name. */
function entryFor(net: NetworkRecord, poolId: string): IpamEntry {
  const e = entriesOf(net).find((x) => x.poolId === poolId);
  if (!e) {
    throw new WeftError(
      ErrorCodes.POOL_NOT_FOUND,
      `overlay network ${net.name} was removed and created again since this Docker engine bound to it: docker-sync replaces the engine's copy (or run docker network rm ${net.name} here)`,
    );
  }
  return e;
}

export async function requestMappedAddress(ctx: HandlerContext, mapped: { name: string; poolId: string }, kind: AddressKind, address?: string): Promise<string> {
  const net = await clusterNetwork(ctx, mapped.name);
  if (net) {
    const entry = entryFor(net, mapped.poolId);
    if (kind === 'gateway') {
      if (!entry.gateway) throw new WeftError(ErrorCodes.ADDRESS_OUT_OF_POOL, `overlay network ${net.name} has no gateway in ${entry.subnet}`);
      if (address && address !== entry.gateway) {
        throw new WeftError(ErrorCodes.INVALID_OPTION, `overlay network ${net.name} has gateway ${entry.gateway}, not ${address}: leave --gateway out (the network exists) or give the same`);
      }
      return `${entry.gateway}/${prefixOf(entry.subnet)}`;
    }
  } else if (kind === 'gateway') {
    // One gateway for the whole cluster: a retried create finds the one it took.
    const pool = await ctx.ipam.getPool(mapped.poolId);
    const gw = pool && (await ctx.ipam.allocations(mapped.poolId)).find((a) => a.kind === 'gateway');
    if (pool && gw && (!address || address === gw.address)) return `${gw.address}/${prefixOf(pool.pool)}`;
  }
  return (await ctx.ipam.requestAddress({ poolId: mapped.poolId, kind, ...(address ? { address } : {}) })).address;
}

export async function releaseMappedAddress(ctx: HandlerContext, mapped: { name: string; poolId: string }, address: string): Promise<void> {
  const net = await clusterNetwork(ctx, mapped.name);
  const ip = address.split('/')[0]!;
  if (net) {
    const entry = entriesOf(net).find((x) => x.poolId === mapped.poolId);
    // Every engine releases "its" gateway and aux addresses when it drops its copy: they are the
    // network's, and stay while it exists.
    if (entry && (entry.gateway === ip || Object.values(entry.auxAddresses).includes(ip))) return;
  }
  await ctx.ipam.releaseAddress(mapped.poolId, address);
}

export async function releaseMappedPool(ctx: HandlerContext, mapped: { name: string; poolId: string }): Promise<void> {
  const networks = await ctx.controller.listNetworks();
  const holder = networks.find((n) => entriesOf(n).some((e) => e.poolId === mapped.poolId));
  if (holder) {
    ctx.log.debug({ poolId: mapped.poolId, network: holder.name }, 'ReleasePool of a cluster network\'s pool: kept while the network exists');
    return;
  }
  await ctx.ipam.releasePool(mapped.poolId);
}
