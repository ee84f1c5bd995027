// The overlay driver (docs/overlay.md): one network on every host of the cluster. The network
// record and its VNI live in the cluster store (etcd); per host, a network with local endpoints
// gets a bridge carrying the distributed gateway (same address and MAC on every host) and a VXLAN
// port, created with the first local endpoint and removed with the last. Endpoints are veths on
// the bridge, as in the bridge driver. Where remote endpoints are is the peer table, programmed
// into the VXLAN device by PeerProgrammer. Model: libnetwork's overlay driver and flannel's VXLAN
// backend; unlike libnetwork, broadcast crosses hosts (head-end replication entries).

import type { Logger } from 'pino';
import { PEERS_PREFIX, PeerTable } from '../../src/cluster/peers.js';
import { VniAllocator } from '../../src/cluster/vni.js';
import type { HostState } from '../../src/cluster/host-records.js';
import type { Caller, DriverCapabilities, EndpointInterface, JoinResult, NetworkDriver } from '../../src/driver-api/driver.js';
import { parseCidr } from '../../src/model/address.js';
import { ErrorCodes, WeftError } from '../../src/model/errors.js';
import type { EndpointRecord, NetworkRecord, PublishedPort, SandboxRef } from '../../src/model/network.js';
import type { Store } from '../../src/store/store.js';
import type { CommandRunner } from '../../src/sys/exec.js';
import type { LinkOps } from '../../src/sys/link-ops.js';
import { syncOverlayFilter, type GatewayGuard, type OverlayPort } from '../../src/sys/overlay-filter.js';
import { expandMappings, PortReservations, type ResolvedPort } from '../bridge/ports.js';
import type { Sysctl } from '../../src/sys/sysctl.js';
import { ensureVxlan, underlayMtu } from '../../src/sys/vxlan.js';
import { VXLAN_OVERHEAD, gatewayMacOf, hostVethOf, macFromIpv4, overlayBridgeOf, peerVethOf, vxlanDeviceOf } from './names.js';
import { missingIdentityError } from './docker-identity.js';
import { WEFT_NETWORK_OPTION, parseOverlayOptions, type OverlayOptions } from './options.js';
import { PeerProgrammer, type PeerStats } from './peer-programmer.js';

export interface OverlayDriverDeps {
  /** The cluster store (etcd). With `--store local` it is the embedded store: overlay is refused. */
  clusterStore: Store;
  /** The host's embedded store: published ports (reserved with the bridge driver's, so the two
   *  never hand out one host port twice). */
  localStore: Store;
  links: LinkOps;
  sysctl: Sysctl;
  runner: CommandRunner;
  logger: Logger;
  hostId: string;
  /** --advertise-addr: this host's VTEP. */
  advertiseAddr?: string;
  /** Anti-entropy period of the peer tables. */
  repairIntervalMs: number;
}

interface Published {
  networkId: string;
  ports: ResolvedPort[];
  dnat: OverlayPort[];
}

const portsKey = (epId: string) => `drivers/overlay/endpoint-ports/${epId}`;

interface NetState {
  net: NetworkRecord;
  opts: OverlayOptions;
  vni: number;
  endpoints: Set<string>;
  /** Bridge, VXLAN device, gateway and nftables are in place on this host. */
  up: boolean;
  mtu?: number;
}

export class OverlayDriver implements NetworkDriver {
  readonly name = 'overlay' as const;
  readonly available = true;
  /** Network records live in the cluster store (the controller's ScopedRecords reads this). */
  readonly globalNetworks = true;
  private readonly nets = new Map<string, NetState>();
  private readonly published = new Map<string, Published>();
  private readonly reservations: PortReservations;
  private readonly vnis: VniAllocator;
  private readonly peers: PeerTable;
  private readonly log: Logger;
  private vxlanPort: number | undefined;
  private programmer: PeerProgrammer | undefined;
  private hostState: (id: string) => HostState | undefined = () => undefined;

  constructor(private readonly deps: OverlayDriverDeps) {
    this.vnis = new VniAllocator(deps.clusterStore);
    this.reservations = new PortReservations(deps.localStore);
    this.peers = new PeerTable(deps.clusterStore);
    this.log = deps.logger.child({ component: 'driver', driver: 'overlay' });
  }

  private get clustered(): boolean {
    return this.deps.clusterStore.scope === 'global';
  }

