// `weft check --repair`: acts on the findings of runCheck (checker.ts), one at a time, and only
// where the fix is safe; then the caller checks again. Every repair re-reads what it acts on under
// the network's lock (the lock every CNM operation takes), so a connect or disconnect running at
// the same time is never undone: a finding that went away in between is reported as such.
//
// Left alone (reported as skipped, with what a person can do): two live endpoints with one
// address (which one is right?), addresses Docker's IPAM handed out less than a grace period ago
// (Docker asks for them before it creates the endpoint: orphan-allocation.ts), addresses another
// host allocated, and whatever Docker itself holds.

import type { Logger } from 'pino';
import type { Ipam } from '../ipam/ipam.js';
import { cidrContains, parseCidr, parseIp } from '../model/address.js';
import type { LinkOps } from '../sys/link-ops.js';
import { ownerOfAlias } from '../sys/links.js';
import { netnsPathExists } from '../sys/netns.js';
import { runCheck, type CheckDeps, type CheckReport, type Finding, type FindingKind } from './checker.js';
import type { Controller } from './controller.js';
import type { DriverRegistry } from './driver-registry.js';
import type { EndpointRepairer } from './endpoint-repair.js';
import { judgeOrphanAllocation, ORPHAN_GRACE_MS } from './orphan-allocation.js';
import type { Records } from './records.js';

export type RepairOutcome = 'repaired' | 'skipped' | 'failed';

export interface RepairAction {
  kind: FindingKind;
  object: string;
  outcome: RepairOutcome;
  /** What was done, or why nothing was. */
  action: string;
}

export interface RepairReport {
  /** The findings acted on. */
  before: CheckReport;
  repairs: RepairAction[];
  /** The check after the repairs: `clean` is what `weft check --repair` exits on. */
  after: CheckReport;
}

export interface RepairDeps {
  controller: Pick<Controller, 'deleteEndpoint'> & { withNetworkLock<T>(networkId: string, fn: () => Promise<T>): Promise<T> };
  ipam: Pick<Ipam, 'releaseAddress' | 'requestAddress' | 'allocations'>;
  records: Pick<Records, 'network' | 'endpoint' | 'endpoints' | 'networks' | 'deleteEndpoint'>;
  links: Pick<LinkOps, 'getLink' | 'deleteLink' | 'listLinks'>;
  drivers: DriverRegistry;
  endpoints: EndpointRepairer;
  /** This host's id: global addresses another host allocated are that host's to repair. */
  hostId?: string;
  /** How old an address Docker's IPAM handed out must be before, with no endpoint, it is released
   *  (orphan-allocation.ts; default ORPHAN_GRACE_MS). */
  orphanGraceMs?: number;
  netnsExists?: (path: string) => Promise<boolean>;
  logger: Logger;
}

/** Repairs run in this order: dropping stale records first frees their addresses, links and
 *  elements, which later findings may then no longer be about. */
const ORDER: FindingKind[] = [
  'orphan-endpoint',
  'stale-endpoint',
  'docker-endpoint-missing',
  'orphan-link',
  'missing-kernel-object',
  'orphan-allocation',
  'unallocated-address',
  'orphan-nft-element',
  'missing-nft-element',
  'duplicate-address',
  'docker-endpoint-unknown',
];

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * `weft network disconnect` for an endpoint whose namespace is gone, except that an address is
 * released only when the IPAM holds it for this endpoint (or for no one and no other endpoint
 * has it): a stale record that duplicates a live endpoint's address must not free the live one's.
 * Runs under the network's lock.
 */
