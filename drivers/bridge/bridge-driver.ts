// The bridge driver: one Linux bridge per network with the gateway on it, a veth pair per
// endpoint (host end on the bridge, the other end handed to the sandbox), and nftables for NAT,
// isolation and published ports (src/sys/nftables). Model: libnetwork's bridge driver and the
// CNI bridge + portmap plugins.
//
// Kernel state is derived from records: the controller stores the network/endpoint first, then
// calls here. What this driver needs to remember on its own (adopted bridges, resolved published
// ports) lives under drivers/bridge/ in the store, so restore() can rebuild everything after a
// restart, and the firewall is re-synced from the whole picture in restoreDone().

import type { Logger } from 'pino';
import type { Caller, DriverCapabilities, EndpointInterface, JoinResult, NetworkDriver } from '../../src/driver-api/driver.js';
import { cidrWithin, parseCidr } from '../../src/model/address.js';
import { ErrorCodes, WeftError } from '../../src/model/errors.js';
import type { EndpointRecord, NetworkRecord, PublishedPort, SandboxRef } from '../../src/model/network.js';
import type { Store } from '../../src/store/store.js';
import type { Firewall, FirewallNetwork, PortMapping as FwPort } from '../../src/sys/firewall.js';
import type { LinkInfo, LinkOps } from '../../src/sys/link-ops.js';
import { checkState } from '../../src/sys/nftables/validate.js';
import type { Sysctl } from '../../src/sys/sysctl.js';
import { KeyedLock } from '../../src/model/keyed-lock.js';
import { applySysctls, firewallSysctls } from '../../src/sys/nftables/sysctls.js';
import { bridgeNameOf, hostVethOf, macFromIpv4, peerVethOf } from './names.js';
import { parseBridgeOptions, type BridgeOptions } from './options.js';
import { expandMappings, PortReservations, type ResolvedPort } from './ports.js';

/** The kernel's limit of ports on one bridge (BR_MAX_PORTS). */
export const MAX_BRIDGE_PORTS = 1024;

interface BridgeRecord {
  bridge: string;
  /** The bridge existed before weft: never deleted, never marked. */
  adopted: boolean;
}

interface Published {
  networkId: string;
  ports: ResolvedPort[];
  fw: FwPort[];
}

interface NetState {
  net: NetworkRecord;
  opts: BridgeOptions;
  bridge: BridgeRecord;
  endpoints: Set<string>;
}

const bridgeKey = (netId: string) => `drivers/bridge/networks/${netId}`;
const portsKey = (epId: string) => `drivers/bridge/endpoint-ports/${epId}`;

export interface BridgeDriverDeps {
  store: Store;
  links: LinkOps;
  firewall: Firewall;
  sysctl: Sysctl;
  logger: Logger;
}

export class BridgeDriver implements NetworkDriver {
  readonly name = 'bridge' as const;
  readonly available = true;
  // Endpoints of one network share only the NetState (set adds are synchronous) and the
  // firewall (its own lock); veth names come from the endpoint id.
  readonly parallelEndpoints = true;
  private readonly nets = new Map<string, NetState>();
  /** Published ports per endpoint, as reserved and as programmed (persisted at portsKey). */
  private readonly published = new Map<string, Published>();
  private readonly reservations: PortReservations;
  /** The firewall is one shared picture of every bridge network and port: operations that change
   *  it, and the periodic repair that re-syncs it from memory, run one at a time, or a repair could
   *  write back a snapshot taken before a network was deleted (or before one was added). */
  private readonly firewallLock = new KeyedLock();
  private readonly log: Logger;

  constructor(private readonly deps: BridgeDriverDeps) {
    this.reservations = new PortReservations(deps.store);
    this.log = deps.logger.child({ component: 'driver', driver: 'bridge' });
  }

  capabilities(): DriverCapabilities {
    return { scope: 'local', connectivityScope: 'local' };
  }

  validateNetwork(net: NetworkRecord, _caller: Caller): void {
    const opts = parseBridgeOptions(net.options);
    if (opts.bridgeName) {
      const other = [...this.nets.values()].find((s) => s.bridge.bridge === opts.bridgeName && s.net.id !== net.id);
      if (other) {
        throw new WeftError(ErrorCodes.NETWORK_EXISTS, `bridge ${opts.bridgeName} already belongs to network ${JSON.stringify(other.net.name)}`);
      }
    }
  }

