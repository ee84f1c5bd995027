// Checks and normalizes IPAM requests before anything touches the store (pure). A request that
// fails here changes nothing; the messages name the flag the user typed where one exists.

import { ErrorCodes, WeftError } from '../model/errors.js';
import type { AddressKind, AddressRequest, AddressSpaceName, AlongsideWrite, PoolRequest } from './ipam.js';
import { type Cidr, type Family, containsCidr, formatCidr, parseIp, parseSubnet, tryParseCidr } from './cidr.js';
import { geometryOf, usableCount } from './blocks.js';
import { ADDRESS_SPACES } from './records.js';

export interface NormalizedPoolRequest {
  space: AddressSpaceName;
  family: Family;
  /** Undefined: choose a default pool. */
  pool?: Cidr;
  subPool?: Cidr;
  options: Record<string, string>;
  network?: string;
  /** `--ipam-opt weft.l2domain=NAME`: the pool's overlap checks are scoped to that L2 domain. */
  l2domain?: string;
  /** Create the pool unbound (PoolRequest.deferL2Domain, and no weft.l2domain given). */
  deferL2Domain: boolean;
}

/**
 * IPAM option that scopes a pool's overlap check to one L2 domain (a macvlan parent or VLAN):
 * pools of different domains may hold the same subnet, each under its own PoolID. Pools without it
 * share the host's routing domain, as before (docs/ipam.md, "L2 domains").
 */
export const L2DOMAIN_OPTION = 'weft.l2domain';
const L2DOMAIN_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** An L2 domain name as pools record it (the option, or bindPool's). Throws INVALID_OPTION. */
export function checkL2Domain(domain: unknown, what = `IPAM option ${L2DOMAIN_OPTION}`): string {
  if (typeof domain !== 'string' || !L2DOMAIN_RE.test(domain)) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `${what}=${JSON.stringify(domain)} is not valid: 1-64 letters, digits, '_', '.', ':', '-' (e.g. the parent interface, eth1.30)`);
  }
  return domain;
}

const bad = (msg: string) => new WeftError(ErrorCodes.BAD_REQUEST, msg);
const familyName = (f: Family) => (f === 4 ? 'IPv4' : 'IPv6');
const isBlank = (v: unknown) => v === undefined || v === null || v === '';

export function checkAddressSpace(space: unknown): AddressSpaceName {
  if (typeof space === 'string' && (ADDRESS_SPACES as readonly string[]).includes(space)) return space as AddressSpaceName;
  throw new WeftError(
    ErrorCodes.ADDRESS_SPACE_NOT_FOUND,
    `unknown address space ${JSON.stringify(space)}: weft has "local" (bridge, macvlan) and "global" (overlay)`,
  );
}

export function checkPoolId(poolId: unknown): string {
  if (typeof poolId !== 'string' || poolId === '') throw bad('a pool id (non-empty string) is required');
  return poolId;
}

function checkStringMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(`${what} must be a map of strings`);
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw bad(`${what} ${JSON.stringify(k)} must be a string`);
  }
  return { ...(v as Record<string, string>) };
}

export function normalizePoolRequest(req: PoolRequest): NormalizedPoolRequest {
  if (typeof req !== 'object' || req === null) throw bad('a pool request is required');
  const space = checkAddressSpace(req.addressSpace);
  if (typeof req.v6 !== 'boolean') throw bad('the pool request field v6 must be true or false');
  const family: Family = req.v6 ? 6 : 4;
  const options = checkStringMap(req.options, 'IPAM option');
  if (req.network !== undefined && (typeof req.network !== 'string' || req.network === '')) throw bad('network name must be a non-empty string');
  if (req.deferL2Domain !== undefined && typeof req.deferL2Domain !== 'boolean') throw bad('the pool request field deferL2Domain must be true or false');
  const out: NormalizedPoolRequest = { space, family, options, deferL2Domain: false };
  if (req.network) out.network = req.network;
  const domain = options[L2DOMAIN_OPTION];
  if (domain !== undefined) out.l2domain = checkL2Domain(domain);
  // A domain given outright is known: nothing to defer (compatibility with weft.l2domain).
  else if (req.deferL2Domain === true) out.deferL2Domain = true;

  if (isBlank(req.pool)) {
    if (!isBlank(req.subPool)) throw bad(`ip-range ${String(req.subPool)} needs an explicit subnet: give --subnet as well`);
    return out;
  }
  const pool = parseSubnet(req.pool as string, 'subnet');
  if (pool.family !== family) {
    throw bad(`subnet ${req.pool} is ${familyName(pool.family)} but the pool request is for ${familyName(family)}`);
  }
  out.pool = pool;
  if (!isBlank(req.subPool)) {
    const sub = parseSubnet(req.subPool as string, 'ip-range');
    if (!containsCidr(pool, sub)) {
      throw bad(`ip-range ${req.subPool} is not inside subnet ${formatCidr(pool)}`);
    }
    out.subPool = sub;
  }
  if (usableCount(geometryOf(pool, out.subPool ?? pool)) === 0n) {
    const what = out.subPool ? `ip-range ${formatCidr(out.subPool)}` : `subnet ${formatCidr(pool)}`;
    throw bad(`${what} has no address that can be handed out; use a larger one`);
  }
  return out;
}

export interface NormalizedAddressRequest {
  poolId: string;
  kind: AddressKind;
  address?: { family: Family; value: bigint; text: string };
  owner?: string;
  alongside?: AlongsideWrite;
}

const KINDS: readonly AddressKind[] = ['gateway', 'aux', 'endpoint'];

export function normalizeAddressRequest(req: AddressRequest): NormalizedAddressRequest {
  if (typeof req !== 'object' || req === null) throw bad('an address request is required');
  const poolId = checkPoolId(req.poolId);
  if (!KINDS.includes(req.kind)) throw bad(`address kind must be one of ${KINDS.join(', ')}, got ${JSON.stringify(req.kind)}`);
  if (req.owner !== undefined && typeof req.owner !== 'string') throw bad('address owner must be a string');
  const out: NormalizedAddressRequest = { poolId, kind: req.kind };
  if (req.owner) out.owner = req.owner;
  if (req.alongside !== undefined) {
    if (typeof req.alongside?.write !== 'function') throw bad('alongside must carry a write function');
    out.alongside = req.alongside;
  }
  if (!isBlank(req.address)) {
    const what = req.kind === 'endpoint' ? 'address' : `${req.kind} address`;
    const ip = parseIp(req.address as string, what);
    out.address = { ...ip, text: req.address as string };
  }
  return out;
}

/** For release: a bare IP or a CIDR (its address part is used). */
export function parseReleaseAddress(address: unknown): { family: Family; value: bigint } {
  if (typeof address !== 'string') throw bad('the address to release must be a string');
  if (address.includes('/')) {
    const c = tryParseCidr(address);
    if (!c) throw new WeftError(ErrorCodes.INVALID_ADDRESS, `invalid address ${JSON.stringify(address)}: not an IP or IP/prefix`);
    return { family: c.family, value: c.base };
  }
  return parseIp(address);
}