async function dropWeftEndpoint(deps: RepairDeps, networkId: string, endpointId: string, exists: (p: string) => Promise<boolean>): Promise<Omit<RepairAction, 'kind' | 'object'>> {
  const net = await deps.records.network(networkId);
  const ep = net ? await deps.records.endpoint(networkId, endpointId) : undefined;
  if (!net || !ep) return { outcome: 'repaired', action: 'already gone' };
  if (ep.sandbox && (await exists(ep.sandbox.path))) return { outcome: 'skipped', action: 'its namespace exists again: nothing to do' };
  const driver = deps.drivers.get(net.driver);
  await driver.revokeExternalConnectivity(net, ep);
  await driver.leave(net, ep);
  await driver.deleteEndpoint(net, ep);
  await deps.records.deleteEndpoint(networkId, endpointId);
  const others = (await deps.records.endpoints(networkId)).filter((e) => e.id !== ep.id);
  const released: string[] = [];
  const kept: string[] = [];
  for (const cidr of [ep.addressV4, ep.addressV6]) {
    if (!cidr) continue;
    const ip = cidr.split('/')[0]!;
    const entry = [...net.ipv4, ...net.ipv6].find((e) => e.poolId && cidrContains(parseCidr(e.subnet), parseIp(ip)));
    if (!entry?.poolId) continue;
    const held = (await deps.ipam.allocations(entry.poolId)).find((a) => a.address === ip);
    const someoneElse = others.some((e) => [e.addressV4, e.addressV6].some((a) => a?.split('/')[0] === ip));
    if (held && (held.owner === ep.id || (!held.owner && !someoneElse))) {
      await deps.ipam.releaseAddress(entry.poolId, ip);
      released.push(ip);
    } else if (held) kept.push(ip);
  }
  const what = [released.length ? `released ${released.join(', ')}` : '', kept.length ? `kept ${kept.join(', ')} (held for another endpoint)` : ''].filter(Boolean).join('; ');
  return { outcome: 'repaired', action: `endpoint deleted (its namespace ${ep.sandbox?.path ?? '?'} is gone)${what ? `; ${what}` : ''}` };
}

export async function checkAndRepair(check: CheckDeps, deps: RepairDeps): Promise<RepairReport> {
  const before = await runCheck(check);
  const repairs = await repairFindings(before.findings, deps);
  const after = await runCheck(check);
  return { before, repairs, after };
}

export async function repairFindings(findings: Finding[], deps: RepairDeps): Promise<RepairAction[]> {
  const log = deps.logger.child({ component: 'check-repair' });
  const sorted = [...findings].sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
  const driverPasses = new Map<string, Promise<number>>();
  /** Each driver's drift repair runs at most once per --repair, however many findings it fixes. */
  const driverRepair = (name: string): Promise<number> => {
    let p = driverPasses.get(name);
    if (!p) {
      const d = deps.drivers.all().find((x) => x.name === name);
      p = d?.repair ? d.repair() : Promise.resolve(0);
      driverPasses.set(name, p);
    }
    return p;
  };
  const out: RepairAction[] = [];
  for (const f of sorted) {
    let r: Omit<RepairAction, 'kind' | 'object'>;
    try {
      r = await repairOne(f, deps, driverRepair);
    } catch (e) {
      r = { outcome: 'failed', action: (e as Error).message };
    }
    const action = { kind: f.kind, object: f.object, ...r };
    (action.outcome === 'failed' ? log.error.bind(log) : log.warn.bind(log))(action, 'check --repair');
    out.push(action);
  }
  return out;
}