  /**
   * Refuses, before anything is written, what createNetwork would only find out after making the
   * bridge: a subnet that overlaps another bridge network's (the firewall keys its rules by
   * subnet), and a bridge name taken by another weft object or by a link that is no bridge.
   */
  async precheckNetwork(net: NetworkRecord): Promise<void> {
    const opts = parseBridgeOptions(net.options);
    const name = opts.bridgeName ?? bridgeNameOf(net.id);
    checkLinkForBridge(name, net.id, await this.deps.links.getLink(name));
    const mine: NetState = { net, opts, bridge: { bridge: name, adopted: false }, endpoints: new Set() };
    const others = [...this.nets.values()].filter((s) => s.net.id !== net.id);
    for (const s of [...net.ipv4, ...net.ipv6].map((e) => e.subnet)) {
      for (const o of others) {
        const hit = [...o.net.ipv4, ...o.net.ipv6].map((e) => e.subnet).find((t) => subnetsOverlap(s, t));
        if (hit) {
          throw new WeftError(ErrorCodes.POOL_OVERLAP, `subnet ${s} overlaps network ${JSON.stringify(o.net.name)} (${hit}): bridge networks share the host's routing, so their subnets must be disjoint; choose another subnet`);
        }
      }
    }
    // What the firewall's addNetwork checks (host bits, its own subnets disjoint...), here before any change.
    checkState({ networks: [...others, mine].map((s) => this.firewallNetwork(s)), ports: [] });
  }

  // ---- networks -------------------------------------------------------------------------

  createNetwork(net: NetworkRecord): Promise<void> {
    return this.firewallLock.run('fw', () => this.createNetworkLocked(net));
  }

  private async createNetworkLocked(net: NetworkRecord): Promise<void> {
    const opts = parseBridgeOptions(net.options);
    const name = opts.bridgeName ?? bridgeNameOf(net.id);
    const existing = await this.deps.links.getLink(name);
    checkLinkForBridge(name, net.id, existing);
    const record: BridgeRecord = { bridge: name, adopted: existing !== undefined && existing.alias === undefined };
    // Recorded before the kernel is touched, so a crash leaves something the reconciler can finish or undo.
    await this.deps.store.put(bridgeKey(net.id), record);
    const state: NetState = { net, opts, bridge: record, endpoints: new Set() };
    const added = { firewall: false };
    try {
      await this.ensureNetworkKernel(state, added);
    } catch (e) {
      // A network the firewall refused must not be removed from it: its elements are keyed by
      // subnet and bridge, so the removal would take another network's elements with it.
      await this.teardownNetworkKernel(state, added.firewall).catch(() => undefined);
      await this.deps.store.delete(bridgeKey(net.id));
      throw e;
    }
    this.nets.set(net.id, state);
    this.log.info({ networkId: net.id, bridge: name, adopted: record.adopted }, 'bridge network created');
  }

  /** Bridge, gateway addresses, sysctls and firewall elements: idempotent. */
  private async ensureNetworkKernel(s: NetState, added = { firewall: false }): Promise<void> {
    const { links, sysctl, firewall } = this.deps;
    const name = s.bridge.bridge;
    await links.ensureBridge(name, {
      ...(s.opts.mtu ? { mtu: s.opts.mtu } : {}),
      ...(s.bridge.adopted ? {} : { alias: `weft:${s.net.id}` }),
    });
    for (const e of s.net.ipv4) if (e.gateway) await links.ensureAddress(name, `${e.gateway}/${parseCidr(e.subnet).prefix}`);
    for (const e of s.net.ipv6) if (e.gateway) await links.ensureAddress(name, `${e.gateway}/${parseCidr(e.subnet).prefix}`, { noDad: true });
    // Forwarding, and route_localnet so that 127.0.0.1:PORT can be DNATed to a container.
    await applySysctls(sysctl, firewallSysctls(this.firewallNetwork(s)));
    await firewall.addNetwork(this.firewallNetwork(s));
    added.firewall = true;
  }

  private firewallNetwork(s: NetState): FirewallNetwork {
    return {
      id: s.net.id,
      bridge: s.bridge.bridge,
      subnetsV4: s.net.ipv4.map((e) => e.subnet),
      subnetsV6: s.net.ipv6.map((e) => e.subnet),
      icc: s.opts.icc,
      masquerade: s.opts.masquerade,
      masqueradeV6: s.opts.masqueradeV6,
      internal: s.net.internal,
      ...(s.opts.hostBindingIpv4 ? { hostBindingIpv4: s.opts.hostBindingIpv4 } : {}),
    };
  }

