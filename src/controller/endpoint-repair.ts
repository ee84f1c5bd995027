// Re-creates the interface of a joined endpoint whose veth was deleted behind weft's back. Deleting
// either end of a veth deletes both, so the container lost its interface too: when its namespace
// still exists, the pair is made again the way `weft network connect` makes it (driver
// createEndpoint + join, then the attach inside the namespace) with the recorded name, addresses,
// MAC and the driver's gateway and routes. Runs under the network's lock and re-reads the records
// there, so a disconnect or delete that raced the repair wins and nothing is re-created for it.

import type { Logger } from 'pino';
import type { EndpointRecord, NetworkRecord } from '../model/network.js';
import type { CommandRunner } from '../sys/exec.js';
import type { LinkOps } from '../sys/link-ops.js';
import { netnsPathExists } from '../sys/netns.js';
import { attachToSandbox, type LinkMover } from '../sys/sandbox.js';
import { sandboxLinkExists } from '../sys/sandbox-link.js';
import type { DriverRegistry } from './driver-registry.js';
import type { Records } from './records.js';

export type EndpointRepairOutcome =
  /** The pair was made again in the endpoint's namespace. */
  | 'recreated'
  /** Not joined: the host-side pair was made again (no namespace to put it in yet). */
  | 'recreated-unjoined'
  /** The veth is there (someone else repaired it, or it came back). */
  | 'present'
  /** The record is gone (a disconnect raced the repair), or its namespace is: nothing to re-create. */
  | 'gone'
  /** The driver has no per-endpoint link (none, host). */
  | 'not-applicable';

export interface EndpointRepairDeps {
  records: Pick<Records, 'network' | 'endpoint' | 'putEndpoint'>;
  drivers: DriverRegistry;
  links: Pick<LinkOps, 'getLink'> & Partial<LinkMover>;
  runner: CommandRunner;
  /** The controller's per-network lock. */
  withNetworkLock: <T>(networkId: string, fn: () => Promise<T>) => Promise<T>;
  logger: Logger;
  netnsExists?: (path: string) => Promise<boolean>;
}

export class EndpointRepairer {
  private readonly log: Logger;

  constructor(private readonly deps: EndpointRepairDeps) {
    this.log = deps.logger.child({ component: 'endpoint-repair' });
  }

  /** The host-side veth the driver expects for an endpoint, or undefined (none/host/macvlan). */
  hostLinkOf(net: NetworkRecord, ep: EndpointRecord): string | undefined {
    const expected = this.deps.drivers.get(net.driver).expectedLinks?.(net, [ep]) ?? [];
    return expected.find((x) => x.endpointId === ep.id)?.name;
  }

  async repair(networkId: string, endpointId: string): Promise<EndpointRepairOutcome> {
    return this.deps.withNetworkLock(networkId, async () => {
      const net = await this.deps.records.network(networkId);
      const ep = net ? await this.deps.records.endpoint(networkId, endpointId) : undefined;
      if (!net || !ep) return 'gone';
      const hostLink = this.hostLinkOf(net, ep);
      if (!hostLink) return this.repairInSandbox(net, ep);
      if (await this.deps.links.getLink(hostLink)) return 'present';
      const driver = this.deps.drivers.get(net.driver);
      if (!ep.sandbox) {
        // Created but never joined: the pair lives on the host, as Docker's CreateEndpoint made it.
        await driver.createEndpoint(net, ep, 'docker');
        this.log.warn({ networkId, endpointId, link: hostLink }, 'endpoint veth was deleted: re-created on the host');
        return 'recreated-unjoined';
      }
      const sandbox = ep.sandbox;
      if (!(await (this.deps.netnsExists ?? netnsPathExists)(sandbox.path))) return 'gone';
      return this.recreateInSandbox(net, ep, hostLink);
    });
  }

  /** A driver whose joined endpoint's link lives only inside the sandbox (macvlan): deleting it
   *  there took the container's interface; made again the same way when the namespace exists. */
  private async repairInSandbox(net: NetworkRecord, ep: EndpointRecord): Promise<EndpointRepairOutcome> {
    const link = this.deps.drivers.get(net.driver).sandboxLink?.(net, ep);
    if (!link || !ep.sandbox) return 'not-applicable';
    if (!(await (this.deps.netnsExists ?? netnsPathExists)(ep.sandbox.path))) return 'gone';
    if (await sandboxLinkExists(this.deps.runner, ep.sandbox, link.name)) return 'present';
    return this.recreateInSandbox(net, ep, link.name);
  }

  private async recreateInSandbox(net: NetworkRecord, ep: EndpointRecord, hostLink: string): Promise<EndpointRepairOutcome> {
    const sandbox = ep.sandbox!;
    const driver = this.deps.drivers.get(net.driver);
    // createEndpoint + join with caller 'weft' is connect's path: the bridge driver makes the pair
    // with its peer born inside the namespace, the overlay driver on the host (moved by the attach).
    await driver.createEndpoint(net, ep, 'weft');
    const join = await driver.join(net, ep, sandbox, 'weft');
    if (!join.interface) return 'not-applicable';
    const attached = await attachToSandbox(
      this.deps.runner,
      {
        srcName: join.interface.srcName,
        sandbox,
        dstPrefix: ep.ifName ? prefixOf(ep.ifName) ?? join.interface.dstPrefix : join.interface.dstPrefix,
        ...(ep.mac ? { mac: ep.mac } : {}),
        ...(ep.addressV4 ? { addressV4: ep.addressV4 } : {}),
        ...(ep.addressV6 ? { addressV6: ep.addressV6 } : {}),
        ...(join.gatewayV4 ? { gatewayV4: join.gatewayV4 } : {}),
        ...(join.gatewayV6 ? { gatewayV6: join.gatewayV6 } : {}),
        staticRoutes: join.staticRoutes,
        internal: net.internal,
        ...(join.interface.inSandbox ? { linkInSandbox: true } : {}),
      },
      this.deps.links.moveToNetns ? { moveToNetns: (n, t) => this.deps.links.moveToNetns!(n, t) } : undefined,
    );
    if (ep.ifName !== attached.ifName) await this.deps.records.putEndpoint({ ...ep, ifName: attached.ifName });
    this.log.warn(
      { networkId: net.id, endpointId: ep.id, link: hostLink, sandbox: sandbox.name ?? sandbox.path, ifName: attached.ifName, was: ep.ifName },
      'endpoint veth was deleted: re-created in its namespace',
    );
    return 'recreated';
  }
}

/** eth0 -> eth: the attach names the interface prefix + the first free number. */
export function prefixOf(ifName: string): string | undefined {
  const m = /^(.*?)\d+$/.exec(ifName);
  return m && m[1] ? m[1] : undefined;
}