  /**
   * Called by weftd once the cluster store is open and the VXLAN port is resolved (before the
   * reconciler restores networks). Starts the peer watch and the anti-entropy timer.
   */
  async startCluster(vxlanPort: number): Promise<void> {
    this.vxlanPort = vxlanPort;
    this.programmer = new PeerProgrammer({
      store: this.deps.clusterStore,
      runner: this.deps.runner,
      selfId: this.deps.hostId,
      hostState: (id) => this.hostState(id),
      logger: this.deps.logger,
      repairIntervalMs: this.deps.repairIntervalMs,
    });
    await this.programmer.start();
  }

  /** Membership's view of hosts: "gone" hosts are not programmed; called on every change. */
  useHostStates(state: (id: string) => HostState | undefined): void {
    this.hostState = state;
    this.programmer?.hostsChanged();
  }

  hostsChanged(): void {
    this.programmer?.hostsChanged();
  }

  /** A host was removed for good (`weft host rm`): its peers leave the table (its addresses were
   *  freed and may be handed out again). Every weftd may do it; deletes are idempotent. */
  async forgetHost(hostId: string): Promise<number> {
    if (!this.clustered || hostId === this.deps.hostId) return 0;
    let n = 0;
    for (const kv of await this.deps.clusterStore.list<{ host: string }>(PEERS_PREFIX)) {
      if (kv.value.host === hostId && (await this.deps.clusterStore.delete(kv.key))) n++;
    }
    if (n) this.log.info({ host: hostId, peers: n }, 'removed host: its overlay peers are deleted');
    return n;
  }

  async stop(): Promise<void> {
    await this.programmer?.stop();
  }

  stats(): PeerStats & { vxlanPort?: number; vtep?: string } {
    return {
      ...(this.programmer?.stats() ?? { repairs: 0, passes: 0, networks: {} }),
      ...(this.vxlanPort !== undefined ? { vxlanPort: this.vxlanPort } : {}),
      ...(this.deps.advertiseAddr ? { vtep: this.deps.advertiseAddr } : {}),
    };
  }

  capabilities(): DriverCapabilities {
    // Docker 20.10 keeps remote networks per engine (protocol §7): scope local, connectivity global.
    return { scope: 'local', connectivityScope: 'global' };
  }

  validateNetwork(net: NetworkRecord, caller: Caller): void {
    if (!this.clustered) {
      throw new WeftError(ErrorCodes.NOT_SUPPORTED, 'overlay networks span hosts and need the cluster store: start every weftd with --store etcd://HOST:PORT');
    }
    const opts = parseOverlayOptions(net.options);
    // Through Docker the network's name is the cluster identity (src/plugin/handlers/overlay-network.ts
    // sets it from -o weft.network); through weft the name is given, and an identity must agree.
    if (caller === 'docker' && opts.identity !== net.name) throw missingIdentityError(net.ipv4[0]?.subnet);
    if (caller === 'weft' && opts.identity !== undefined && opts.identity !== net.name) {
      throw new WeftError(ErrorCodes.INVALID_OPTION, `option ${WEFT_NETWORK_OPTION}=${opts.identity} differs from the network's name ${net.name}: leave it out (through weft the name is the identity)`);
    }
  }

  // ---- networks -------------------------------------------------------------------------

  async createNetwork(net: NetworkRecord): Promise<void> {
    const opts = parseOverlayOptions(net.options);
    const vni = await this.vnis.allocate(net.id, opts.vni);
    this.nets.set(net.id, { net, opts, vni, endpoints: new Set(), up: false });
    this.log.info({ networkId: net.id, vni }, 'overlay network created');
  }

  async deleteNetwork(net: NetworkRecord): Promise<void> {
    const s = this.nets.get(net.id);
    if (s?.up) await this.teardownKernel(s);
    await this.peers.deleteNetwork(net.id);
    await this.vnis.release(net.id);
    this.nets.delete(net.id);
    await this.syncGuards();
  }

  /** Every host's endpoints of a network, from the peer table (`weft check`: addresses across hosts). */
  async clusterPeers(net: NetworkRecord): Promise<Array<{ endpointId: string; host: string; ipv4?: string; ipv6?: string }> | undefined> {
    if (!this.clustered || net.driver !== 'overlay') return undefined;
    return (await this.peers.list(net.id)).map((p) => ({ endpointId: p.endpointId, host: p.host, ...(p.ipv4 ? { ipv4: p.ipv4 } : {}), ...(p.ipv6 ? { ipv6: p.ipv6 } : {}) }));
  }

