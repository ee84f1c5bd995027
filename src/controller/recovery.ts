// Crash recovery, run once at start before the reconciler restores the kernel. weftd writes what
// it is about to do to the store before it touches the kernel (design.md), so a crash leaves one
// of a few recognisable half-states. Each is settled the one safe way:
//
//  - an operation nobody got an answer for is rolled back: a network record still `pending` (its
//    kernel was never finished), a weft endpoint never joined (connect writes the record, then
//    joins in the same request), an address or a pool taken for a record that was never written;
//  - a Docker endpoint not joined to a sandbox: Docker holds one only for the moment between
//    CreateEndpoint and Join (or Leave and DeleteEndpoint) of one container start or stop, and
//    a crash of weftd breaks that sequence: Docker's plugin client re-sends the interrupted call
//    with an empty body (moby/moby#39331: the first try used the body up), so it fails, and Docker
//    forgets the endpoint without telling weft. A Join still to come for it fails cleanly;
//  - a delete that had started (`deleting` mark) is finished: its client asked for it, and
//    half of it may already be gone from the kernel.
//
// What is left is then complete records, which the reconciler makes the kernel match.

import type { Logger } from 'pino';
import type { Ipam } from '../ipam/ipam.js';
import { isValidId, type EndpointRecord, type NetworkRecord } from '../model/network.js';
import type { CommandRunner } from '../sys/exec.js';
import { detachFromSandbox } from '../sys/sandbox.js';
import type { DriverRegistry } from './driver-registry.js';
import { poolForAddress, poolIdsOf, releaseNetworkPools } from './network-ipam.js';
import type { Records } from './records.js';

export interface RecoveryReport {
  rolledBackNetworks: string[];
  finishedDeletes: string[];
  rolledBackEndpoints: string[];
  releasedAddresses: string[];
  releasedPools: string[];
  failed: string[];
}

export class CrashRecovery {
  private readonly log: Logger;

