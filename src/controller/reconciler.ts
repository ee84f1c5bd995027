// Makes the kernel match the store. At start-up it asks every driver to restore its networks
// and endpoints from their records, then sweeps links that carry weft's mark (ifalias
// `weft:<id>`) for an owner the store no longer knows. The sweep goes by mark and record, never by
// name prefix, so a `wf...` link weft did not create, or a bridge it adopted (adopted objects are
// never marked), is never touched.

import type { Logger } from 'pino';
import type { EndpointRecord, NetworkRecord } from '../model/network.js';
import type { LinkOps } from '../sys/link-ops.js';
import { ownerOfAlias } from '../sys/links.js';
import { netnsPathExists } from '../sys/netns.js';
import type { DriverRegistry } from './driver-registry.js';
import type { EndpointRepairer } from './endpoint-repair.js';
import { LOST_EVENTS } from '../sys/netlink/link-monitor.js';
import type { Records } from './records.js';

export interface ReconcileReport {
  restoredNetworks: number;
  failedNetworks: string[];
  sweptLinks: string[];
  staleDockerEndpoints?: number;
}

export class Reconciler {
  private readonly log: Logger;

  constructor(
    private readonly records: Records,
    private readonly drivers: DriverRegistry,
    private readonly links: Pick<LinkOps, 'listLinks' | 'deleteLink'>,
    logger: Logger,
    /** Deletes an endpoint the way Docker's DeleteEndpoint would (driver clean-up, then the record). */
    private readonly deleteEndpoint?: (networkId: string, endpointId: string) => Promise<void>,
    /** Re-creates endpoint veths deleted behind weft's back (into their namespace when joined). */
    private readonly endpointRepairer?: EndpointRepairer,
    /** A Docker join younger than this is left alone even with no namespace at its SandboxKey:
     *  Docker joins first and mounts the namespace later, in the container's prestart hook. */
    private readonly staleSandboxGraceMs = 30_000,
    /** Releases addresses the IPAM holds that provably no one uses (orphan-allocation.ts);
     *  returns how many. Run on every periodic pass. */
    private readonly releaseOrphanAllocations?: () => Promise<number>,
  ) {
    this.log = logger.child({ component: 'reconciler' });
  }

  async run(): Promise<ReconcileReport> {
    const networks = await this.records.networks();
    const endpoints = await this.records.endpoints();
    const report: ReconcileReport = { restoredNetworks: 0, failedNetworks: [], sweptLinks: [], staleDockerEndpoints: 0 };
    for (const net of networks) {
      try {
        await this.drivers.get(net.driver).restore(net, endpoints.filter((e) => e.networkId === net.id));
        report.restoredNetworks++;
      } catch (err) {
        // One broken network must not keep the others (or the daemon) down.
        report.failedNetworks.push(net.id);
        this.log.error({ err, networkId: net.id }, 'restore failed');
      }
    }
    for (const driver of this.drivers.all()) {
      try {
        await driver.restoreDone?.();
      } catch (err) {
        this.log.error({ err, driver: driver.name }, 'restore of shared driver state failed');
      }
    }
    report.sweptLinks = await this.sweepLinks(networks, endpoints);
    // Containers that died while weftd was down (or Docker's clean-up calls that found it down).
    report.staleDockerEndpoints = await this.collectStaleDockerEndpoints().catch((err) => {
      this.log.error({ err }, 'stale Docker endpoint clean-up failed');
      return 0;
    });
    this.log.info(report, 'reconciled');
    return report;
  }

  /** Total repairs made by the periodic passes (shown in metrics / inspect). */
  repairs = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  /** A pass was asked for while one ran: run once more when it ends (a link event must not be lost). */
  private again = false;
  private stopped = false;

  /**
   * Asks for a repair pass now (link events): one runs at once, or right after the one running,
   * however many requests came in meanwhile.
   */
  requestRepair(reason: Record<string, unknown>): void {
    this.log.info(reason, 'repair pass requested');
    this.schedule();
  }

  /**
   * Link events: a pass only when a deleted link is one the records still need. weft's own
   * disconnects and deletes remove links too, and those need no pass (their records are gone by
   * the time the debounced event arrives; if one is not, the pass finds nothing to do under the
   * network's lock). A lost-events signal always gets a pass.
   */
  async linksDeleted(names: string[]): Promise<void> {
    try {
      const needed = names.includes(LOST_EVENTS) ? names : await this.neededLinks(names);
      if (needed.length === 0) {
        this.log.debug({ links: names.slice(0, 20) }, 'deleted links are not needed by any record: no repair pass');
        return;
      }
      this.requestRepair({ trigger: 'link event', links: needed.slice(0, 20) });
    } catch (err) {
      this.log.error({ err }, 'could not read the records for a link event: running a repair pass');
      this.schedule();
    }
  }