  /** Endpoint ids of this network on other hosts (the controller refuses to delete while any). */
  async endpointsElsewhere(net: NetworkRecord): Promise<string[]> {
    return (await this.peers.list(net.id)).filter((p) => p.host !== this.deps.hostId).map((p) => `${p.endpointId.slice(0, 12)} on host ${p.host}`);
  }

  private async state(net: NetworkRecord): Promise<NetState> {
    const have = this.nets.get(net.id);
    if (have) {
      have.net = net;
      return have;
    }
    const vni = await this.vnis.of(net.id);
    if (vni === undefined) throw new WeftError(ErrorCodes.NETWORK_NOT_FOUND, `overlay network ${net.name} has no VXLAN id in the cluster store`);
    const s: NetState = { net, opts: parseOverlayOptions(net.options), vni, endpoints: new Set(), up: false };
    this.nets.set(net.id, s);
    return s;
  }

  private vtep(): string {
    if (!this.deps.advertiseAddr) {
      throw new WeftError(ErrorCodes.NOT_SUPPORTED, 'overlay endpoints need this host\'s underlay address: start weftd with --advertise-addr IP');
    }
    if (this.vxlanPort === undefined) throw new WeftError(ErrorCodes.NOT_SUPPORTED, 'overlay networks need the cluster store: start weftd with --store etcd://HOST:PORT');
    return this.deps.advertiseAddr;
  }

  private async mtuOf(s: NetState): Promise<number> {
    if (s.opts.mtu) return s.opts.mtu;
    if (s.mtu) return s.mtu;
    const under = await underlayMtu(this.deps.runner, this.vtep());
    s.mtu = (under ?? 1500) - VXLAN_OVERHEAD;
    return s.mtu;
  }

  /** Bridge with the distributed gateway, VXLAN port, sysctls, nftables (src/sys/overlay-filter.ts): idempotent. */
  private async ensureKernel(s: NetState): Promise<void> {
    const { links, sysctl, runner } = this.deps;
    const vtep = this.vtep();
    const mtu = await this.mtuOf(s);
    const bridge = overlayBridgeOf(s.net.id);
    const vxlan = vxlanDeviceOf(s.net.id);
    await links.ensureBridge(bridge, { mtu, alias: `weft:${s.net.id}`, mac: gatewayMacOf(s.vni) });
    for (const e of s.net.ipv4) if (e.gateway) await links.ensureAddress(bridge, `${e.gateway}/${parseCidr(e.subnet).prefix}`);
    // No DAD: the same gateway address is on every host's bridge by design.
    for (const e of s.net.ipv6) if (e.gateway) await links.ensureAddress(bridge, `${e.gateway}/${parseCidr(e.subnet).prefix}`, { noDad: true });
    await ensureVxlan(runner, { name: vxlan, vni: s.vni, port: this.vxlanPort!, local: vtep, mtu, master: bridge, alias: `weft:${s.net.id}` });
    if (!s.net.internal) {
      await sysctl.set('net.ipv4.ip_forward', '1');
      if (s.net.ipv6.length) await sysctl.set('net.ipv6.conf.all.forwarding', '1');
    }
    s.up = true;
    await this.syncGuards();
    await this.programmer?.activate(s.net.id, vxlan);
  }

  private async teardownKernel(s: NetState): Promise<void> {
    this.programmer?.deactivate(s.net.id);
    s.up = false;
    await this.deleteOwnLink(vxlanDeviceOf(s.net.id), s.net.id);
    await this.deleteOwnLink(overlayBridgeOf(s.net.id), s.net.id);
    await this.syncGuards();
    this.log.info({ networkId: s.net.id }, 'overlay network removed from this host (no local endpoints left)');
  }

  /** Deletes a link only when it carries this network's mark. */
  private async deleteOwnLink(name: string, networkId: string): Promise<void> {
    const l = await this.deps.links.getLink(name);
    if (l && l.alias === `weft:${networkId}`) await this.deps.links.deleteLink(name);
  }

  private async syncGuards(): Promise<void> {
    const guards: GatewayGuard[] = [...this.nets.values()]
      .filter((s) => s.up)
      .map((s) => ({
        bridge: overlayBridgeOf(s.net.id),
        vxlan: vxlanDeviceOf(s.net.id),
        subnetsV4: s.net.ipv4.map((e) => e.subnet),
        subnetsV6: s.net.ipv6.map((e) => e.subnet),
        internal: s.net.internal,
        gatewayMac: gatewayMacOf(s.vni),
        ...(s.net.ipv4[0]?.gateway ? { gatewayV4: s.net.ipv4[0].gateway } : {}),
        ...(s.net.ipv6[0]?.gateway ? { gatewayV6: s.net.ipv6[0].gateway } : {}),
      }));
    const up = new Set([...this.nets.values()].filter((s) => s.up).map((s) => s.net.id));
    const ports = [...this.published.values()].filter((p) => up.has(p.networkId)).flatMap((p) => p.dnat);
    await syncOverlayFilter(this.deps.runner, guards, ports);
  }

