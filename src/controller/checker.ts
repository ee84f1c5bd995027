// `weft check`: compares the store, the IPAM, the kernel (links, nftables elements), the cluster's
// peer table (addresses across hosts) and, when a Docker socket is configured, Docker, and reports
// every inconsistency it can see. Read-only: it changes nothing (check-repair.ts acts on the
// findings for `weft check --repair`). Findings have stable kinds and name their object, so
// scripts can act on them.

import type { NetworkDriver } from '../driver-api/driver.js';
import { cidrContains, parseCidr, parseIp } from '../model/address.js';
import type { Ipam } from '../ipam/ipam.js';
import type { EndpointRecord, NetworkRecord } from '../model/network.js';
import type { LinkInfo } from '../sys/link-ops.js';
import { ownerOfAlias } from '../sys/links.js';
import { netnsPathExists } from '../sys/netns.js';
import { compareWithDocker, type DockerNetworkView } from './check-docker.js';
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
  | 'missing-kernel-object'
  /** An endpoint joined to a namespace that no longer exists. */
  | 'stale-endpoint'
  /** An element in weft's nftables sets/maps (published port, isolation...) that no record asks for. */
  | 'orphan-nft-element'
  /** An element weft's records ask for that the kernel's sets/maps lack. */
  | 'missing-nft-element'
  /** Docker has an endpoint on a weft network that weft has no record of. */
  | 'docker-endpoint-unknown'
  /** weft has a joined Docker endpoint that Docker does not list. */
  | 'docker-endpoint-missing';

export const FINDING_KINDS: readonly FindingKind[] = [
  'orphan-endpoint',
  'orphan-allocation',
  'unallocated-address',
  'duplicate-address',
  'orphan-link',
  'missing-kernel-object',
  'stale-endpoint',
  'orphan-nft-element',
  'missing-nft-element',
  'docker-endpoint-unknown',
  'docker-endpoint-missing',
];

export interface Finding {
  kind: FindingKind;
  /** What the finding is about, stable for scripts: `link wf1a2b`, `address 10.1.0.5`,
   *  `endpoint <id>`, `nft dnat_any_v4 tcp . 8080 : 10.1.0.2 . 80`. */
  object: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface CheckReport {
  clean: boolean;
  findings: Finding[];
  checked: { networks: number; endpoints: number; pools: number; links: number };
}

/** An endpoint of a cluster-wide network as the peer table shows it (any host). */
export interface ClusterPeer {
  endpointId: string;
  host: string;
  ipv4?: string;
  ipv6?: string;
}

export interface CheckDeps {
  controller: Controller;
  ipam: Ipam;
  /** The links of the namespace weftd runs in. */
  links: () => Promise<LinkInfo[]>;
  driver: (name: NetworkRecord['driver']) => NetworkDriver;
  /** weft's nftables elements against what the records want (the bridge driver's firewallDiff). */
  firewallDiff?: () => Promise<{ extra: { set: string; element: string }[]; missing: { set: string; element: string }[] } | undefined>;
  /** Every host's endpoints of a cluster-wide network (overlay peer table); undefined for local networks. */
  clusterPeers?: (net: NetworkRecord) => Promise<ClusterPeer[] | undefined>;
  /** Docker's networks and endpoints (check-docker.ts), when a Docker socket is configured. */
  docker?: () => Promise<DockerNetworkView[]>;
  /** Whether a link exists inside a sandbox (drivers' sandboxLink); without it those are not checked. */
  sandboxLinkExists?: (sandbox: NonNullable<EndpointRecord['sandbox']>, name: string) => Promise<boolean>;
  /** Default: the path exists (sys/netns.ts). */
  netnsExists?: (path: string) => Promise<boolean>;
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
  const exists = deps.netnsExists ?? netnsPathExists;

  for (const ep of endpoints) {
    if (!byNet.has(ep.networkId)) {
      findings.push({ kind: 'orphan-endpoint', object: `endpoint ${ep.id}`, message: `endpoint ${ep.id.slice(0, 12)} belongs to network ${ep.networkId.slice(0, 12)}, which does not exist`, details: { endpointId: ep.id, networkId: ep.networkId } });
    } else if (ep.sandbox && !(await exists(ep.sandbox.path))) {
      const net = byNet.get(ep.networkId)!;
      findings.push({ kind: 'stale-endpoint', object: `endpoint ${ep.id}`, message: `endpoint ${ep.id.slice(0, 12)} of network ${net.name} is joined to ${ep.sandbox.name ?? ep.sandbox.path}, which no longer exists`, details: { endpointId: ep.id, networkId: ep.networkId, sandbox: ep.sandbox.path, origin: ep.origin } });
    }
  }