  private async teardownNetworkKernel(s: NetState, inFirewall = true): Promise<void> {
    if (inFirewall) await this.deps.firewall.removeNetwork(this.firewallNetwork(s));
    if (s.bridge.adopted) {
      // Give an adopted bridge back as we found it: only the gateway addresses weft added go.
      for (const e of [...s.net.ipv4, ...s.net.ipv6]) {
        if (e.gateway) await this.deps.links.deleteAddress(s.bridge.bridge, `${e.gateway}/${parseCidr(e.subnet).prefix}`);
      }
    } else {
      await this.deps.links.deleteLink(s.bridge.bridge);
    }
  }

  deleteNetwork(net: NetworkRecord): Promise<void> {
    return this.firewallLock.run('fw', () => this.deleteNetworkLocked(net));
  }

  private async deleteNetworkLocked(net: NetworkRecord): Promise<void> {
    const s = this.nets.get(net.id) ?? (await this.loadState(net));
    if (!s) return;
    await this.teardownNetworkKernel(s);
    await this.deps.store.delete(bridgeKey(net.id));
    this.nets.delete(net.id);
    this.log.info({ networkId: net.id, bridge: s.bridge.bridge }, 'bridge network deleted');
  }

  private async loadState(net: NetworkRecord): Promise<NetState | undefined> {
    const rec = (await this.deps.store.get<BridgeRecord>(bridgeKey(net.id)))?.value;
    if (!rec) return undefined;
    return { net, opts: parseBridgeOptions(net.options), bridge: rec, endpoints: new Set() };
  }

  private async state(net: NetworkRecord): Promise<NetState> {
    const s = this.nets.get(net.id) ?? (await this.loadState(net));
    if (!s) throw new WeftError(ErrorCodes.NETWORK_NOT_FOUND, `bridge network ${net.name} has no bridge record (was it created by this weft?)`);
    this.nets.set(net.id, s);
    return s;
  }

  // ---- endpoints ------------------------------------------------------------------------

  async createEndpoint(net: NetworkRecord, ep: EndpointRecord, caller: Caller = 'docker'): Promise<EndpointInterface> {
    const s = await this.state(net);
    if (s.endpoints.size >= MAX_BRIDGE_PORTS && !s.endpoints.has(ep.id)) {
      throw new WeftError(ErrorCodes.BRIDGE_FULL, `network ${net.name} is full: a Linux bridge takes at most ${MAX_BRIDGE_PORTS} ports; create another network`);
    }
    const mac = this.macOf(ep);
    // Docker moves SrcName into the container itself, so the pair is born on the host. weft's own
    // connect knows the namespace at join: the pair is born there (join), which saves the
    // kernel's 10-30 ms namespace move.
    if (caller === 'docker') await this.ensureVeth(s, ep, mac);
    s.endpoints.add(ep.id);
    return { srcName: peerVethOf(ep.id), ...(ep.mac ? {} : { macAddress: mac }) };
  }

  private macOf(ep: EndpointRecord): string {
    return ep.mac ?? (ep.addressV4 ? macFromIpv4(ep.addressV4.split('/')[0]!) : randomLocalMac());
  }

  private ensureVeth(s: NetState, ep: EndpointRecord, mac: string, sandbox?: SandboxRef): Promise<void> {
    return this.deps.links.ensureVeth(hostVethOf(ep.id), peerVethOf(ep.id), {
      master: s.bridge.bridge,
      alias: `weft:${ep.id}`,
      peerMac: mac,
      hairpin: s.opts.hairpin,
      ...(s.opts.mtu ? { mtu: s.opts.mtu } : {}),
      ...(sandbox ? { peerNetns: sandbox } : {}),
    });
  }

  async deleteEndpoint(net: NetworkRecord, ep: EndpointRecord): Promise<void> {
    await this.revokeExternalConnectivity(net, ep);
    await this.deps.links.deleteLink(hostVethOf(ep.id));
    this.nets.get(net.id)?.endpoints.delete(ep.id);
  }

  async join(net: NetworkRecord, ep: EndpointRecord, sandbox: SandboxRef, caller: Caller = 'docker'): Promise<JoinResult> {
    const s = await this.state(net);
    if (caller === 'weft') await this.ensureVeth(s, ep, this.macOf(ep), sandbox);
    const gw4 = net.ipv4[0]?.gateway;
    const gw6 = net.ipv6[0]?.gateway;
    return {
      interface: { srcName: peerVethOf(ep.id), dstPrefix: s.opts.ifacePrefix, ...(caller === 'weft' ? { inSandbox: true } : {}) },
      ...(!net.internal && gw4 && ep.addressV4 ? { gatewayV4: gw4 } : {}),
      ...(!net.internal && gw6 && ep.addressV6 ? { gatewayV6: gw6 } : {}),
      staticRoutes: [],
      // weft gives the gateway and NATs itself; Docker must not add its docker_gwbridge.
      disableGatewayService: true,
    };
  }

