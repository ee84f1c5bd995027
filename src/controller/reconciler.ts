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
    /** A Docker join younger than this is left alone even with no namespace at its SandboxKey:
     *  Docker joins first and mounts the namespace later, in the container's prestart hook. */
    private readonly staleSandboxGraceMs = 30_000,
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
      for (const driver of this.drivers.all()) {
        try {
          made += (await driver.repair?.()) ?? 0;
        } catch (err) {
          this.log.error({ err, driver: driver.name }, 'drift repair failed');
        }
      }
      made += await this.collectStaleDockerEndpoints();
      if (made > 0) {
        this.repairs += made;
        this.log.warn({ repairs: made, total: this.repairs }, 'drift repaired');
      }
      return made;
    } finally {
      this.running = false;
    }
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