  // ---- endpoints ------------------------------------------------------------------------

  async createEndpoint(net: NetworkRecord, ep: EndpointRecord): Promise<EndpointInterface> {
    const s = await this.state(net);
    const vtep = this.vtep();
    const first = !s.up;
    try {
      if (first) await this.ensureKernel(s);
      const mac = ep.mac ?? (ep.addressV4 ? macFromIpv4(ep.addressV4.split('/')[0]!) : randomLocalMac());
      await this.deps.links.ensureVeth(hostVethOf(ep.id), peerVethOf(ep.id), {
        master: overlayBridgeOf(net.id),
        alias: `weft:${ep.id}`,
        peerMac: mac,
        mtu: await this.mtuOf(s),
      });
      s.endpoints.add(ep.id);
      await this.peers.put(net.id, ep.id, {
        host: this.deps.hostId,
        vtep,
        mac,
        ...(ep.addressV4 ? { ipv4: ep.addressV4.split('/')[0]! } : {}),
        ...(ep.addressV6 ? { ipv6: ep.addressV6.split('/')[0]! } : {}),
      });
      return { srcName: peerVethOf(ep.id), ...(ep.mac ? {} : { macAddress: mac }) };
    } catch (e) {
      s.endpoints.delete(ep.id);
      await this.deps.links.deleteLink(hostVethOf(ep.id)).catch(() => undefined);
      if (first && s.endpoints.size === 0) await this.teardownKernel(s).catch(() => undefined);
      throw e;
    }
  }

  async deleteEndpoint(net: NetworkRecord, ep: EndpointRecord): Promise<void> {
    await this.revokeExternalConnectivity(net, ep);
    await this.peers.delete(net.id, ep.id);
    await this.deps.links.deleteLink(hostVethOf(ep.id));
    const s = this.nets.get(net.id);
    if (!s) return;
    s.endpoints.delete(ep.id);
    if (s.endpoints.size === 0 && s.up) await this.teardownKernel(s);
  }

  async join(net: NetworkRecord, ep: EndpointRecord, _sandbox: SandboxRef): Promise<JoinResult> {
    await this.state(net);
    const gw4 = net.ipv4[0]?.gateway;
    const gw6 = net.ipv6[0]?.gateway;
    return {
      interface: { srcName: peerVethOf(ep.id), dstPrefix: 'eth' },
      ...(!net.internal && gw4 && ep.addressV4 ? { gatewayV4: gw4 } : {}),
      ...(!net.internal && gw6 && ep.addressV6 ? { gatewayV6: gw6 } : {}),
      staticRoutes: [],
      disableGatewayService: true,
    };
  }

  async leave(): Promise<void> {}

  /** Published ports are DNATed on the endpoint's own host, as on bridge networks. */
  async programExternalConnectivity(net: NetworkRecord, ep: EndpointRecord): Promise<PublishedPort[]> {
    const mappings = ep.portMappings ?? [];
    if (net.internal || mappings.length === 0) return [];
    const already = this.published.get(ep.id);
    if (already) return already.ports;
    const wanted = expandMappings(mappings, { v4: !!ep.addressV4, v6: !!ep.addressV6 });
    const ports = await this.reservations.reserve(ep.id, wanted);
    const held: Published = {
      networkId: net.id,
      ports,
      dnat: ports.map((p) => ({
        proto: p.proto,
        family: p.family,
        hostIp: p.hostIp,
        hostPort: p.hostPort,
        containerIp: (p.family === 4 ? ep.addressV4 : ep.addressV6)!.split('/')[0]!,
        containerPort: p.containerPort,
      })),
    };
    try {
      await this.deps.localStore.put(portsKey(ep.id), held);
      this.published.set(ep.id, held);
      await this.syncGuards();
    } catch (e) {
      this.published.delete(ep.id);
      await this.reservations.release(ep.id, ports);
      await this.deps.localStore.delete(portsKey(ep.id));
      throw e;
    }
    this.log.info({ endpointId: ep.id, ports }, 'ports published');
    return ports;
  }