  async leave(): Promise<void> {}

  expectedLinks(net: NetworkRecord, endpoints: EndpointRecord[]): { name: string; what: string; endpointId?: string }[] {
    const s = this.nets.get(net.id);
    return [
      { name: s?.bridge.bridge ?? parseBridgeOptions(net.options).bridgeName ?? bridgeNameOf(net.id), what: 'bridge' },
      // The host end stays on the bridge whether or not the endpoint is joined.
      ...endpoints.map((ep) => ({ name: hostVethOf(ep.id), what: `veth of endpoint ${ep.id.slice(0, 12)}`, endpointId: ep.id })),
    ];
  }

  programExternalConnectivity(net: NetworkRecord, ep: EndpointRecord): Promise<PublishedPort[]> {
    return this.firewallLock.run('fw', () => this.programExternalConnectivityLocked(net, ep));
  }

  private async programExternalConnectivityLocked(net: NetworkRecord, ep: EndpointRecord): Promise<PublishedPort[]> {
    const mappings = ep.portMappings ?? [];
    if (net.internal || mappings.length === 0) return [];
    const already = this.published.get(ep.id);
    if (already) return already.ports;
    const s = await this.state(net);
    const wanted = expandMappings(mappings, { v4: !!ep.addressV4, v6: !!ep.addressV6 }, s.opts.hostBindingIpv4);
    const ports = await this.reservations.reserve(ep.id, wanted);
    const held: Published = { networkId: net.id, ports, fw: this.firewallPorts(net.id, ep, ports) };
    try {
      await this.deps.store.put(portsKey(ep.id), held);
      await this.deps.firewall.addPorts(held.fw);
    } catch (e) {
      await this.reservations.release(ep.id, ports);
      await this.deps.store.delete(portsKey(ep.id));
      throw e;
    }
    this.published.set(ep.id, held);
    this.log.info({ endpointId: ep.id, ports }, 'ports published');
    return ports;
  }

  private firewallPorts(networkId: string, ep: EndpointRecord, ports: ResolvedPort[]): FwPort[] {
    return ports.map((p) => ({
      networkId,
      proto: p.proto,
      family: p.family,
      hostIp: p.hostIp,
      hostPort: p.hostPort,
      containerIp: (p.family === 4 ? ep.addressV4 : ep.addressV6)!.split('/')[0]!,
      containerPort: p.containerPort,
    }));
  }

  revokeExternalConnectivity(net: NetworkRecord, ep: EndpointRecord): Promise<void> {
    return this.firewallLock.run('fw', () => this.revokeExternalConnectivityLocked(net, ep));
  }

  private async revokeExternalConnectivityLocked(net: NetworkRecord, ep: EndpointRecord): Promise<void> {
    const held = this.published.get(ep.id) ?? (await this.deps.store.get<Published>(portsKey(ep.id)))?.value;
    if (!held) return;
    await this.deps.firewall.removePorts(held.fw);
    await this.reservations.release(ep.id, held.ports);
    await this.deps.store.delete(portsKey(ep.id));
    this.published.delete(ep.id);
  }

  /** The ports weft chose for an endpoint (for inspect: Docker cannot show them, protocol §2.7). */
  publishedPorts(endpointId: string): ResolvedPort[] {
    return this.published.get(endpointId)?.ports ?? [];
  }

  // ---- restart and repair ---------------------------------------------------------------

  restore(net: NetworkRecord, endpoints: EndpointRecord[]): Promise<void> {
    return this.firewallLock.run('fw', () => this.restoreLocked(net, endpoints));
  }

  private async restoreLocked(net: NetworkRecord, endpoints: EndpointRecord[]): Promise<void> {
    const s = await this.state(net);
    s.net = net;
    await this.ensureNetworkKernel(s);
    for (const ep of endpoints) {
      s.endpoints.add(ep.id);
      const host = await this.deps.links.getLink(hostVethOf(ep.id));
      if (!host && !ep.sandbox) {
        // Created but never joined: the pair is ours alone to re-create.
        await this.createEndpoint(net, ep);
      } else if (!host) {
        // Joined and gone: deleting either end of a veth deletes both, so the sandbox lost it too.
        this.log.warn({ endpointId: ep.id, sandbox: ep.sandbox }, 'endpoint veth is gone from a joined sandbox');
      }
      const held = (await this.deps.store.get<Published>(portsKey(ep.id)))?.value;
      if (held) this.published.set(ep.id, held);
    }
  }

