// Checks the firewall's input before anything is rendered: nothing a user or Docker handed us
// reaches nft text unless it passed one of these checks. Interface names go through
// isValidIfName, addresses are parsed into numbers (the text kept for rendering is the parsed,
// lower-cased address, which can only hold hex digits, '.' and ':'), ports must be integers.
// Pure.

import { ErrorCodes, WeftError } from '../../model/errors.js';
import { isValidId, isValidIfName } from '../../model/network.js';
import { parseCidr, parseIp } from '../../model/address.js';
import type { FirewallNetwork, FirewallPortMapping, FirewallState } from '../firewall.js';

export type Family = 4 | 6;
export type Proto = FirewallPortMapping['proto'];
export const PROTOS: readonly Proto[] = ['tcp', 'udp', 'sctp'];

/** A validated address. */
export interface Addr {
  family: Family;
  value: bigint;
  /** Safe to render: the parsed address, lower case. */
  text: string;
}

/** A validated subnet: [lo, hi] inclusive, and its CIDR text. */
export interface Subnet {
  family: Family;
  lo: bigint;
  hi: bigint;
  prefix: number;
  text: string;
}

export interface CheckedNetwork {
  id: string;
  bridge: string;
  v4: Subnet[];
  v6: Subnet[];
  icc: boolean;
  masquerade: boolean;
  masqueradeV6: boolean;
  internal: boolean;
  /** Undefined when unset or 0.0.0.0 (every local address). */
  hostBindingIpv4?: Addr;
}

export interface CheckedPort {
  networkId: string;
  proto: Proto;
  family: Family;
  /** Undefined = every local address of the family (after applying the network's hostBindingIpv4). */
  hostIp?: Addr;
  hostPort: number;
  containerIp: Addr;
  containerPort: number;
}

export interface CheckedState {
  networks: CheckedNetwork[];
  ports: CheckedPort[];
}

const bits = (f: Family): number => (f === 4 ? 32 : 128);

function addr(text: unknown, what: string, family?: Family): Addr {
  const p = parseIp(text as string, what);
  if (family !== undefined && p.family !== family) {
    throw new WeftError(ErrorCodes.INVALID_ADDRESS, `${what} ${JSON.stringify(text)} is not an IPv${family} address`);
  }
  return { family: p.family, value: p.value, text: p.ip.toLowerCase() };
}

function subnet(text: unknown, family: Family, bridge: string): Subnet {
  const what = `subnet of bridge ${bridge}`;
  const c = parseCidr(text as string, what);
  if (c.family !== family) {
    throw new WeftError(ErrorCodes.INVALID_ADDRESS, `${what} ${JSON.stringify(text)} is not an IPv${family} subnet`);
  }
  const host = (1n << BigInt(bits(family) - c.prefix)) - 1n;
  if ((c.value & host) !== 0n) {
    throw new WeftError(ErrorCodes.INVALID_ADDRESS, `${what} ${JSON.stringify(text)} has host bits set: give the network address`);
  }
  return { family, lo: c.value, hi: c.value | host, prefix: c.prefix, text: `${c.ip.toLowerCase()}/${c.prefix}` };
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new WeftError(ErrorCodes.INVALID_OPTION, `${what} must be true or false`);
  return v;
}

/** True for '', undefined, 0.0.0.0 and :: (every local address). */
function isAny(ip: string | undefined): boolean {
  return ip === undefined || ip === '' || ip === '0.0.0.0' || ip === '::';
}