  async revokeExternalConnectivity(_net: NetworkRecord, ep: EndpointRecord): Promise<void> {
    const held = this.published.get(ep.id) ?? (await this.deps.localStore.get<Published>(portsKey(ep.id)))?.value;
    if (!held) return;
    this.published.delete(ep.id);
    await this.syncGuards();
    await this.reservations.release(ep.id, held.ports);
    await this.deps.localStore.delete(portsKey(ep.id));
  }

  // ---- restart and repair ---------------------------------------------------------------

  /** The host-side links of a network that has endpoints here (none while it has none). */
  expectedLinks(net: NetworkRecord, endpoints: EndpointRecord[]): { name: string; what: string; endpointId?: string }[] {
    if (endpoints.length === 0) return [];
    return [
      { name: overlayBridgeOf(net.id), what: 'overlay bridge' },
      { name: vxlanDeviceOf(net.id), what: 'VXLAN device' },
      ...endpoints.map((ep) => ({ name: hostVethOf(ep.id), what: `veth of endpoint ${ep.id.slice(0, 12)}`, endpointId: ep.id })),
    ];
  }

  /**
   * Drift repair (the reconciler's link events and timer): a bridge or VXLAN device deleted by hand
   * is made again (ensureKernel also re-activates the FDB/neighbour programming on the new device),
   * and endpoint veths that lost their bridge go back on it. Veths gone altogether are the
   * EndpointRepairer's (they need the container's namespace).
   */
  async repair(): Promise<number> {
    let made = 0;
    for (const s of this.nets.values()) {
      if (!s.up) continue;
      const bridge = overlayBridgeOf(s.net.id);
      const vxlan = vxlanDeviceOf(s.net.id);
      const [b, x] = [await this.deps.links.getLink(bridge), await this.deps.links.getLink(vxlan)];
      if (!b || !x || x.master !== bridge) {
        this.log.warn({ networkId: s.net.id, bridge: !!b, vxlan: !!x }, 'overlay bridge or VXLAN device is gone: re-creating it');
        this.programmer?.deactivate(s.net.id);
        await this.ensureKernel(s);
        made++;
      }
      for (const epId of s.endpoints) {
        const host = await this.deps.links.getLink(hostVethOf(epId));
        if (!host || host.master === bridge) continue;
        await this.deps.links.ensureVeth(hostVethOf(epId), peerVethOf(epId), { master: bridge, alias: `weft:${epId}`, mtu: await this.mtuOf(s) });
        this.log.warn({ networkId: s.net.id, link: hostVethOf(epId) }, 'endpoint veth was off its bridge: put back');
        made++;
      }
    }
    return made;
  }

  async restore(net: NetworkRecord, endpoints: EndpointRecord[]): Promise<void> {
    const s = await this.state(net);
    s.endpoints = new Set(endpoints.map((e) => e.id));
    // Peers this host published for endpoints it no longer has (a crash between the record's
    // removal and the peer's): the other hosts would keep pointing at them.
    for (const p of await this.peers.list(net.id)) {
      if (p.host === this.deps.hostId && !s.endpoints.has(p.endpointId)) await this.peers.delete(net.id, p.endpointId);
    }
    if (endpoints.length === 0) {
      // Left over from a crash between the last endpoint's removal and the teardown.
      if (s.up) await this.teardownKernel(s);
      else {
        await this.deleteOwnLink(vxlanDeviceOf(net.id), net.id);
        await this.deleteOwnLink(overlayBridgeOf(net.id), net.id);
      }
      return;
    }
    for (const ep of endpoints) {
      const held = (await this.deps.localStore.get<Published>(portsKey(ep.id)))?.value;
      if (held) this.published.set(ep.id, held);
    }
    await this.ensureKernel(s);
    const vtep = this.vtep();
    for (const ep of endpoints) {
      const host = await this.deps.links.getLink(hostVethOf(ep.id));
      if (!host && !ep.sandbox) {
        await this.createEndpoint(net, ep);
        continue;
      }
      if (!host) this.log.warn({ endpointId: ep.id, sandbox: ep.sandbox }, 'endpoint veth is gone from a joined sandbox');
      if (ep.mac) {
        await this.peers.put(net.id, ep.id, {
          host: this.deps.hostId,
          vtep,
          mac: ep.mac,
          ...(ep.addressV4 ? { ipv4: ep.addressV4.split('/')[0]! } : {}),
          ...(ep.addressV6 ? { ipv6: ep.addressV6.split('/')[0]! } : {}),
        });
      }
    }
  }
}

function randomLocalMac(): string {
  const bytes = Array.from({ length: 5 }, () => Math.floor(Math.random() * 256));
  return ['02', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
