// The macvlan driver: endpoints are macvlan links on a parent interface, so containers sit on the
// parent's LAN with their own MAC addresses, and the LAN's router is their gateway (nothing of the
// network lives on the host unless host_access asks for a shim). Model: libnetwork's macvlan
// driver and the CNI macvlan plugin, plus what their users miss: the overlap check scoped to the
// L2 domain, parents checked at create time, and host access as an option.
//
// Decisions are made in plan.ts (pure); this file applies them. What the driver must remember
// (the lower device, VLAN links it created, the shim) lives under drivers/macvlan/ in the store,
// written before the kernel is touched, so restore() and deletes work after a restart.

import type { Logger } from 'pino';
import type { Caller, DriverCapabilities, EndpointInterface, JoinResult, NetworkDriver } from '../../src/driver-api/driver.js';
import type { Ipam } from '../../src/ipam/ipam.js';
import { ErrorCodes, WeftError } from '../../src/model/errors.js';
import type { EndpointRecord, NetworkRecord, SandboxRef } from '../../src/model/network.js';
import type { Store } from '../../src/store/store.js';
import type { LinkOps, StackedLinkOps } from '../../src/sys/link-ops.js';
import { endpointLinkOf, internalLowerOf, macFromIpv4, randomLocalMac, shimOf } from './names.js';
import { l2DomainOf, parseMacvlanOptions, type MacvlanOptions } from './options.js';
import { checkAgainstOthers, planNetwork, shimRoutes, vlanOwnersAfter, type MacvlanRecord, type PlanStep } from './plan.js';

const PREFIX = 'drivers/macvlan/networks/';
const recordKey = (netId: string) => `${PREFIX}${netId}`;
/** Name of the aux address (--aux-address host=IP) the host_access shim takes, when given. */
export const HOST_AUX_NAME = 'host';

export interface MacvlanDriverDeps {
  store: Store;
  links: LinkOps;
  stacked: StackedLinkOps;
  ipam: Ipam;
  logger: Logger;
}

export class MacvlanDriver implements NetworkDriver {
  readonly name = 'macvlan' as const;
  readonly available = true;
  private readonly log: Logger;
  /** Endpoints per network (created, restored), for passthru's one-endpoint rule. */
  private readonly endpointsOf = new Map<string, Set<string>>();
  /** Network creates and deletes run one at a time: the overlap and passthru checks read every
   *  macvlan record, and the per-network lock of the controller does not cover the others. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: MacvlanDriverDeps) {
    this.log = deps.logger.child({ component: 'driver', driver: 'macvlan' });
  }

  capabilities(): DriverCapabilities {
    return { scope: 'local', connectivityScope: 'global' };
  }

  validateNetwork(net: NetworkRecord, _caller: Caller): void {
    parseMacvlanOptions(net.options, net.internal);
  }

  /**
   * The parent (exists, up, no bridge port, an Ethernet device weft did not make), passthru and
   * the overlap with the other macvlan networks' records, before the controller asks the IPAM
   * for a pool: a missing parent must not take and give back a pool. createNetwork checks again
   * under the driver's queue.
   */
  async precheckNetwork(net: NetworkRecord): Promise<void> {
    const opts = parseMacvlanOptions(net.options, net.internal);
    const mine = { networkId: net.id, name: net.name, domain: l2DomainOf(opts, net.id), mode: opts.mode, subnets: [...net.ipv4, ...net.ipv6].map((e) => e.subnet).filter((x) => x !== '') };
    planNetwork(opts, net.id, await this.linksNow(opts));
    checkAgainstOthers(mine, await this.records());
    if (opts.hostAccess && net.origin === 'docker' && !net.ipv4[0]) throw new WeftError(ErrorCodes.INVALID_OPTION, 'host_access=true needs an IPv4 subnet on the network');
  }