export function checkNetwork(n: FirewallNetwork): CheckedNetwork {
  if (typeof n !== 'object' || n === null) throw new WeftError(ErrorCodes.BAD_REQUEST, 'firewall network must be an object');
  if (!isValidId(n.id)) throw new WeftError(ErrorCodes.INVALID_NAME, `firewall network id ${JSON.stringify(n.id)} is not 1-64 hex characters`);
  if (!isValidIfName(n.bridge)) {
    throw new WeftError(ErrorCodes.INVALID_NAME, `bridge name ${JSON.stringify(n.bridge)} is not a valid interface name (1-15 of A-Z a-z 0-9 _ . -)`);
  }
  if (!Array.isArray(n.subnetsV4) || !Array.isArray(n.subnetsV6)) {
    throw new WeftError(ErrorCodes.BAD_REQUEST, `network ${n.id}: subnetsV4 and subnetsV6 must be arrays`);
  }
  const out: CheckedNetwork = {
    id: n.id,
    bridge: n.bridge,
    v4: n.subnetsV4.map((s) => subnet(s, 4, n.bridge)),
    v6: n.subnetsV6.map((s) => subnet(s, 6, n.bridge)),
    icc: bool(n.icc, 'icc'),
    masquerade: bool(n.masquerade, 'masquerade'),
    masqueradeV6: bool(n.masqueradeV6, 'masqueradeV6'),
    internal: bool(n.internal, 'internal'),
  };
  if (!isAny(n.hostBindingIpv4)) out.hostBindingIpv4 = addr(n.hostBindingIpv4, 'host_binding_ipv4', 4);
  assertNoOverlap([...out.v4, ...out.v6]);
  return out;
}

function port(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `${what} ${JSON.stringify(v)} must be an integer 1-65535`);
  }
  return v;
}

/**
 * Validates one mapping. With its network known, applies the network's host_binding_ipv4 to an
 * IPv4 mapping that names no host IP, and checks that the container IP lies in the network.
 */
export function checkPort(p: FirewallPortMapping, network?: CheckedNetwork): CheckedPort {
  if (typeof p !== 'object' || p === null) throw new WeftError(ErrorCodes.BAD_REQUEST, 'port mapping must be an object');
  if (!isValidId(p.networkId)) throw new WeftError(ErrorCodes.INVALID_NAME, `port mapping network id ${JSON.stringify(p.networkId)} is not 1-64 hex characters`);
  if (!PROTOS.includes(p.proto)) throw new WeftError(ErrorCodes.INVALID_OPTION, `protocol ${JSON.stringify(p.proto)} must be tcp, udp or sctp`);
  if (p.family !== 4 && p.family !== 6) throw new WeftError(ErrorCodes.INVALID_OPTION, `family ${JSON.stringify(p.family)} must be 4 or 6`);
  const family = p.family;
  const out: CheckedPort = {
    networkId: p.networkId,
    proto: p.proto,
    family,
    hostPort: port(p.hostPort, 'host port'),
    containerIp: addr(p.containerIp, 'container address', family),
    containerPort: port(p.containerPort, 'container port'),
  };
  if (!isAny(p.hostIp)) {
    out.hostIp = addr(p.hostIp, 'host address', family);
    if (family === 6 && out.hostIp.value === 1n) {
      // There is no IPv6 route_localnet: a packet from ::1 can never leave `lo`, so DNAT cannot work.
      throw new WeftError(ErrorCodes.NOT_SUPPORTED, `cannot publish on [::1]:${p.hostPort}: the Linux kernel cannot DNAT IPv6 loopback traffic; publish on another address or on 127.0.0.1`);
    }
  } else if (family === 4 && network?.hostBindingIpv4 && (p.hostIp === undefined || p.hostIp === '')) {
    // Only a mapping that names no host IP takes the default; an explicit 0.0.0.0 means every address.
    out.hostIp = network.hostBindingIpv4;
  }
  if (network) {
    if (network.id !== p.networkId) throw new WeftError(ErrorCodes.INTERNAL, `port mapping of network ${p.networkId} checked against network ${network.id}`);
    const subnets = family === 4 ? network.v4 : network.v6;
    if (!subnets.some((s) => out.containerIp.value >= s.lo && out.containerIp.value <= s.hi)) {
      throw new WeftError(ErrorCodes.ADDRESS_OUT_OF_POOL, `container address ${out.containerIp.text} is not in any IPv${family} subnet of bridge ${network.bridge}`);
    }
  }
  return out;
}