  restoreDone(): Promise<void> {
    return this.firewallLock.run('fw', () => this.restoreDoneLocked());
  }

  private async restoreDoneLocked(): Promise<void> {
    await this.deps.firewall.sync(this.firewallState());
  }

  repair(): Promise<number> {
    return this.firewallLock.run('fw', () => this.repairLocked());
  }

  private async repairLocked(): Promise<number> {
    let made = 0;
    // One dump of the links per pass, not one call per endpoint.
    const links = new Map((await this.deps.links.listLinks()).map((l) => [l.name, l]));
    for (const s of this.nets.values()) {
      if (!links.has(s.bridge.bridge)) {
        this.log.warn({ networkId: s.net.id, bridge: s.bridge.bridge }, 'bridge is gone from the kernel: re-creating it');
        await this.ensureNetworkKernel(s);
        made++;
      }
      // Host ends that lost their bridge (it was deleted and re-created, or someone detached
      // them) go back on it; their peers, inside the containers, are untouched.
      for (const epId of s.endpoints) {
        const host = links.get(hostVethOf(epId));
        if (!host || host.master === s.bridge.bridge) continue;
        const base = { master: s.bridge.bridge, alias: `weft:${epId}`, ...(s.opts.mtu ? { mtu: s.opts.mtu } : {}) };
        // Hairpin is a bridge-port setting: it can only be set once the link is a port.
        await this.deps.links.ensureVeth(hostVethOf(epId), peerVethOf(epId), base);
        await this.deps.links.ensureVeth(hostVethOf(epId), peerVethOf(epId), { ...base, hairpin: s.opts.hairpin });
        this.log.warn({ networkId: s.net.id, link: hostVethOf(epId) }, 'endpoint veth was off its bridge: put back');
        made++;
      }
    }
    return made + (await this.repairFirewallLocked());
  }

  /**
   * The firewall alone (tables, sets and the DOCKER-USER rule): checked and, if it drifted,
   * re-synced. For callers that know the host firewall may just have changed (dockerd started
   * and made its chains) and must not wait for the periodic pass. Returns the repairs made (0 or 1).
   */
  repairFirewall(): Promise<number> {
    return this.firewallLock.run('fw', () => this.repairFirewallLocked());
  }

  private async repairFirewallLocked(): Promise<number> {
    const state = this.firewallState();
    if (!(await this.deps.firewall.drifted(state))) return 0;
    this.log.warn('firewall rules differ from what weft set (flushed, reloaded, or Docker started?): restoring them');
    await this.deps.firewall.sync(state);
    return 1;
  }

  /** weft's firewall elements against what this driver's networks and ports want (`weft check`). */
  firewallDiff(): Promise<{ extra: { set: string; element: string }[]; missing: { set: string; element: string }[] } | undefined> {
    return this.firewallLock.run('fw', async () => this.deps.firewall.elementDiff?.(this.firewallState()));
  }

  private firewallState(): { networks: FirewallNetwork[]; ports: FwPort[] } {
    return {
      networks: [...this.nets.values()].map((s) => this.firewallNetwork(s)),
      ports: [...this.published.values()].flatMap((p) => p.fw),
    };
  }
}

/** The link a bridge network would use as its bridge: free, its own, or a bridge weft may adopt. */
function checkLinkForBridge(name: string, networkId: string, existing: LinkInfo | undefined): void {
  if (existing?.alias && existing.alias !== `weft:${networkId}`) {
    throw new WeftError(ErrorCodes.NETWORK_EXISTS, `bridge ${name} is already used by weft object ${existing.alias.slice(5, 17)}`);
  }
  // A link without a kind is a physical device (or lo): no bridge either, which ensureBridge
  // would only find out after the network is recorded.
  if (existing && existing.kind !== 'bridge') {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `${name} exists and is ${existing.kind ? `a ${existing.kind} link` : 'a device'}, not a bridge: give another bridge name`);
  }
}

function subnetsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  return x.family === y.family && (cidrWithin(x, y) || cidrWithin(y, x));
}

function randomLocalMac(): string {
  const bytes = Array.from({ length: 5 }, () => Math.floor(Math.random() * 256));
  return ['02', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