  l2Domain(net: NetworkRecord): string {
    return l2DomainOf(parseMacvlanOptions(net.options, net.internal), net.id);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async records(): Promise<MacvlanRecord[]> {
    return (await this.deps.store.list<MacvlanRecord>(PREFIX)).map((kv) => kv.value);
  }

  private async record(net: NetworkRecord): Promise<MacvlanRecord> {
    const rec = (await this.deps.store.get<MacvlanRecord>(recordKey(net.id)))?.value;
    if (!rec) throw new WeftError(ErrorCodes.NETWORK_NOT_FOUND, `macvlan network ${net.name} has no driver record (was it created by this weft?)`);
    return rec;
  }

  // ---- networks -------------------------------------------------------------------------

  createNetwork(net: NetworkRecord): Promise<void> {
    return this.serial(async () => {
      const opts = parseMacvlanOptions(net.options, net.internal);
      const existing = (await this.deps.store.get<MacvlanRecord>(recordKey(net.id)))?.value;
      if (existing) return; // a repeated create (Docker replays): already done
      const mine = {
        networkId: net.id,
        name: net.name,
        domain: l2DomainOf(opts, net.id),
        mode: opts.mode,
        subnets: [...net.ipv4, ...net.ipv6].map((e) => e.subnet),
      };
      checkAgainstOthers(mine, await this.records());
      const plan = planNetwork(opts, net.id, await this.linksNow(opts));
      const rec: MacvlanRecord = {
        ...mine,
        lower: plan.lower,
        ...(plan.vlan ? { vlan: plan.vlan } : {}),
        ...(plan.internalBridge ? { internalBridge: plan.internalBridge } : {}),
      };
      if (opts.hostAccess) rec.shim = await this.planShim(net);
      // Recorded before the kernel is touched, so a crash leaves something to finish or undo.
      await this.deps.store.put(recordKey(net.id), rec);
      try {
        for (const step of plan.steps) await this.apply(step, net.id, opts);
        if (rec.shim) await this.ensureShim(rec);
      } catch (e) {
        await this.teardown(rec).catch((err) => this.log.warn({ err, networkId: net.id }, 'undo of a failed macvlan create failed'));
        await this.deps.store.delete(recordKey(net.id));
        throw e;
      }
      this.log.info({ networkId: net.id, lower: rec.lower, domain: rec.domain, mode: rec.mode, vlan: rec.vlan, shim: rec.shim?.name }, 'macvlan network created');
    });
  }

  private async linksNow(opts: MacvlanOptions): Promise<{ parent?: LinkInfoT; base?: LinkInfoT }> {
    if (!opts.parent) return {};
    const parent = await this.deps.stacked.getLink(opts.parent);
    const base = !parent && opts.vlan ? await this.deps.stacked.getLink(opts.vlan.base) : undefined;
    return { ...(parent ? { parent } : {}), ...(base ? { base } : {}) };
  }

  private async apply(step: PlanStep, networkId: string, opts: MacvlanOptions): Promise<void> {
    const alias = `weft:${networkId}`;
    if (step.op === 'create-vlan') {
      await this.deps.stacked.ensureVlan(step.name, step.base, step.id, { alias, ...(opts.mtu ? { mtu: opts.mtu } : {}) });
    } else {
      await this.deps.links.ensureBridge(step.name, { alias, ...(opts.mtu ? { mtu: opts.mtu } : {}) });
    }
  }

  /** The host's address for the shim: the aux address `host` when given, else one from the
   *  network's weft pool. */
  private async planShim(net: NetworkRecord): Promise<NonNullable<MacvlanRecord['shim']>> {
    const entry = net.ipv4[0];
    if (!entry) throw new WeftError(ErrorCodes.INVALID_OPTION, 'host_access=true needs an IPv4 subnet on the network');
    const routes = shimRoutes(net.ipv4);
    const aux = entry.auxAddresses[HOST_AUX_NAME];
    if (aux) return { name: shimOf(net.id), address: `${aux}/32`, routes };
    if (!entry.poolId) {
      throw new WeftError(
        ErrorCodes.INVALID_OPTION,
        `host_access=true needs an address for the host on the network: give --aux-address ${HOST_AUX_NAME}=IP (an address of ${entry.subnet} that no one else uses)`,
      );
    }
    const got = await this.deps.ipam.requestAddress({ poolId: entry.poolId, kind: 'aux', owner: `host-access:${net.id.slice(0, 12)}` });
    const ip = got.address.split('/')[0]!;
    return { name: shimOf(net.id), address: `${ip}/32`, routes, allocated: { poolId: entry.poolId, ip } };
  }

  private async ensureShim(rec: MacvlanRecord): Promise<void> {
    const shim = rec.shim!;
    const { stacked, links } = this.deps;
    await stacked.ensureMacvlan(shim.name, rec.lower, { mode: 'bridge', alias: `weft:${rec.networkId}`, up: true });
    await links.ensureAddress(shim.name, shim.address);
    const src = shim.address.split('/')[0]!;
    for (const r of shim.routes) await stacked.ensureRoute(r, shim.name, src);
  }

  /** Removes what the record says weft made. Idempotent. */
  private async teardown(rec: MacvlanRecord): Promise<void> {
    const { stacked, links } = this.deps;
    if (rec.shim) {
      await stacked.deleteLink(rec.shim.name); // its address and routes go with it
      const a = rec.shim.allocated;
      if (a) await this.deps.ipam.releaseAddress(a.poolId, a.ip).catch(() => undefined); // Docker may have released the pool first
    }
    if (rec.internalBridge) await links.deleteLink(rec.internalBridge);
    if (rec.vlan) {
      const owners = vlanOwnersAfter(rec.vlan.name, rec.networkId, await this.records());
      const cur = await stacked.getLink(rec.vlan.name);
      if (owners.length === 0) {
        // Only a link that still carries weft's mark is ours to delete.
        if (cur?.alias?.startsWith('weft:')) await stacked.deleteLink(rec.vlan.name);
      } else if (cur?.alias === `weft:${rec.networkId}`) {
        // The mark names a network that goes away: hand it on, or the start-up sweep would take the link.
        await stacked.setAlias(rec.vlan.name, `weft:${owners[0]!.networkId}`);
      }
    }
  }

  deleteNetwork(net: NetworkRecord): Promise<void> {
    return this.serial(async () => {
      const rec = (await this.deps.store.get<MacvlanRecord>(recordKey(net.id)))?.value;
      if (!rec) return;
      await this.teardown(rec);
      await this.deps.store.delete(recordKey(net.id));
      this.log.info({ networkId: net.id }, 'macvlan network deleted');
    });
  }

  // ---- endpoints ------------------------------------------------------------------------

  private macOf(ep: EndpointRecord): string {
    return ep.mac ?? (ep.addressV4 ? macFromIpv4(ep.addressV4.split('/')[0]!) : randomLocalMac());
  }

  async createEndpoint(net: NetworkRecord, ep: EndpointRecord, caller: Caller): Promise<EndpointInterface> {
    const rec = await this.record(net);
    const opts = parseMacvlanOptions(net.options, net.internal);
    const mine = this.endpointsOf.get(net.id) ?? new Set<string>();
    if (rec.mode === 'passthru') {
      const other = [...mine].find((id) => id !== ep.id);
      if (other) {
        throw new WeftError(ErrorCodes.PARENT_IN_USE, `network ${net.name} is in passthru mode: its parent ${rec.lower} goes to one endpoint, and endpoint ${other.slice(0, 12)} has it; disconnect it first or use bridge mode`);
      }
    }
    mine.add(ep.id);
    this.endpointsOf.set(net.id, mine);
    // passthru hands the parent's own MAC to its one macvlan; any other mode gets its own MAC.
    const mac = rec.mode === 'passthru' ? undefined : this.macOf(ep);
    if (caller === 'weft') {
      // weft's own connect: the link is born inside the sandbox at join, where the namespace is known.
      return mac && !ep.mac ? { macAddress: mac } : {};
    }
    const name = endpointLinkOf(ep.id);
    await this.deps.stacked.ensureMacvlan(name, rec.lower, {
      mode: rec.mode,
      alias: `weft:${ep.id}`,
      ...(mac ? { mac } : {}),
      ...(opts.mtu ? { mtu: opts.mtu } : {}),
    });
    return { srcName: name, ...(mac && !ep.mac ? { macAddress: mac } : {}) };
  }

  async deleteEndpoint(net: NetworkRecord, ep: EndpointRecord): Promise<void> {
    this.endpointsOf.get(net.id)?.delete(ep.id);
    await this.deps.stacked.deleteLink(endpointLinkOf(ep.id));
  }

  async join(net: NetworkRecord, ep: EndpointRecord, sandbox: SandboxRef, caller: Caller): Promise<JoinResult> {
    const rec = await this.record(net);
    const name = endpointLinkOf(ep.id);
    let inSandbox = false;
    if (caller === 'weft') {
      const opts = parseMacvlanOptions(net.options, net.internal);
      const mac = rec.mode === 'passthru' ? undefined : this.macOf(ep);
      await this.deps.stacked.ensureMacvlan(name, rec.lower, {
        mode: rec.mode,
        netns: sandbox,
        ...(mac ? { mac } : {}),
        ...(opts.mtu ? { mtu: opts.mtu } : {}),
      });
      inSandbox = true;
    }
    // The gateway is the LAN's router, outside the host: weft only routes to it.
    const gw4 = net.ipv4[0]?.gateway;
    const gw6 = net.ipv6[0]?.gateway;
    return {
      interface: { srcName: name, dstPrefix: 'eth', ...(inSandbox ? { inSandbox } : {}) },
      ...(!net.internal && gw4 && ep.addressV4 ? { gatewayV4: gw4 } : {}),
      ...(!net.internal && gw6 && ep.addressV6 ? { gatewayV6: gw6 } : {}),
      staticRoutes: [],
      // Docker must not add docker_gwbridge: the router on the LAN (or nothing, internal) is the way out.
      disableGatewayService: true,
    };
  }

  async leave(): Promise<void> {}

  async programExternalConnectivity(net: NetworkRecord, ep: EndpointRecord): Promise<[]> {
    if (ep.portMappings?.length) {
      // As Docker's own macvlan driver: containers have their own address on the LAN, so there is
      // nothing to publish; the request is ignored, not refused.
      this.log.warn({ networkId: net.id, endpointId: ep.id, ports: ep.portMappings }, 'port publishing does not apply to macvlan networks: -p is ignored (reach the container at its own address)');
    }
    return [];
  }

  async revokeExternalConnectivity(): Promise<void> {}

  // ---- restart and repair ---------------------------------------------------------------

  async restore(net: NetworkRecord, endpoints: EndpointRecord[]): Promise<void> {
    const rec = await this.record(net);
    const opts = parseMacvlanOptions(net.options, net.internal);
    if (rec.internalBridge) await this.apply({ op: 'create-bridge', name: rec.internalBridge }, net.id, opts);
    if (rec.vlan && !(await this.deps.stacked.getLink(rec.vlan.name))) {
      await this.apply({ op: 'create-vlan', ...rec.vlan }, net.id, opts);
    }
    if (rec.shim) await this.ensureShim(rec);
    this.endpointsOf.set(net.id, new Set(endpoints.map((e) => e.id)));
    for (const ep of endpoints) {
      // Created for Docker and not moved yet: the link is ours alone to re-create.
      if (ep.origin === 'docker' && !ep.sandbox && !(await this.deps.stacked.getLink(endpointLinkOf(ep.id)))) {
        await this.createEndpoint(net, ep, 'docker');
      }
    }
  }

  /**
   * The host-side links `weft check` and the link events look for: the internal lower bridge
   * (--internal without a parent), the host_access shim, and the link of an endpoint Docker
   * created and has not moved yet (it sits on the host as wfv<id>). A joined endpoint's macvlan
   * lives in the container's namespace under its eth<N> name, so it is not a host link and is
   * not listed (listing it would report every joined endpoint as missing). Derived from the
   * options, as createNetwork's plan is (synchronous: the check calls it for every network).
   */
  expectedLinks(net: NetworkRecord, endpoints: EndpointRecord[]): { name: string; what: string; endpointId?: string }[] {
    let opts: MacvlanOptions;
    try {
      opts = parseMacvlanOptions(net.options, net.internal);
    } catch {
      return []; // a record with options this version refuses: nothing weft would have made
    }
    const out: { name: string; what: string; endpointId?: string }[] = [];
    if (!opts.parent && net.internal) out.push({ name: internalLowerOf(net.id), what: 'internal lower bridge' });
    if (opts.hostAccess) out.push({ name: shimOf(net.id), what: 'host_access shim' });
    for (const ep of endpoints) {
      if (ep.origin === 'docker' && !ep.sandbox) out.push({ name: endpointLinkOf(ep.id), what: `macvlan of endpoint ${ep.id.slice(0, 12)}`, endpointId: ep.id });
    }
    return out;
  }

  /** A joined endpoint's macvlan, inside its sandbox under the name the attach gave it. */
  sandboxLink(_net: NetworkRecord, ep: EndpointRecord): { name: string; what: string } | undefined {
    if (!ep.sandbox || !ep.ifName) return undefined;
    return { name: ep.ifName, what: `macvlan of endpoint ${ep.id.slice(0, 12)}` };
  }

  /**
   * Drift repair (link events, the reconciler's timer, `weft check --repair`): a host_access shim
   * deleted by hand is made again with its address and routes; an internal lower bridge is made
   * again. Deleting a lower device makes the kernel delete every macvlan on it, the endpoints'
   * too, in whatever namespace they are: those are the EndpointRepairer's (sandboxLink; `weft
   * check --repair` lists the bridge first, so it is back before them). Runs in the driver's queue, so it never races a create or delete.
   */
  repair(): Promise<number> {
    return this.serial(async () => {
      let made = 0;
      for (const rec of await this.records()) {
        if (rec.internalBridge && !(await this.deps.links.getLink(rec.internalBridge))) {
          this.log.warn({ networkId: rec.networkId, link: rec.internalBridge }, 'internal lower bridge is gone: re-creating it (the endpoints\' macvlans went with it: weft check --repair re-creates them)');
          await this.deps.links.ensureBridge(rec.internalBridge, { alias: `weft:${rec.networkId}` });
          made++;
        }
        if (rec.shim && !(await this.deps.stacked.getLink(rec.shim.name))) {
          if (!(await this.deps.stacked.getLink(rec.lower))) {
            this.log.warn({ networkId: rec.networkId, link: rec.shim.name, lower: rec.lower }, 'host_access shim is gone and so is its parent: not re-created');
            continue;
          }
          this.log.warn({ networkId: rec.networkId, link: rec.shim.name }, 'host_access shim is gone: re-creating it with its address and routes');
          await this.ensureShim(rec);
          made++;
        }
      }
      return made;
    });
  }
}

type LinkInfoT = NonNullable<Awaited<ReturnType<StackedLinkOps['getLink']>>>;