async function repairOne(f: Finding, deps: RepairDeps, driverRepair: (name: string) => Promise<number>): Promise<Omit<RepairAction, 'kind' | 'object'>> {
  const d = f.details ?? {};
  const networkId = str(d.networkId);
  const endpointId = str(d.endpointId);
  const exists = deps.netnsExists ?? netnsPathExists;
  const skip = (action: string) => ({ outcome: 'skipped' as const, action });
  const done = (action: string) => ({ outcome: 'repaired' as const, action });

  switch (f.kind) {
    case 'orphan-endpoint':
      return deps.controller.withNetworkLock(networkId, async () => {
        if (await deps.records.network(networkId)) return skip('its network exists again: nothing to do');
        if (!(await deps.records.endpoint(networkId, endpointId))) return done('already gone');
        const marked = (await deps.links.listLinks()).filter((l) => ownerOfAlias(l.alias) === endpointId);
        for (const l of marked) await deps.links.deleteLink(l.name);
        await deps.records.deleteEndpoint(networkId, endpointId);
        return done(`record deleted${marked.length ? `, links ${marked.map((l) => l.name).join(', ')} deleted` : ''}`);
      });

    case 'stale-endpoint':
    case 'docker-endpoint-missing': {
      const ep = await deps.records.endpoint(networkId, endpointId);
      if (!ep) return done('already gone');
      if (!ep.sandbox) return skip('the endpoint is no longer joined: nothing to do');
      if (await exists(ep.sandbox.path)) {
        return skip(`its namespace ${ep.sandbox.path} exists: weft cannot tell whether the container still uses it; remove it with docker or weft network disconnect`);
      }
      if (ep.origin !== 'weft') {
        // Docker's endpoint: what Docker's DeleteEndpoint would do (Docker's IPAM keeps its addresses).
        await deps.controller.deleteEndpoint(networkId, endpointId);
        return done(`endpoint deleted (its namespace ${ep.sandbox.path} is gone)`);
      }
      return deps.controller.withNetworkLock(networkId, () => dropWeftEndpoint(deps, networkId, endpointId, exists));
    }

    case 'orphan-link': {
      const name = str(d.link);
      const link = await deps.links.getLink(name);
      if (!link) return done('already gone');
      const owner = ownerOfAlias(link.alias);
      if (owner === undefined) return skip('the link no longer carries weft\'s mark: not weft\'s to delete');
      // Records are read after the link: a connect writes its record before it makes the link.
      const known = (await deps.records.networks()).some((n) => n.id === owner) || (await deps.records.endpoints()).some((e) => e.id === owner);
      if (known) return skip('its owner exists now: nothing to do');
      await deps.links.deleteLink(name);
      return done('link deleted');
    }

    case 'missing-kernel-object': {
      if (endpointId) {
        const outcome = await deps.endpoints.repair(networkId, endpointId);
        if (outcome === 'recreated') return done('veth re-created in the endpoint\'s namespace with its name, address, MAC and routes');
        if (outcome === 'recreated-unjoined') return done('veth re-created on the host (the endpoint is not joined)');
        if (outcome === 'present') return done('already there');
        if (outcome === 'gone') return skip('the endpoint or its namespace is gone: see stale-endpoint');
        return skip('the driver has no per-endpoint link');
      }
      const net = await deps.records.network(networkId);
      if (!net) return done('the network is gone');
      const made = await driverRepair(net.driver);
      const now = await deps.links.getLink(str(d.link));
      return now ? done(`re-created by the ${net.driver} driver's repair (${made} repair(s))`) : { outcome: 'failed', action: `the ${net.driver} driver's repair did not re-create it` };
    }

    case 'orphan-allocation': {
      if (d.host && deps.hostId && d.host !== deps.hostId) return skip(`host ${str(d.host)} allocated it: run weft check --repair there`);
      const graceMs = deps.orphanGraceMs ?? ORPHAN_GRACE_MS;
      const verdict = judgeOrphanAllocation(d, Date.now(), graceMs);
      if (!verdict.release) return skip(verdict.why);
      const address = str(d.address);
      const poolId = str(d.poolId);
      return deps.controller.withNetworkLock(networkId, async () => {
        if (!(await deps.records.network(networkId))) return skip('its network is gone: the network delete releases its pools');
        const eps = await deps.records.endpoints(networkId);
        if (eps.some((e) => [e.addressV4, e.addressV6].some((a) => a?.split('/')[0] === address))) return skip('an endpoint holds it now: nothing to do');
        // Docker's IPAM calls take no network lock: an address released and handed out again
        // since the check carries a new time, and is judged again at the next check.
        const now = (await deps.ipam.allocations(poolId)).find((a) => a.address === address);
        if (!now) return done('already free');
        if (d.origin === 'docker' && now.allocatedAt !== d.allocatedAt) return skip('allocated again since the check: judged again at the next check');
        await deps.ipam.releaseAddress(poolId, address);
        return done(`address released (${verdict.why})`);
      });
    }

    case 'unallocated-address':
      return deps.controller.withNetworkLock(networkId, async () => {
        const ep = await deps.records.endpoint(networkId, endpointId);
        if (!ep) return done('the endpoint is gone');
        try {
          await deps.ipam.requestAddress({ poolId: str(d.poolId), address: str(d.address), kind: 'endpoint', owner: endpointId });
        } catch (e) {
          return skip(`the IPAM would not give it to the endpoint (${(e as Error).message}): disconnect and connect the endpoint again`);
        }
        return done('address allocated to the endpoint');
      });

    case 'orphan-nft-element':
    case 'missing-nft-element': {
      const made = await driverRepair('bridge');
      return done(made > 0 ? 'firewall re-synced from the records (one transaction)' : 'firewall already matches the records');
    }

    case 'duplicate-address': {
      const address = str(d.address);
      const ids = Array.isArray(d.endpoints) ? d.endpoints.map(String) : [];
      const eps = await deps.records.endpoints(networkId);
      const still = eps.filter((e) => ids.includes(e.id) && [e.addressV4, e.addressV6].some((a) => a?.split('/')[0] === address));
      if (!d.crossHost && still.length < 2) return done('resolved: the other holders were stale and are gone');
      return skip(`${ids.length} endpoints hold ${address} and are all live: weft cannot tell which is right; disconnect one (weft network disconnect, or docker)`);
    }

    case 'docker-endpoint-unknown':
      return skip('Docker holds it: docker network disconnect --force NETWORK CONTAINER, or remove the container');
  }
}
