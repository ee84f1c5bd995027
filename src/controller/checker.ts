// `weft check`: compares the store, the IPAM and the kernel, and reports every inconsistency it
// can see. Read-only: it changes nothing (repairs belong to the reconciler and, later,
// `weft check --repair`). Findings have stable kinds so scripts can act on them.

import type { NetworkDriver } from '../driver-api/driver.js';
import { cidrContains, parseCidr, parseIp } from '../model/address.js';
import type { Ipam } from '../ipam/ipam.js';
import type { EndpointRecord, NetworkRecord } from '../model/network.js';
import type { LinkInfo } from '../sys/link-ops.js';
import { ownerOfAlias } from '../sys/links.js';
import type { Controller } from './controller.js';

export type FindingKind =
  /** An endpoint record points at a network that does not exist. */
  | 'orphan-endpoint'
  /** An IPAM address held for an endpoint that no endpoint record has. */
  | 'orphan-allocation'
  /** An endpoint record's address that the IPAM does not hold for it. */
  | 'unallocated-address'
  /** Two endpoint records with the same address in one network. */
  | 'duplicate-address'
  /** A link carrying weft's mark whose owner the store does not know. */
  | 'orphan-link'
  /** A kernel object a driver expects for a record is missing. */
  | 'missing-kernel-object';

export interface Finding {
  kind: FindingKind;
  message: string;
  details?: Record<string, unknown>;
}

export interface CheckReport {
  clean: boolean;
  findings: Finding[];
  checked: { networks: number; endpoints: number; pools: number; links: number };
}

export interface CheckDeps {
  controller: Controller;
  ipam: Ipam;
  /** The links of the namespace weftd runs in. */
  links: () => Promise<LinkInfo[]>;
  driver: (name: NetworkRecord['driver']) => NetworkDriver;
  /** This host's id: in a global pool (overlay) only its own allocations are checked against its
   *  endpoints; the other hosts' belong to their endpoints. */
  hostId?: string;
}

const bare = (cidr: string) => cidr.split('/')[0]!;

export async function runCheck(deps: CheckDeps): Promise<CheckReport> {
  const findings: Finding[] = [];
  const networks = await deps.controller.listNetworks();
  const endpoints = await deps.controller.listEndpoints();
  const byNet = new Map(networks.map((n) => [n.id, n]));

  for (const ep of endpoints) {
    if (!byNet.has(ep.networkId)) {
      findings.push({ kind: 'orphan-endpoint', message: `endpoint ${ep.id.slice(0, 12)} belongs to network ${ep.networkId.slice(0, 12)}, which does not exist`, details: { endpointId: ep.id, networkId: ep.networkId } });
    }
  }

  // Addresses held twice by records of one network.
  for (const net of networks) {
    const seen = new Map<string, EndpointRecord>();
    for (const ep of endpoints.filter((e) => e.networkId === net.id)) {
      for (const a of [ep.addressV4, ep.addressV6]) {
        if (!a) continue;
        const other = seen.get(bare(a));
        if (other) findings.push({ kind: 'duplicate-address', message: `address ${bare(a)} is held by endpoints ${other.id.slice(0, 12)} and ${ep.id.slice(0, 12)} of network ${net.name}`, details: { address: bare(a), endpoints: [other.id, ep.id], networkId: net.id } });
        else seen.set(bare(a), ep);
      }
    }
  }

  // IPAM against records, for the pools of weft's networks. Docker's own requests carry no
  // endpoint id, so a Docker endpoint's address is matched by value.
  const pools = await deps.ipam.listPools();
  for (const net of networks) {
    for (const entry of [...net.ipv4, ...net.ipv6]) {
      if (!entry.poolId || !pools.some((p) => p.poolId === entry.poolId)) continue;
      const held = await deps.ipam.allocations(entry.poolId);
      const recorded = endpoints.filter((e) => e.networkId === net.id);
      const addrs = new Set(recorded.flatMap((e) => [e.addressV4, e.addressV6].filter((a): a is string => !!a).map(bare)));
      for (const a of held) {
        if (a.kind !== 'endpoint' || addrs.has(a.address)) continue;
        if (a.host !== undefined && deps.hostId !== undefined && a.host !== deps.hostId) continue;
        // A weft endpoint is named as the owner; anything else with no record is orphaned too.
        findings.push({ kind: 'orphan-allocation', message: `${a.address} in pool ${entry.subnet} is allocated${a.owner ? ` to ${a.owner.slice(0, 12)}` : ''} but no endpoint of network ${net.name} has it`, details: { poolId: entry.poolId, address: a.address, owner: a.owner } });
      }
      if (net.origin === 'weft') {
        const heldSet = new Set(held.map((a) => a.address));
        for (const ep of recorded) {
          for (const cidr of [ep.addressV4, ep.addressV6]) {
            if (cidr && inSubnet(bare(cidr), entry.subnet) && !heldSet.has(bare(cidr))) {
              findings.push({ kind: 'unallocated-address', message: `endpoint ${ep.id.slice(0, 12)} of network ${net.name} uses ${bare(cidr)}, which the IPAM does not hold: it could be handed out twice`, details: { endpointId: ep.id, address: bare(cidr), poolId: entry.poolId } });
            }
          }
        }
      }
    }
  }

  // Kernel: marked links with no owner, and objects drivers expect.
  const links = await deps.links();
  const owners = new Set([...networks.map((n) => n.id), ...endpoints.map((e) => e.id)]);
  for (const l of links) {
    const owner = ownerOfAlias(l.alias);
    if (owner !== undefined && !owners.has(owner)) {
      findings.push({ kind: 'orphan-link', message: `link ${l.name} is marked weft:${owner.slice(0, 12)}, which the store does not know`, details: { link: l.name, owner } });
    }
  }
  const names = new Set(links.map((l) => l.name));
  for (const net of networks) {
    const expected = deps.driver(net.driver).expectedLinks?.(net, endpoints.filter((e) => e.networkId === net.id)) ?? [];
    for (const x of expected) {
      if (!names.has(x.name)) findings.push({ kind: 'missing-kernel-object', message: `link ${x.name} (${x.what}) of network ${net.name} is missing`, details: { link: x.name, networkId: net.id } });
    }
  }

  return { clean: findings.length === 0, findings, checked: { networks: networks.length, endpoints: endpoints.length, pools: pools.length, links: links.length } };
}

function inSubnet(ip: string, subnet: string): boolean {
  return cidrContains(parseCidr(subnet), parseIp(ip));
}