/** The key under which the kernel looks a mapping up: two mappings with one key conflict. */
export function portKey(p: CheckedPort): string {
  return `${p.family}|${p.hostIp?.text ?? '*'}|${p.proto}|${p.hostPort}`;
}

const bracket = (p: CheckedPort, ip: string): string => (p.family === 6 ? `[${ip}]` : ip);

/** "0.0.0.0:8080/tcp", "[2001:db8::1]:53/udp": the host side of a mapping. */
export function describeHostSide(p: CheckedPort): string {
  return `${bracket(p, p.hostIp?.text ?? (p.family === 6 ? '::' : '0.0.0.0'))}:${p.hostPort}/${p.proto}`;
}

/** "10.0.0.2:80": the container side of a mapping. */
export function describeContainerSide(p: CheckedPort): string {
  return `${bracket(p, p.containerIp.text)}:${p.containerPort}`;
}

export function describePort(p: CheckedPort): string {
  return `${describeHostSide(p)} -> ${describeContainerSide(p)}`;
}

export function samePort(a: CheckedPort, b: CheckedPort): boolean {
  return portKey(a) === portKey(b) && a.containerIp.value === b.containerIp.value && a.containerPort === b.containerPort && a.networkId === b.networkId;
}

function assertNoOverlap(subnets: Subnet[]): void {
  const sorted = [...subnets].sort((a, b) => a.family - b.family || (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a.family === b.family && b.lo <= a.hi) {
      throw new WeftError(ErrorCodes.POOL_OVERLAP, `subnets ${a.text} and ${b.text} overlap: weft's firewall keys its rules by subnet, so subnets must be disjoint`);
    }
  }
}

/** Validates a whole state: every network and port, unique ids and bridges, disjoint subnets, no two mappings on one host port. */
export function checkState(state: FirewallState): CheckedState {
  if (typeof state !== 'object' || state === null || !Array.isArray(state.networks) || !Array.isArray(state.ports)) {
    throw new WeftError(ErrorCodes.BAD_REQUEST, 'firewall state must have networks and ports arrays');
  }
  const networks = state.networks.map(checkNetwork);
  const byId = new Map<string, CheckedNetwork>();
  const bridges = new Set<string>();
  for (const n of networks) {
    if (byId.has(n.id)) throw new WeftError(ErrorCodes.INVALID_OPTION, `network ${n.id} appears twice in the firewall state`);
    if (bridges.has(n.bridge)) throw new WeftError(ErrorCodes.INVALID_OPTION, `bridge ${n.bridge} belongs to two networks`);
    byId.set(n.id, n);
    bridges.add(n.bridge);
  }
  assertNoOverlap(networks.flatMap((n) => [...n.v4, ...n.v6]));
  const ports = state.ports.map((p) => {
    const n = byId.get(p?.networkId);
    if (!n) throw new WeftError(ErrorCodes.NETWORK_NOT_FOUND, `port mapping for network ${JSON.stringify(p?.networkId)}, which is not in the firewall state`);
    return checkPort(p, n);
  });
  assertNoPortConflicts(ports);
  return { networks, ports };
}

/**
 * Throws ADDRESS_IN_USE when two different mappings claim one host address and port. `existing`
 * may be the mappings already published keyed by portKey: then only the new ones are looked up,
 * so publishing a port does not cost more with every port already published (issue 8).
 */
export function assertNoPortConflicts(ports: CheckedPort[], existing: CheckedPort[] | ReadonlyMap<string, CheckedPort> = []): void {
  const seen = new Map<string, CheckedPort>();
  const before = Array.isArray(existing) ? undefined : (existing as ReadonlyMap<string, CheckedPort>);
  for (const p of [...(before ? [] : (existing as CheckedPort[])), ...ports]) {
    const other = seen.get(portKey(p)) ?? before?.get(portKey(p));
    if (other && !samePort(other, p)) {
      throw new WeftError(ErrorCodes.ADDRESS_IN_USE, `host port ${describeHostSide(p)} is already published to ${describeContainerSide(other)}: unpublish it first or choose another host port`);
    }
    seen.set(portKey(p), p);
  }
}