  // Addresses held twice by records of one network (this host), and by peers of a cluster-wide
  // network (every host).
  const peersOf = new Map<string, ClusterPeer[]>();
  for (const net of networks) {
    const local = endpoints.filter((e) => e.networkId === net.id);
    const peers = (await deps.clusterPeers?.(net)) ?? undefined;
    if (peers) peersOf.set(net.id, peers);
    const holders: { endpointId: string; host?: string; address: string }[] = [
      ...local.flatMap((e) => [e.addressV4, e.addressV6].filter((a): a is string => !!a).map((a) => ({ endpointId: e.id, address: bare(a) }))),
      // Other hosts' endpoints; this host's own peers are its records, already listed.
      ...(peers ?? []).filter((p) => !local.some((e) => e.id === p.endpointId)).flatMap((p) => [p.ipv4, p.ipv6].filter((a): a is string => !!a).map((a) => ({ endpointId: p.endpointId, host: p.host, address: a }))),
    ];
    const byAddr = new Map<string, typeof holders>();
    for (const h of holders) byAddr.set(h.address, [...(byAddr.get(h.address) ?? []), h]);
    for (const [address, hs] of byAddr) {
      const ids = [...new Set(hs.map((h) => h.endpointId))];
      if (ids.length < 2) continue;
      const where = hs.map((h) => `${h.endpointId.slice(0, 12)}${h.host ? ` (host ${h.host})` : ''}`).join(' and ');
      findings.push({ kind: 'duplicate-address', object: `address ${address}`, message: `address ${address} is held by endpoints ${where} of network ${net.name}`, details: { address, endpoints: ids, hosts: hs.map((h) => h.host ?? null), networkId: net.id, crossHost: hs.some((h) => h.host !== undefined) } });
    }
  }

  const dockerView = deps.docker ? await deps.docker() : undefined;
  const pools = await deps.ipam.listPools();
  findings.push(...(await checkAllocations(deps, networks, endpoints, peersOf, pools.map((p) => p.poolId), dockerView)));

  // Kernel: marked links with no owner, and objects drivers expect.
  const links = await deps.links();
  const owners = new Set([...networks.map((n) => n.id), ...endpoints.map((e) => e.id)]);
  for (const l of links) {
    const owner = ownerOfAlias(l.alias);
    if (owner !== undefined && !owners.has(owner)) {
      findings.push({ kind: 'orphan-link', object: `link ${l.name}`, message: `link ${l.name} is marked weft:${owner.slice(0, 12)}, which the store does not know`, details: { link: l.name, owner } });
    }
  }
  const names = new Set(links.map((l) => l.name));
  // A stale endpoint's veth went with its namespace: that is one finding (stale-endpoint), not two.
  const stale = new Set(findings.filter((f) => f.kind === 'stale-endpoint').map((f) => f.details?.endpointId));
  for (const net of networks) {
    const expected = deps.driver(net.driver).expectedLinks?.(net, endpoints.filter((e) => e.networkId === net.id && !stale.has(e.id))) ?? [];
    for (const x of expected) {
      if (!names.has(x.name)) findings.push({ kind: 'missing-kernel-object', object: `link ${x.name}`, message: `link ${x.name} (${x.what}) of network ${net.name} is missing`, details: { link: x.name, networkId: net.id, ...(x.endpointId ? { endpointId: x.endpointId } : {}) } });
    }
  }

  // Links drivers keep inside the endpoints' namespaces (macvlan), where the host cannot see them.
  if (deps.sandboxLinkExists) {
    for (const ep of endpoints) {
      const net = byNet.get(ep.networkId);
      if (!net || !ep.sandbox || stale.has(ep.id)) continue;
      const x = deps.driver(net.driver).sandboxLink?.(net, ep);
      if (!x || (await deps.sandboxLinkExists(ep.sandbox, x.name))) continue;
      const where = ep.sandbox.name ?? ep.sandbox.path;
      findings.push({ kind: 'missing-kernel-object', object: `link ${x.name} in ${where}`, message: `link ${x.name} (${x.what}) of network ${net.name} is missing from ${where}`, details: { link: x.name, networkId: net.id, endpointId: ep.id, sandbox: ep.sandbox.path } });
    }
  }

  // nftables: element by element.
  const fw = await deps.firewallDiff?.();
  for (const e of fw?.extra ?? []) {
    findings.push({ kind: 'orphan-nft-element', object: `nft ${e.set} ${e.element}`, message: `nftables ${e.set} holds ${e.element}, which no weft record asks for`, details: { set: e.set, element: e.element } });
  }
  for (const e of fw?.missing ?? []) {
    findings.push({ kind: 'missing-nft-element', object: `nft ${e.set} ${e.element}`, message: `nftables ${e.set} lacks ${e.element}, which weft's records ask for`, details: { set: e.set, element: e.element } });
  }

  // Docker, when configured.
  if (dockerView) {
    const diff = compareWithDocker(dockerView, networks, endpoints);
    for (const u of diff.unknownToWeft) {
      findings.push({ kind: 'docker-endpoint-unknown', object: `endpoint ${u.endpointId}`, message: `Docker has endpoint ${u.endpointId.slice(0, 12)} (container ${u.container}) on network ${u.network.name}, which weft has no record of`, details: { endpointId: u.endpointId, networkId: u.network.id, container: u.container } });
    }
    for (const ep of diff.unknownToDocker) {
      findings.push({ kind: 'docker-endpoint-missing', object: `endpoint ${ep.id}`, message: `weft has Docker endpoint ${ep.id.slice(0, 12)} of network ${byNet.get(ep.networkId)?.name ?? ep.networkId.slice(0, 12)}, which Docker does not list`, details: { endpointId: ep.id, networkId: ep.networkId, sandbox: ep.sandbox?.path } });
    }
  }

