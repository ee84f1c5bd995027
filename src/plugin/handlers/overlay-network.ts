// NetworkDriver calls on the weft-overlay socket that differ from the other drivers: a Docker
// network there is this engine's copy of one cluster network (`-o weft.network=NAME`), bound by
// its NetworkID (src/plugin/docker-bindings.ts).
//
// - CreateNetwork: refused unless the pools came from weft's IPAM for NAME (a claim, see
//   DockerBindings); then binds to the existing cluster network NAME, or creates it.
// - DeleteNetwork: drops the binding. On the engine that created NAME (its NetworkID is the
//   network's weft id) it also removes NAME from the cluster (docker-sync then removes the other
//   engines' copies); refused while containers on other hosts use it. On every other engine it
//   only drops that engine's copy, and docker-sync gives the engine a new one while NAME exists:
//   a copy is a view, so a `docker network prune` on one host, or a Docker rollback of a copy it
//   failed to make, never removes a cluster network. `weft network rm NAME` removes it from any
//   host.

import type { RequestOf } from '../wire.js';
import type { HandlerContext } from './context.js';
import { ErrorCodes, WeftError, isWeftError } from '../../model/errors.js';
import { toCreateNetworkRequest } from './network-mapping.js';
import { clusterNetwork } from './overlay-ipam.js';
import { parseOverlayOptions } from '../../../drivers/overlay/options.js';
import { foreignIpamError, missingIdentityError } from '../../../drivers/overlay/docker-identity.js';
import type { DockerBindings } from '../docker-bindings.js';

function bindingsOf(ctx: HandlerContext): DockerBindings {
  if (!ctx.bindings) throw new WeftError(ErrorCodes.INTERNAL, 'weft-overlay is served without its network bindings');
  return ctx.bindings;
}

/** The weft network id behind a NetworkID of this socket (bound overlay copies), else the id. */
export async function resolveNetworkId(ctx: HandlerContext, dockerId: string): Promise<string> {
  return ctx.plugin.driver === 'overlay' && ctx.bindings ? ctx.bindings.resolve(dockerId) : dockerId;
}

export async function createOverlayNetwork(req: RequestOf<'NetworkDriver.CreateNetwork'>, ctx: HandlerContext): Promise<void> {
  const base = toCreateNetworkRequest(req, 'overlay');
  const subnet = base.ipv4[0]?.subnet;
  const name = parseOverlayOptions(base.options).identity;
  if (!name) throw missingIdentityError(subnet);
  const bindings = bindingsOf(ctx);
  const pools = [...base.ipv4, ...base.ipv6].map((e) => e.subnet);
  if (!bindings.takeClaims(name, pools)) {
    // Docker's IPAM answers in its own address spaces (LocalDefault); weft's in local/global.
    const weftSpaces: string[] = Object.values(ctx.ipam.defaultAddressSpaces());
    const spaces = [...(req.IPv4Data ?? []), ...(req.IPv6Data ?? [])].map((d) => d.AddressSpace ?? '');
    throw foreignIpamError(name, subnet, spaces.every((s) => weftSpaces.includes(s)) ? 'ipam-opt' : 'default-ipam');
  }
  for (let attempt = 0; ; attempt++) {
    const existing = await clusterNetwork(ctx, name);
    if (existing) {
      if (existing.driver !== 'overlay') throw new WeftError(ErrorCodes.NETWORK_EXISTS, `network ${name} exists and is a ${existing.driver} network, not an overlay`);
      await bindings.put({ dockerId: req.NetworkID, networkId: existing.id, name });
      ctx.log.info({ dockerId: req.NetworkID, networkId: existing.id, network: name }, 'Docker network bound to the cluster network');
      return;
    }
    // Bound before the record exists, so docker-sync never sees NAME without this engine's copy.
    await bindings.put({ dockerId: req.NetworkID, networkId: req.NetworkID, name });
    try {
      await ctx.controller.createNetwork({ ...base, name });
      ctx.log.info({ networkId: req.NetworkID, network: name }, 'cluster network created through Docker');
      return;
    } catch (e) {
      await bindings.delete(req.NetworkID);
      // Created on another host at the same moment: bind to that one.
      if (attempt === 0 && isWeftError(e, ErrorCodes.NETWORK_EXISTS)) continue;
      throw e;
    }
  }
}

export async function deleteOverlayNetwork(dockerId: string, ctx: HandlerContext): Promise<void> {
  const bindings = bindingsOf(ctx);
  const b = await bindings.get(dockerId);
  const target = b?.networkId ?? dockerId;
  if (b) await bindings.drop(dockerId);
  if (b && b.networkId !== dockerId) {
    ctx.log.info({ dockerId, network: b.name }, 'this engine dropped its copy of the cluster network; the network stays (weft network rm removes it), docker-sync makes a new copy');
    return;
  }
  try {
    // Only an overlay network, by its exact id: the controller would also take a name or an id
    // prefix, and this socket must never delete another driver's network (a stale DeleteNetwork
    // of a bridge network's id once removed that network, its endpoints with it).
    const net = await ctx.controller.getNetwork(target);
    if (net.id !== target || net.driver !== 'overlay') return;
    await ctx.controller.deleteNetwork(net.id, 'docker');
  } catch (e) {
    if (isWeftError(e, ErrorCodes.INVALID_NAME)) return;
    if (isWeftError(e, ErrorCodes.NETWORK_NOT_FOUND)) return;
    if (isWeftError(e, ErrorCodes.NETWORK_IN_USE)) {
      ctx.log.warn({ err: e, network: b?.name }, 'this engine dropped its copy, but the cluster network is in use elsewhere and stays; docker-sync gives the engine a new copy');
      return;
    }
    throw e;
  }
}