  constructor(
    private readonly records: Records,
    private readonly drivers: DriverRegistry,
    private readonly ipam: Ipam,
    private readonly runner: CommandRunner,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'recovery' });
  }

  async run(): Promise<RecoveryReport> {
    const report: RecoveryReport = { rolledBackNetworks: [], finishedDeletes: [], rolledBackEndpoints: [], releasedAddresses: [], releasedPools: [], failed: [] };
    const attempt = async (what: string, op: () => Promise<void>): Promise<boolean> => {
      try {
        await op();
        return true;
      } catch (err) {
        // One stuck object must not keep weftd down; `weft check` will show it.
        this.log.error({ err, what }, 'crash recovery step failed');
        report.failed.push(what);
        return false;
      }
    };

    // Networks that span hosts live in the cluster store: a pending one there may be another host's
    // create in flight, and their addresses are other hosts' too. Recovery keeps to this host's.
    const hostScoped = (n: NetworkRecord) => (this.drivers.get(n.driver) as { globalNetworks?: boolean }).globalNetworks !== true;
    for (const net of (await this.records.networks()).filter((n) => n.pending && hostScoped(n))) {
      if (await attempt(`network ${net.id}`, () => this.rollBackNetwork(net))) report.rolledBackNetworks.push(net.id);
    }
    const networks = new Map((await this.records.networks()).map((n) => [n.id, n]));
    for (const ep of await this.records.endpoints()) {
      const net = networks.get(ep.networkId);
      if (!net) continue; // an orphan endpoint: `weft check` reports it; nothing here to finish
      if (ep.deleting) {
        if (await attempt(`endpoint ${ep.id}`, () => this.removeEndpoint(net, ep))) report.finishedDeletes.push(ep.id);
      } else if (!ep.sandbox) {
        if (await attempt(`endpoint ${ep.id}`, () => this.removeEndpoint(net, ep))) report.rolledBackEndpoints.push(ep.id);
      }
    }
    await attempt('addresses', () => this.releaseUnrecordedAddresses([...networks.values()].filter(hostScoped), report));
    await attempt('pools', () => this.releaseUnclaimedPools([...networks.values()], report));

    const changed = report.rolledBackNetworks.length + report.finishedDeletes.length + report.rolledBackEndpoints.length + report.releasedAddresses.length + report.releasedPools.length;
    if (changed > 0 || report.failed.length > 0) this.log.warn(report, 'recovered from an interrupted run');
    return report;
  }

  private async rollBackNetwork(net: NetworkRecord): Promise<void> {
    const driver = this.drivers.get(net.driver);
    for (const ep of await this.records.endpoints(net.id)) await driver.deleteEndpoint(net, ep);
    await driver.deleteNetwork(net);
    await this.records.deleteNetwork(net);
    // Docker releases the pools of its networks itself (ReleasePool follows a failed create).
    if (net.origin === 'weft') await releaseNetworkPools(this.ipam, [...poolIdsOf(net.ipv4), ...poolIdsOf(net.ipv6)]);
    this.log.warn({ networkId: net.id, name: net.name }, 'network create was interrupted: rolled back');
  }

  /** The rest of a disconnect / DeleteEndpoint; every step treats "already gone" as done. */
  private async removeEndpoint(net: NetworkRecord, ep: EndpointRecord): Promise<void> {
    const driver = this.drivers.get(net.driver);
    await driver.revokeExternalConnectivity(net, ep);
    if (ep.origin === 'weft') {
      await driver.leave(net, ep);
      if (ep.ifName && ep.sandbox) await detachFromSandbox(this.runner, ep.sandbox, ep.ifName);
    }
    await driver.deleteEndpoint(net, ep);
    await this.records.deleteEndpoint(net.id, ep.id);
    if (ep.origin === 'weft') {
      for (const cidr of [ep.addressV4, ep.addressV6]) {
        if (!cidr) continue;
        const ip = cidr.split('/')[0]!;
        const entry = [net.ipv4, net.ipv6].map((es) => safePool(es, ip)).find((e) => e?.poolId);
        if (entry?.poolId) await this.ipam.releaseAddress(entry.poolId, ip);
      }
    }
    this.log.warn({ networkId: net.id, endpointId: ep.id, origin: ep.origin, deleting: ep.deleting === true }, ep.deleting ? 'endpoint delete was interrupted: finished' : 'endpoint never joined (interrupted connect or Docker call): rolled back');
  }

  /** Addresses weft's connect took for an endpoint id that has no record (crash before the record). */
  private async releaseUnrecordedAddresses(networks: NetworkRecord[], report: RecoveryReport): Promise<void> {
    const ids = new Set((await this.records.endpoints()).map((e) => e.id));
    for (const net of networks.filter((n) => n.origin === 'weft')) {
      for (const poolId of [...poolIdsOf(net.ipv4), ...poolIdsOf(net.ipv6)]) {
        for (const a of await this.ipam.allocations(poolId)) {
          // Docker's requests carry no owner; weft's connect names the endpoint id it is for.
          if (a.kind !== 'endpoint' || !a.owner || !isValidId(a.owner) || ids.has(a.owner)) continue;
          await this.ipam.releaseAddress(poolId, a.address);
          report.releasedAddresses.push(a.address);
          this.log.warn({ networkId: net.id, address: a.address, owner: a.owner }, 'address taken for an endpoint that was never recorded: released');
        }
      }
    }
  }

  /** Pools weft took for a network of its own (they carry its name) that no network record holds. */
  private async releaseUnclaimedPools(networks: NetworkRecord[], report: RecoveryReport): Promise<void> {
    const claimed = new Set(networks.flatMap((n) => [...poolIdsOf(n.ipv4), ...poolIdsOf(n.ipv6)]));
    // Only the host's own space: another host may be between taking a global pool and writing its record.
    const local = this.ipam.defaultAddressSpaces().local;
    for (const p of await this.ipam.listPools()) {
      if (!p.network || p.addressSpace !== local || claimed.has(p.poolId)) continue;
      await this.ipam.releasePool(p.poolId);
      report.releasedPools.push(p.pool);
      this.log.warn({ pool: p.pool, network: p.network }, 'pool taken for a network that was never recorded (or already deleted): released');
    }
  }
}

function safePool(entries: NetworkRecord['ipv4'], ip: string): NetworkRecord['ipv4'][number] | undefined {
  try {
    return poolForAddress(entries, ip, '');
  } catch {
    return undefined;
  }
}