  return { clean: findings.length === 0, findings, checked: { networks: networks.length, endpoints: endpoints.length, pools: pools.length, links: links.length } };
}

/**
 * IPAM against records, for the pools of weft's networks only (a pool of a network weft has no
 * record of, e.g. Docker's own bridge driver with weft's IPAM, is never looked at). Docker's own
 * requests carry no endpoint id, so a Docker endpoint's address is matched by value; the network's
 * gateway and aux addresses are the network's. In a global pool, other hosts' endpoints (the peer
 * table) hold addresses too, and Docker's view (when read) counts as a holder.
 */
async function checkAllocations(
  deps: Pick<CheckDeps, 'ipam' | 'hostId'>,
  networks: NetworkRecord[],
  endpoints: EndpointRecord[],
  peersOf: Map<string, ClusterPeer[]>,
  poolIds: string[],
  dockerView?: DockerNetworkView[],
): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const net of networks) {
    const dockerHeld = (dockerView ?? []).find((d) => d.id === net.id)?.endpoints.flatMap((e) => (e.ipv4 ? [bare(e.ipv4)] : [])) ?? [];
    for (const entry of [...net.ipv4, ...net.ipv6]) {
      if (!entry.poolId || !poolIds.includes(entry.poolId)) continue;
      const held = await deps.ipam.allocations(entry.poolId);
      const recorded = endpoints.filter((e) => e.networkId === net.id);
      const addrs = new Set([
        ...recorded.flatMap((e) => [e.addressV4, e.addressV6].filter((a): a is string => !!a).map(bare)),
        ...(peersOf.get(net.id) ?? []).flatMap((p) => [p.ipv4, p.ipv6].filter((a): a is string => !!a)),
        ...dockerHeld,
        // Docker asks for aux addresses (and may ask for the gateway) as plain addresses.
        ...(entry.gateway ? [bare(entry.gateway)] : []),
        ...Object.values(entry.auxAddresses ?? {}).map(bare),
      ]);
      for (const a of held) {
        if (a.kind !== 'endpoint' || addrs.has(a.address)) continue;
        if (a.host !== undefined && deps.hostId !== undefined && a.host !== deps.hostId) continue;
        // A weft endpoint is named as the owner; anything else with no record is orphaned too.
        const age = a.allocatedAt ? ` ${Math.max(0, Math.round((Date.now() - Date.parse(a.allocatedAt)) / 1000))} s ago` : '';
        findings.push({
          kind: 'orphan-allocation',
          object: `address ${a.address}`,
          message: `${a.address} in pool ${entry.subnet} is allocated${age}${a.owner ? ` to ${a.owner.slice(0, 12)}` : ''}${a.host ? ` by host ${a.host}` : ''} but no endpoint of network ${net.name} has it`,
          details: { poolId: entry.poolId, address: a.address, owner: a.owner, networkId: net.id, origin: net.origin, ...(a.host ? { host: a.host } : {}), ...(a.allocatedAt ? { allocatedAt: a.allocatedAt } : {}) },
        });
      }
      if (net.origin === 'weft') {
        const heldSet = new Set(held.map((a) => a.address));
        for (const ep of recorded) {
          for (const cidr of [ep.addressV4, ep.addressV6]) {
            if (cidr && inSubnet(bare(cidr), entry.subnet) && !heldSet.has(bare(cidr))) {
              findings.push({ kind: 'unallocated-address', object: `address ${bare(cidr)}`, message: `endpoint ${ep.id.slice(0, 12)} of network ${net.name} uses ${bare(cidr)}, which the IPAM does not hold: it could be handed out twice`, details: { endpointId: ep.id, address: bare(cidr), poolId: entry.poolId, networkId: net.id } });
            }
          }
        }
      }
    }
  }
  return findings;
}

/**
 * Only the orphan allocations (the reconciler's periodic pass): the store, the IPAM and the peer
 * table, without the kernel, nftables or Docker reads of a full check unless `docker` is given.
 */
export async function findOrphanAllocations(deps: Pick<CheckDeps, 'controller' | 'ipam' | 'clusterPeers' | 'hostId' | 'docker'>): Promise<Finding[]> {
  const networks = await deps.controller.listNetworks();
  const endpoints = await deps.controller.listEndpoints();
  const peersOf = new Map<string, ClusterPeer[]>();
  for (const net of networks) {
    const peers = await deps.clusterPeers?.(net);
    if (peers) peersOf.set(net.id, peers);
  }
  const poolIds = (await deps.ipam.listPools()).map((p) => p.poolId);
  const dockerView = deps.docker ? await deps.docker() : undefined;
  return (await checkAllocations(deps, networks, endpoints, peersOf, poolIds, dockerView)).filter((f) => f.kind === 'orphan-allocation');
}

function inSubnet(ip: string, subnet: string): boolean {
  return cidrContains(parseCidr(subnet), parseIp(ip));
}
