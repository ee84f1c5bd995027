// Checks the NetworkDriver handlers make before they hand a Docker request to the controller, so
// that a request no dockerd would send is refused instead of acted on (found by the fuzz test):
// - the network is named by its exact id, was created through Docker, and belongs to this socket's
//   driver (the controller's getNetwork also resolves names and id prefixes, as the CLI wants);
// - an endpoint address Docker hands us lies in one of the network's subnets, with the subnet's
//   prefix length, and is none of the addresses Docker's IPAM never gives out (network,
//   broadcast, gateway, aux) nor one another endpoint of the network holds.
// The last check reads the records outside the controller's per-network lock: it refuses the
// mistakes, it does not make concurrent duplicates impossible (weft's IPAM does, for its pools).

import { cidrContains, parseCidr, parseIp } from '../../model/address.js';
import { ErrorCodes, WeftError, isWeftError } from '../../model/errors.js';
import type { EndpointRecord, NetworkRecord } from '../../model/network.js';
import type { HandlerContext } from './context.js';
import { resolveNetworkId } from './overlay-network.js';

/** The Docker network with exactly this id on this plugin socket; NETWORK_NOT_FOUND otherwise.
 *  An overlay engine's NetworkID is first translated to its cluster network, which may have been
 *  made with `weft network create` (a cluster network serves both front doors). */
export async function dockerNetwork(ctx: HandlerContext, dockerId: string): Promise<NetworkRecord> {
  const networkId = await resolveNetworkId(ctx, dockerId);
  const global = ctx.plugin.driver === 'overlay';
  let net: NetworkRecord | undefined;
  try {
    net = await ctx.controller.getNetwork(networkId);
  } catch (e) {
    if (!isWeftError(e, ErrorCodes.NETWORK_NOT_FOUND) && !isWeftError(e, ErrorCodes.INVALID_NAME)) throw e;
  }
  if (!net || net.id !== networkId || (!global && net.origin !== 'docker') || (ctx.plugin.driver !== undefined && net.driver !== ctx.plugin.driver)) {
    throw new WeftError(ErrorCodes.NETWORK_NOT_FOUND, `no ${ctx.plugin.name} network with id ${dockerId}`);
  }
  return net;
}

const outOfPool = (msg: string) => new WeftError(ErrorCodes.ADDRESS_OUT_OF_POOL, msg);

/** Throws unless `cidr` (address/prefix, as Docker sends it) can be this endpoint's address. */
export function checkEndpointAddress(net: NetworkRecord, others: readonly EndpointRecord[], cidr: string): void {
  const addr = parseCidr(cidr, 'endpoint address');
  const ip = parseIp(addr.ip, 'endpoint address');
  const entries = addr.family === 4 ? net.ipv4 : net.ipv6;
  const entry = entries.find((e) => cidrContains(parseCidr(e.subnet), ip));
  if (!entry) {
    const subnets = entries.map((e) => e.subnet);
    throw outOfPool(
      subnets.length === 0
        ? `endpoint address ${cidr}: network ${net.name} has no IPv${addr.family} subnet`
        : `endpoint address ${cidr} is outside the subnets of network ${net.name} (${subnets.join(', ')})`,
    );
  }
  const subnet = parseCidr(entry.subnet);
  if (addr.prefix !== subnet.prefix) {
    throw outOfPool(`endpoint address ${cidr} has prefix length /${addr.prefix}, but its subnet is ${entry.subnet}`);
  }
  const bits = addr.family === 4 ? 32n : 128n;
  const host = ip.value & ((1n << (bits - BigInt(subnet.prefix))) - 1n);
  const hostMax = (1n << (bits - BigInt(subnet.prefix))) - 1n;
  if (addr.family === 4 && subnet.prefix <= 30 && (host === 0n || host === hostMax)) {
    throw outOfPool(`endpoint address ${cidr} is the ${host === 0n ? 'network' : 'broadcast'} address of ${entry.subnet}`);
  }
  // By value: an IPv6 address has several spellings.
  const same = (other: string | undefined): boolean => {
    if (other === undefined) return false;
    try {
      const o = parseIp(other.split('/')[0]!);
      return o.family === ip.family && o.value === ip.value;
    } catch {
      return false;
    }
  };
  if (same(entry.gateway)) throw new WeftError(ErrorCodes.ADDRESS_IN_USE, `endpoint address ${cidr} is the gateway of network ${net.name}`);
  const aux = Object.entries(entry.auxAddresses).find(([, a]) => same(a));
  if (aux) throw new WeftError(ErrorCodes.ADDRESS_IN_USE, `endpoint address ${cidr} is reserved as aux address ${aux[0]} of network ${net.name}`);
  // A Docker endpoint holding it is judged by the controller under the network's lock: a live one
  // refuses the request, a stale one (Docker forgot it across a weftd crash) is dropped.
  const holder = others.find((ep) => ep.origin !== 'docker' && (same(ep.addressV4) || same(ep.addressV6)));
  if (holder) throw new WeftError(ErrorCodes.ADDRESS_IN_USE, `endpoint address ${cidr} is held by endpoint ${holder.id.slice(0, 12)} of network ${net.name}`);
}
