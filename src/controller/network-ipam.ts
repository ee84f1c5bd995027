// Address management for networks created through weft's own API: validate what the user asked
// for, then take pools, gateways and aux addresses from weft's IPAM, giving everything back if a
// later step fails. (Docker networks come with their pools already taken by Docker's IPAM call.)

import { cidrContains, cidrWithin, parseCidr, parseIp } from '../model/address.js';
import { ErrorCodes, WeftError } from '../model/errors.js';
import type { IpamEntry } from '../model/network.js';
import type { Ipam, PoolInfo } from '../ipam/ipam.js';
import { L2DOMAIN_OPTION } from '../ipam/requests.js';

/** Checks every subnet, gateway, range and aux address; throws before anything is allocated. */
export function validateIpamEntries(entries: IpamEntry[], family: 4 | 6): void {
  for (const e of entries) {
    const subnet = parseCidr(e.subnet, 'subnet');
    if (subnet.family !== family) {
      throw new WeftError(ErrorCodes.INVALID_ADDRESS, `subnet ${e.subnet} is not an IPv${family} subnet`);
    }
    if (e.gateway !== undefined) {
      const gw = parseIp(e.gateway, 'gateway');
      if (!cidrContains(subnet, gw)) {
        throw new WeftError(ErrorCodes.ADDRESS_OUT_OF_POOL, `gateway ${e.gateway} is not inside subnet ${e.subnet}`);
      }
    }
    if (e.ipRange !== undefined) {
      const range = parseCidr(e.ipRange, 'ip-range');
      if (!cidrWithin(subnet, range)) {
        throw new WeftError(ErrorCodes.ADDRESS_OUT_OF_POOL, `ip-range ${e.ipRange} is not inside subnet ${e.subnet}`);
      }
    }
    for (const [name, ip] of Object.entries(e.auxAddresses)) {
      const aux = parseIp(ip, `aux-address ${name}`);
      if (!cidrContains(subnet, aux)) {
        throw new WeftError(ErrorCodes.ADDRESS_OUT_OF_POOL, `aux-address ${name}=${ip} is not inside subnet ${e.subnet}`);
      }
    }
  }
}

/**
 * Takes pools and fixed addresses for one network. With no entries of a family, asks for a
 * default pool (v4 always, v6 when enableIPv6). Returns the entries with pool ids and gateways
 * filled in; on failure releases whatever it took and rethrows.
 */
export async function acquireNetworkPools(
  ipam: Ipam,
  network: string,
  ipv4: IpamEntry[],
  ipv6: IpamEntry[],
  enableIPv6: boolean,
  /** The driver's L2 domain (NetworkDriver.l2Domain); undefined: the host's routing domain. */
  l2domain: string | undefined,
  /** 'global' for networks that span hosts (overlay): their pools come from the cluster's space. */
  scope: 'local' | 'global' = 'local',
): Promise<{ ipv4: IpamEntry[]; ipv6: IpamEntry[] }> {
  const taken: string[] = [];
  const options: Record<string, string> = l2domain ? { [L2DOMAIN_OPTION]: l2domain } : {};
  const space = ipam.defaultAddressSpaces()[scope];
  const acquire = async (entries: IpamEntry[], v6: boolean): Promise<IpamEntry[]> => {
    const wanted: IpamEntry[] = entries.length > 0 ? entries : [{ subnet: '', auxAddresses: {} }];
    const out: IpamEntry[] = [];
    for (const e of wanted) {
      const pool = await ipam.requestPool({
        addressSpace: space,
        ...(e.subnet ? { pool: e.subnet } : {}),
        ...(e.ipRange ? { subPool: e.ipRange } : {}),
        v6,
        network,
        ...(Object.keys(options).length ? { options } : {}),
      });
      taken.push(pool.poolId);
      const gw = await ipam.requestAddress({
        poolId: pool.poolId,
        kind: 'gateway',
        ...(e.gateway ? { address: e.gateway } : {}),
        owner: 'gateway',
      });
      for (const [name, ip] of Object.entries(e.auxAddresses)) {
        await ipam.requestAddress({ poolId: pool.poolId, kind: 'aux', address: ip, owner: name });
      }
      out.push({
        subnet: pool.pool,
        gateway: gw.address.split('/')[0]!,
        ...(e.ipRange ? { ipRange: e.ipRange } : {}),
        auxAddresses: { ...e.auxAddresses },
        poolId: pool.poolId,
      });
    }
    return out;
  };
  try {
    const v4 = await acquire(ipv4, false);
    const v6 = enableIPv6 || ipv6.length > 0 ? await acquire(ipv6, true) : [];
    return { ipv4: v4, ipv6: v6 };
  } catch (e) {
    await releaseNetworkPools(ipam, taken);
    throw e;
  }
}

/**
 * Docker networks: finds the weft pools Docker took for this network (when it used weft's IPAM)
 * and binds them to the driver's L2 domain, which is where the overlap check of Docker's pools
 * happens (docs/ipam.md, "Binding Docker's pools"). Docker never shows a driver the PoolID, so
 * a pool is found by its subnet (and ip-range) among the pools no other network holds: unbound
 * ones first (there is at most one unbound pool per subnet: the IPAM refuses a request that
 * overlaps an unbound pool), then those `weft.l2domain` bound to this driver's domain. Throws
 * POOL_OVERLAP when a pool overlaps another network's in the same domain; Docker then releases
 * every pool of the refused network (ReleasePool), a bound one included.
 */
export async function bindDockerPools(ipam: Ipam, network: string, entries: IpamEntry[], claimed: Set<string>, l2domain: string | undefined): Promise<void> {
  const pools = (await ipam.listPools()).filter((p) => !claimed.has(p.poolId) && (p.binding !== undefined || p.network === undefined));
  const rank = (p: PoolInfo) => (p.binding !== undefined ? 0 : p.l2domain === l2domain ? 1 : 2);
  pools.sort((a, b) => rank(a) - rank(b));
  const found: { entry: IpamEntry; pool: PoolInfo }[] = [];
  for (const e of entries) {
    const i = pools.findIndex((p) => p.pool === e.subnet && (e.ipRange ? p.subPool === e.ipRange : true));
    if (i < 0) continue; // not a weft pool (Docker's built-in IPAM)
    found.push({ entry: e, pool: pools[i]! });
    pools.splice(i, 1);
  }
  for (const { entry, pool } of found) {
    await ipam.bindPool(pool.poolId, { network, ...(l2domain ? { l2domain } : {}) });
    entry.poolId = pool.poolId;
  }
}

export async function releaseNetworkPools(ipam: Ipam, poolIds: string[]): Promise<void> {
  for (const id of poolIds) await ipam.releasePool(id);
}

/** Pool ids a network holds. */
export function poolIdsOf(entries: IpamEntry[]): string[] {
  return entries.flatMap((e) => (e.poolId ? [e.poolId] : []));
}

/** Picks the pool of a family that contains `ip` (for --ip / --ip6); throws when none does. */
export function poolForAddress(entries: IpamEntry[], ip: string, network: string): IpamEntry {
  const parsed = parseIp(ip);
  const hit = entries.find((e) => cidrContains(parseCidr(e.subnet), parsed));
  if (!hit) {
    throw new WeftError(ErrorCodes.ADDRESS_OUT_OF_POOL, `address ${ip} does not belong to any subnet of network ${network}`);
  }
  return hit;
}