  private async neededLinks(names: string[]): Promise<string[]> {
    const networks = await this.records.networks();
    const endpoints = await this.records.endpoints();
    const expected = new Set<string>();
    for (const net of networks) {
      const eps = endpoints.filter((e) => e.networkId === net.id);
      for (const x of this.drivers.get(net.driver).expectedLinks?.(net, eps) ?? []) expected.add(x.name);
    }
    return names.filter((n) => expected.has(n));
  }

  private schedule(): void {
    if (this.stopped) return; // shutting down: the stores are closing
    if (this.running) {
      this.again = true;
      return;
    }
    void this.repairOnce();
  }

  /** Runs the drivers' drift checks every intervalMs until stop(). */
  startPeriodic(intervalMs: number): void {
    this.timer = setInterval(() => void this.repairOnce(), intervalMs);
    this.timer.unref();
  }

  async repairOnce(): Promise<number> {
    if (this.running) return 0; // a slow pass is not stacked on by the next tick
    this.running = true;
    let made = 0;
    try {
      made = await this.pass();
      return made;
    } finally {
      this.running = false;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.repairOnce();
      }
    }
  }

  private async pass(): Promise<number> {
    let made = 0;
    for (const driver of this.drivers.all()) {
      try {
        made += (await driver.repair?.()) ?? 0;
      } catch (err) {
        this.log.error({ err, driver: driver.name }, 'drift repair failed');
      }
    }
    made += await this.collectStaleDockerEndpoints();
    try {
      made += await this.repairEndpointLinks();
    } catch (err) {
      this.log.error({ err }, 'endpoint link repair failed');
    }
    try {
      made += (await this.releaseOrphanAllocations?.()) ?? 0;
    } catch (err) {
      this.log.error({ err }, 'orphan address release failed');
    }
    if (made > 0) {
      this.repairs += made;
      this.log.warn({ repairs: made, total: this.repairs }, 'drift repaired');
    }
    return made;
  }

  /** Endpoint veths gone from the kernel (deleted by hand: the container lost its end too) are
   *  re-created into their namespace when it still exists (EndpointRepairer). */
  async repairEndpointLinks(): Promise<number> {
    const repairer = this.endpointRepairer;
    if (!repairer) return 0;
    const names = new Set((await this.links.listLinks()).map((l) => l.name));
    const nets = new Map((await this.records.networks()).map((n) => [n.id, n]));
    let made = 0;
    for (const ep of await this.records.endpoints()) {
      const net = nets.get(ep.networkId);
      if (!net) continue;
      const link = repairer.hostLinkOf(net, ep);
      if (!link || names.has(link)) continue;
      if (ep.sandbox && !(await netnsPathExists(ep.sandbox.path))) continue; // stale: `weft check --repair` drops it
      try {
        const outcome = await repairer.repair(net.id, ep.id);
        if (outcome === 'recreated' || outcome === 'recreated-unjoined') made++;
      } catch (err) {
        this.log.error({ err, endpointId: ep.id, link }, 'could not re-create an endpoint veth');
      }
    }
    return made;
  }

  /**
   * After an unclean stop, dockerd deletes stale sandboxes at start but sends Leave and
   * DeleteEndpoint only to drivers it has loaded already (protocol §6): weft would keep those
   * endpoints (and their veths) forever. An endpoint Docker joined whose sandbox file is gone has
   * no container left: delete it here.
   */
  async collectStaleDockerEndpoints(): Promise<number> {
    if (!this.deleteEndpoint) return 0;
    let removed = 0;
    // Docker calls Join before runc has made the sandbox's namespace (the key file is bound to it
    // in the prestart hook, after Join): a young join is never judged (staleSandboxGraceMs).
    for (const ep of await this.records.endpoints()) {
      if (ep.origin !== 'docker' || !ep.sandbox) continue;
      if (ep.joinedAt && Date.now() - Date.parse(ep.joinedAt) < this.staleSandboxGraceMs) continue;
      if (await netnsPathExists(ep.sandbox.path)) continue;
      this.log.warn({ endpointId: ep.id, networkId: ep.networkId, sandbox: ep.sandbox.path }, 'sandbox of a Docker endpoint is gone: deleting the endpoint');
      await this.deleteEndpoint(ep.networkId, ep.id);
      removed++;
    }
    return removed;
  }

  stop(): void {
    this.stopped = true;
    this.again = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async sweepLinks(networks: NetworkRecord[], endpoints: EndpointRecord[]): Promise<string[]> {
    const owners = new Set<string>([...networks.map((n) => n.id), ...endpoints.map((e) => e.id)]);
    const swept: string[] = [];
    for (const link of await this.links.listLinks()) {
      const owner = ownerOfAlias(link.alias);
      if (owner === undefined || owners.has(owner)) continue;
      this.log.warn({ link: link.name, owner }, 'removing weft link whose owner is not in the store');
      await this.links.deleteLink(link.name);
      swept.push(link.name);
    }
    return swept;
  }
}
