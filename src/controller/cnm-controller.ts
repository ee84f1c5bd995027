// The CNM lifecycle shared by both front doors. Every operation on a network runs under that
// network's lock, writes the desired state to the store first, and only then asks the driver to
// make the kernel match; a failed kernel step undoes the record so a refused request changes
// nothing. Crashes between the two are repaired by the reconciler.

import { randomBytes } from 'node:crypto';
import { inject, injectable, optional } from 'inversify';
import type { Logger } from 'pino';
import type { Caller, DriverCapabilities, EndpointInterface, JoinResult, NetworkDriver } from '../driver-api/driver.js';
import type { Ipam } from '../ipam/ipam.js';
import { IpamToken } from '../ipam/ipam.js';
import { parseIp } from '../model/address.js';
import { ErrorCodes, WeftError, isWeftError } from '../model/errors.js';
import {
  DRIVER_NAMES,
  IFNAME_OPTION_KEYS,
  isValidId,
  isValidIfName,
  isValidNetworkName,
  type DriverName,
  type EndpointRecord,
  type NetworkRecord,
  type SandboxRef,
} from '../model/network.js';
import type { Store } from '../store/store.js';
import { StoreToken } from '../store/store.js';
import { CommandRunnerToken, type CommandRunner } from '../sys/exec.js';
import { netnsPathExists, parseNetnsArg, type NetnsOps, NetnsOpsToken } from '../sys/netns.js';
import { announceIpv4, attachToSandbox, detachFromSandbox, SandboxNetlinkToken, type SandboxNetlink } from '../sys/sandbox.js';
import { LoggerToken } from '../model/tokens.js';
import { DriverRegistry, DriverRegistryToken } from './driver-registry.js';
import type { ConnectRequest, Controller, CreateEndpointRequest, CreateNetworkRequest } from './controller.js';
import { KeyedLock } from '../model/keyed-lock.js';
import { acquireNetworkPools, bindDockerPools, poolForAddress, poolIdsOf, releaseNetworkPools, validateIpamEntries } from './network-ipam.js';
import { Records } from './records.js';
import { ScopedRecords } from './scoped-records.js';
import { ClusterStoreToken } from '../cluster/tokens.js';
import { failpoint } from '../sys/failpoints.js';
import { StepClock, StepObserverToken, type StepObserver } from './step-clock.js';

/** What a driver whose networks span the cluster (overlay) offers beyond NetworkDriver. */
type PoolEntry = NetworkRecord['ipv4'][number];

/** An address a connect took, to release if the connect fails. */
interface TakenAddress {
  poolId: string;
  address: string;
  /** The endpoint record was committed with it. */
  wroteAlongside?: true;
}

interface GlobalNetworkDriver {
  /** The network's records live in the cluster store. */
  globalNetworks?: boolean;
  /** Endpoints on other hosts (a network in use elsewhere is not deleted). */
  endpointsElsewhere?(net: NetworkRecord): Promise<string[]>;
}

const newId = (): string => randomBytes(32).toString('hex');

@injectable()
export class CnmController implements Controller {
  private readonly records: Records;
  private readonly locks = new KeyedLock();
  /** "networkId sandboxPath" of weft connects between their first write and their joined record. */
  private readonly connecting = new Set<string>();
  private readonly log: Logger;

  constructor(
    @inject(StoreToken) store: Store,
    @inject(IpamToken) private readonly ipam: Ipam,
    @inject(DriverRegistryToken) private readonly drivers: DriverRegistry,
    @inject(NetnsOpsToken) private readonly netns: NetnsOps,
    @inject(LoggerToken) logger: Logger,
    @inject(CommandRunnerToken) private readonly runner: CommandRunner,
    @inject(ClusterStoreToken) @optional() clusterStore?: Store,
    /** Container-side work over netlink through the netns relay (docs/sys.md); absent: iproute2. */
    @inject(SandboxNetlinkToken) @optional() private readonly inNs?: SandboxNetlink,
    /** Time per connect step, for weftd's metrics. */
    @inject(StepObserverToken) @optional() private readonly observeStep?: StepObserver,
  ) {
    // Networks of global drivers live in the cluster store (ScopedRecords); with no separate
    // cluster store (--store local) everything stays in the embedded one.
    this.records =
      clusterStore && clusterStore !== store
        ? new ScopedRecords(store, clusterStore, (d) => isGlobalDriver(this.drivers, d))
        : new Records(store);
    this.log = logger.child({ component: 'controller' });
  }

  /** Runs fn under a network's lock, the one every CNM operation on that network takes: `weft
   *  check --repair` and the reconciler's endpoint repair use it so they never race a connect. */
  withNetworkLock<T>(networkId: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(`net:${networkId}`, fn);
  }

  capabilities(driver: DriverName): DriverCapabilities {
    return this.drivers.get(driver).capabilities();
  }

  // ---- networks -------------------------------------------------------------------------

  async createNetwork(req: CreateNetworkRequest): Promise<NetworkRecord> {
    if (!DRIVER_NAMES.includes(req.driver)) {
      throw new WeftError(ErrorCodes.DRIVER_NOT_FOUND, `unknown driver ${JSON.stringify(req.driver)}: use one of ${DRIVER_NAMES.join(', ')}`);
    }
    const driver = this.drivers.get(req.driver);
    const id = req.id ?? newId();
    if (!isValidId(id)) throw new WeftError(ErrorCodes.BAD_REQUEST, `network id ${JSON.stringify(id)} is not a hex id`);
    // Docker never sends a network's name; an overlay network bound through Docker carries its
    // cluster name (-o weft.network) and the plugin passes it on.
    const name = req.origin === 'docker' ? (req.name ?? `docker-${id.slice(0, 12)}`) : req.name;
    if (name === undefined || !isValidNetworkName(name)) {
      throw new WeftError(ErrorCodes.INVALID_NAME, `network name ${JSON.stringify(name ?? '')} is not valid: start with a letter or digit, then letters, digits, '_', '.', '-' (at most 64)`);
    }
    for (const [k, v] of Object.entries(req.options)) {
      if (typeof v !== 'string' || /[\0\n\r]/.test(k + v)) {
        throw new WeftError(ErrorCodes.INVALID_OPTION, `option ${JSON.stringify(k)} has an invalid value`);
      }
    }
    for (const k of IFNAME_OPTION_KEYS) {
      const v = req.options[k];
      if (v !== undefined && !isValidIfName(v)) {
        throw new WeftError(ErrorCodes.INVALID_NAME, `option ${k}: interface name ${JSON.stringify(v)} is not valid: 1-15 characters of letters, digits, '_', '.', '-'`);
      }
    }
    validateIpamEntries(req.ipv4, 4);
    validateIpamEntries(req.ipv6, 6);
    const caller: Caller = req.origin;
    const draft: NetworkRecord = {
      id,
      name,
      driver: req.driver,
      origin: req.origin,
      options: { ...req.options },
      internal: req.internal,
      enableIPv6: req.enableIPv6,
      ipv4: req.ipv4,
      ipv6: req.ipv6,
      createdAt: new Date().toISOString(),
    };
    // Options and caller first: a refused driver must not leave pools behind.
    driver.validateNetwork(draft, caller);

    return this.locks.run(`net:${id}`, async () => {
      const existing = await this.records.network(id);
      if (existing) {
        // Docker may repeat a CreateNetwork it rolled back; an identical one is not an error.
        if (req.origin === 'docker' && existing.driver === req.driver) return existing;
        throw new WeftError(ErrorCodes.NETWORK_EXISTS, `network id ${id} already exists`);
      }
      const byName = await this.records.networkIdByName(name);
      if (byName) throw new WeftError(ErrorCodes.NETWORK_EXISTS, `network ${JSON.stringify(name)} already exists (id ${byName.slice(0, 12)})`);
      if ((driver as { singleton?: boolean }).singleton) {
        const other = (await this.records.networks()).find((n) => n.driver === req.driver);
        if (other) throw new WeftError(ErrorCodes.NETWORK_EXISTS, `there is only one ${req.driver} network, and it exists: ${JSON.stringify(other.name)}`);
      }

      const net = { ...draft };
      const usesIpam = req.origin === 'weft' && req.driver !== 'none' && req.driver !== 'host';
      // A forgotten Docker network on these subnets goes first, or the driver's check below would
      // take it for an overlap.
      if (req.origin === 'docker') await this.dropForgottenDockerNetworks(net);
      // Against what exists (other networks, the parent link...) before any pool or record is
      // written: a refused request must not even move the store's revision.
      await driver.precheckNetwork?.(net);
      if (usesIpam) {
        const scope = isGlobalDriver(this.drivers, req.driver) ? 'global' : 'local';
        const pools = await acquireNetworkPools(this.ipam, name, req.ipv4, req.ipv6, req.enableIPv6, driver.l2Domain?.(net), scope);
        net.ipv4 = pools.ipv4;
        net.ipv6 = pools.ipv6;
      } else if (req.origin === 'docker') {
        // Docker took the pools before it named the driver: they are bound (and checked for
        // overlap) in the driver's L2 domain only now.
        const claimed = new Set((await this.records.networks()).flatMap((n) => [...poolIdsOf(n.ipv4), ...poolIdsOf(n.ipv6)]));
        if (isGlobalDriver(this.drivers, req.driver)) await this.linkGlobalDockerPools(net, claimed);
        else await bindDockerPools(this.ipam, name, [...net.ipv4, ...net.ipv6], claimed, driver.l2Domain?.(net));
      }
      try {
        // Pending until the kernel is made: a crash in between is rolled back at start (recovery.ts).
        if (!(await this.records.createNetwork({ ...net, pending: true }))) {
          throw new WeftError(ErrorCodes.NETWORK_EXISTS, `network ${JSON.stringify(name)} was created concurrently`);
        }
        failpoint('network-create.after-store');
        try {
          await driver.createNetwork(net);
          await this.records.putNetwork(net);
        } catch (e) {
          await this.records.deleteNetwork(net);
          await driver.deleteNetwork(net).catch(() => undefined);
          throw e;
        }
      } catch (e) {
        if (usesIpam) await releaseNetworkPools(this.ipam, [...poolIdsOf(net.ipv4), ...poolIdsOf(net.ipv6)]);
        throw e;
      }
      this.log.info({ networkId: id, name, driver: req.driver, origin: req.origin }, 'network created');
      return net;
    });
  }

  /**
   * Docker asks for a network on exactly the subnets of an empty Docker network of the same driver
   * that weft still has. Docker's IPAM does not hand out a subnet one of its networks holds, so
   * that older network is one Docker never got: its CreateNetwork answer was lost when weftd
   * crashed, and Docker's plugin client re-sent the call with an empty body (the first try used it
   * up), so the create failed on Docker's side. Delete it, or its subnet would stay blocked.
   * Only in the same L2 domain: two macvlan networks on different parents may share a subnet
   * (src/ipam/docker-ipam.ts), and a cluster network is never a forgotten local create.
   * (Otherwise two live Docker networks on one subnet need two IPAM drivers; weft's bridge refuses
   * that pair anyway, and only an empty one is ever dropped.)
   */
  private async dropForgottenDockerNetworks(net: NetworkRecord): Promise<void> {
    if (isGlobalDriver(this.drivers, net.driver)) return;
    const subnets = (n: NetworkRecord) => [...n.ipv4, ...n.ipv6].map((e) => e.subnet).sort().join(',');
    const mine = subnets(net);
    if (mine === '') return;
    const driver = this.drivers.get(net.driver);
    const domain = driver.l2Domain?.(net);
    for (const other of await this.records.networks()) {
      if (other.id === net.id || other.origin !== 'docker' || other.driver !== net.driver || subnets(other) !== mine) continue;
      if (driver.l2Domain?.(other) !== domain) continue;
      // Another network's lock inside this one's: no operation takes two network locks the other way round.
      await this.locks.run(`net:${other.id}`, async () => {
        if ((await this.records.endpoints(other.id)).length > 0) return;
        this.log.warn({ networkId: other.id, subnets: mine, newNetworkId: net.id }, 'Docker creates a network on the subnets of an empty Docker network it never got: deleting that one');
        await this.records.deleteNetwork(other);
        await this.drivers.get(other.driver).deleteNetwork(other);
      });
    }
  }

  /** A global network's pools through Docker are the cluster's, named after it (the IPAM's
   *  weft.network pools, src/plugin/handlers/overlay-ipam.ts): find them, unclaimed, by subnet. */
  private async linkGlobalDockerPools(net: NetworkRecord, claimed: Set<string>): Promise<void> {
    const space = this.ipam.defaultAddressSpaces().global;
    const pools = (await this.ipam.listPools()).filter((p) => !claimed.has(p.poolId) && p.addressSpace === space && p.network === net.name);
    for (const e of [...net.ipv4, ...net.ipv6]) {
      const hit = pools.find((p) => p.pool === e.subnet && (e.ipRange ? p.subPool === e.ipRange : true));
      if (hit) e.poolId = hit.poolId;
    }
  }

  async deleteNetwork(idOrName: string, caller: Caller = 'weft'): Promise<void> {
    const found = await this.getNetwork(idOrName);
    await this.locks.run(`net:${found.id}`, async () => {
      const net = await this.records.network(found.id);
      if (!net) return;
      const global = isGlobalDriver(this.drivers, net.driver);
      const all = await this.records.endpoints(net.id);
      // Docker checked its own containers before calling, so its endpoints left here are stale.
      // A global network serves both front doors on every host: only Docker's own call may pass
      // over Docker's endpoints, and weft's endpoints always hold it.
      const eps = global ? all.filter((e) => !(caller === 'docker' && e.origin === 'docker')) : net.origin === 'weft' ? all : [];
      if (eps.length > 0) {
        const names = eps.map((e) => `${e.id.slice(0, 12)}${e.sandbox ? ` (${e.sandbox.name ?? e.sandbox.path})` : ''}`);
        throw new WeftError(ErrorCodes.NETWORK_IN_USE, `network ${JSON.stringify(net.name)} has active endpoints: ${names.join(', ')}; disconnect them first`, {
          details: { endpoints: eps.map((e) => e.id) },
        });
      }
      // Docker checked for endpoints before calling; any left here are stale records of ours.
      const driver = this.drivers.get(net.driver);
      const elsewhere = (await (driver as GlobalNetworkDriver).endpointsElsewhere?.(net)) ?? [];
      if (elsewhere.length > 0) {
        throw new WeftError(ErrorCodes.NETWORK_IN_USE, `network ${JSON.stringify(net.name)} has endpoints on other hosts: ${elsewhere.join(', ')}; disconnect them there first`);
      }
      for (const ep of all) await driver.deleteEndpoint(net, ep).catch((e) => this.log.warn({ err: e, endpointId: ep.id }, 'stale endpoint clean-up failed'));
      await this.records.deleteNetwork(net);
      // From here a crash leaves marked links (swept at start) and unreferenced pools (released by recovery.ts).
      failpoint('network-delete.mid');
      await driver.deleteNetwork(net);
      // Docker releases its pools itself (ReleasePool comes before DeleteNetwork), except the
      // pools of a global network: every host's engine holds them, so the IPAM keeps them while
      // the network exists (src/plugin/handlers/overlay-ipam.ts) and they go with the network.
      if (net.origin === 'weft' || global) await releaseNetworkPools(this.ipam, [...poolIdsOf(net.ipv4), ...poolIdsOf(net.ipv6)]);
      this.log.info({ networkId: net.id, name: net.name }, 'network deleted');
    });
  }

  async getNetwork(idOrName: string): Promise<NetworkRecord> {
    if (typeof idOrName !== 'string' || idOrName.length === 0 || idOrName.includes('/')) {
      throw new WeftError(ErrorCodes.INVALID_NAME, `network ${JSON.stringify(idOrName)} is not a valid name or id`);
    }
    const exact = (await this.records.network(idOrName)) ?? (await this.byName(idOrName));
    if (exact) return exact;
    // A unique id prefix, like docker.
    if (/^[0-9a-f]{1,63}$/.test(idOrName)) {
      const hits = (await this.records.networks()).filter((n) => n.id.startsWith(idOrName));
      if (hits.length === 1) return hits[0]!;
    }
    throw new WeftError(ErrorCodes.NETWORK_NOT_FOUND, `network ${JSON.stringify(idOrName)} not found`);
  }

  private async byName(name: string): Promise<NetworkRecord | undefined> {
    const id = await this.records.networkIdByName(name);
    return id ? this.records.network(id) : undefined;
  }

  listNetworks(): Promise<NetworkRecord[]> {
    return this.records.networks();
  }

  listEndpoints(networkId?: string): Promise<EndpointRecord[]> {
    return this.records.endpoints(networkId);
  }

  // ---- endpoints (Docker's sequence: CreateEndpoint, Join, Leave, DeleteEndpoint) ----------

  private async networkById(networkId: string): Promise<NetworkRecord> {
    const net = await this.records.network(networkId);
    if (!net) throw new WeftError(ErrorCodes.NETWORK_NOT_FOUND, `no such network ${networkId}`);
    return net;
  }

  async createEndpoint(req: CreateEndpointRequest): Promise<{ record: EndpointRecord; iface: EndpointInterface }> {
    const id = req.endpointId ?? newId();
    if (!isValidId(id)) throw new WeftError(ErrorCodes.BAD_REQUEST, `endpoint id ${JSON.stringify(id)} is not a hex id`);
    return this.locks.run(`net:${req.networkId}`, async () => {
      const net = await this.networkById(req.networkId);
      let record: EndpointRecord = {
        id,
        networkId: net.id,
        origin: req.origin,
        ...(req.addressV4 ? { addressV4: req.addressV4 } : {}),
        ...(req.addressV6 ? { addressV6: req.addressV6 } : {}),
        ...(req.mac ? { mac: req.mac } : {}),
        ...(req.portMappings?.length ? { portMappings: req.portMappings } : {}),
        createdAt: new Date().toISOString(),
      };
      await this.dropStaleDockerHolders(net, record);
      if (!(await this.records.createEndpoint(record))) {
        // Docker's plugin client re-sends a call whose answer a crash of weftd swallowed: the same
        // endpoint with the same addresses is that retry, and gets the same answer.
        const existing = await this.records.endpoint(net.id, id);
        const retry = existing && req.origin === 'docker' && existing.origin === 'docker' && !existing.deleting && existing.addressV4 === record.addressV4 && existing.addressV6 === record.addressV6;
        if (!retry) throw new WeftError(ErrorCodes.ENDPOINT_EXISTS, `endpoint ${id} already exists on network ${net.name}`);
        record = existing;
      }
      const driver = this.drivers.get(net.driver);
      try {
        const iface = await driver.createEndpoint(net, record, req.origin);
        if (!iface.macAddress || record.mac) return { record, iface };
        const updated: EndpointRecord = { ...record, mac: iface.macAddress };
        await this.records.putEndpoint(updated);
        return { record: updated, iface };
      } catch (e) {
        await this.records.deleteEndpoint(net.id, id);
        throw e;
      }
    });
  }

  async deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    await this.locks.run(`net:${networkId}`, async () => {
      const net = await this.records.network(networkId);
      const ep = net ? await this.records.endpoint(networkId, endpointId) : undefined;
      if (!net || !ep) {
        this.log.debug({ networkId, endpointId }, 'delete of unknown endpoint: nothing to do');
        return;
      }
      // Marked first: a crash midway is finished at start (recovery.ts), not left half-done.
      if (!ep.deleting) await this.records.putEndpoint({ ...ep, deleting: true });
      await this.drivers.get(net.driver).deleteEndpoint(net, ep);
      failpoint('docker-delete-endpoint.mid');
      await this.records.deleteEndpoint(networkId, endpointId);
    });
  }

  async join(networkId: string, endpointId: string, sandbox: SandboxRef): Promise<JoinResult> {
    return this.locks.run(`net:${networkId}`, async () => {
      const net = await this.networkById(networkId);
      const ep = await this.records.endpoint(networkId, endpointId);
      if (!ep) throw new WeftError(ErrorCodes.ENDPOINT_NOT_FOUND, `no such endpoint ${endpointId} on network ${net.name}`);
      const result = await this.drivers.get(net.driver).join(net, ep, sandbox, ep.origin);
      await this.records.putEndpoint({ ...ep, sandbox, joinedAt: new Date().toISOString() });
      return result;
    });
  }

  async leave(networkId: string, endpointId: string): Promise<void> {
    await this.locks.run(`net:${networkId}`, async () => {
      const net = await this.records.network(networkId);
      const ep = net ? await this.records.endpoint(networkId, endpointId) : undefined;
      if (!net || !ep) return;
      await this.drivers.get(net.driver).leave(net, ep);
      const { sandbox: _gone, joinedAt: _at, ...rest } = ep;
      await this.records.putEndpoint(rest);
    });
  }

  async endpointInfo(networkId: string, endpointId: string): Promise<Record<string, unknown>> {
    const ep = await this.records.endpoint(networkId, endpointId);
    if (!ep) return {};
    return {
      id: ep.id,
      ...(ep.addressV4 ? { addressV4: ep.addressV4 } : {}),
      ...(ep.addressV6 ? { addressV6: ep.addressV6 } : {}),
      ...(ep.mac ? { mac: ep.mac } : {}),
    };
  }

  async programExternalConnectivity(networkId: string, endpointId: string): Promise<void> {
    await this.locks.run(`net:${networkId}`, async () => {
      const net = await this.networkById(networkId);
      const ep = await this.records.endpoint(networkId, endpointId);
      if (!ep) throw new WeftError(ErrorCodes.ENDPOINT_NOT_FOUND, `no such endpoint ${endpointId} on network ${net.name}`);
      const published = await this.drivers.get(net.driver).programExternalConnectivity(net, ep);
      if (published?.length) await this.records.putEndpoint({ ...ep, published });
    });
  }

  async revokeExternalConnectivity(networkId: string, endpointId: string): Promise<void> {
    await this.locks.run(`net:${networkId}`, async () => {
      const net = await this.records.network(networkId);
      const ep = net ? await this.records.endpoint(networkId, endpointId) : undefined;
      if (!net || !ep) return;
      await this.drivers.get(net.driver).revokeExternalConnectivity(net, ep);
      if (ep.published) {
        const { published: _gone, ...rest } = ep;
        await this.records.putEndpoint(rest);
      }
    });
  }

  // ---- weft's own front door ------------------------------------------------------------

  async connect(idOrName: string, req: ConnectRequest): Promise<EndpointRecord> {
    const clock = new StepClock(this.observeStep);
    const sandbox = parseNetnsArg(req.netns);
    if (req.ip !== undefined && parseIp(req.ip, 'ip').family !== 4) throw new WeftError(ErrorCodes.INVALID_ADDRESS, `--ip ${req.ip} is not an IPv4 address`);
    if (req.ip6 !== undefined && parseIp(req.ip6, 'ip6').family !== 6) throw new WeftError(ErrorCodes.INVALID_ADDRESS, `--ip6 ${req.ip6} is not an IPv6 address`);
    const found = await this.getNetwork(idOrName);
    await this.netns.verify(sandbox);
    const pinned = {
      v4: req.ip !== undefined ? poolForAddress(found.ipv4, req.ip, found.name) : undefined,
      v6: req.ip6 !== undefined ? poolForAddress(found.ipv6, req.ip6, found.name) : undefined,
    };

    // Shared, where the driver allows it: connects to one network overlap in their kernel work
    // (issue 8, 8 clients); the check-then-take below is the only part that runs one at a time.
    // Anything that reasons about the whole network (delete, Docker's calls, repairs) holds it
    // exclusively and sees no connect half-done.
    return this.endpointLock(found, async () => {
      clock.lap('lookup and lock');
      const net = await this.networkById(found.id);
      const driver = this.drivers.get(net.driver);
      if (req.portMappings?.length && (net.driver === 'none' || net.driver === 'host')) {
        throw new WeftError(ErrorCodes.INVALID_OPTION, `--publish does not apply to ${net.driver} networks: their endpoints have no interface of their own`);
      }
      const id = newId();
      const mark = `${net.id} ${sandbox.path}`;
      const taken: TakenAddress[] = [];
      const undo: (() => Promise<unknown>)[] = [];
      let record: EndpointRecord | undefined;
      let marked = false;
      try {
        record = await this.locks.run(`connect:${net.id}`, async () => {
          if (this.connecting.has(mark)) throw new WeftError(ErrorCodes.ENDPOINT_EXISTS, `${req.netns} is already connected to network ${net.name} (a connect of it is in progress)`);
          const already = await this.findBySandbox(net.id, sandbox);
          if (already) throw new WeftError(ErrorCodes.ENDPOINT_EXISTS, `${req.netns} is already connected to network ${net.name} (endpoint ${already.id.slice(0, 12)})`);
          // Until the joined record is written, the sandbox index does not name this sandbox:
          // this mark keeps a second connect of the same namespace out meanwhile. It lives in
          // memory only: after a crash the unjoined record is an interrupted connect (recovery.ts).
          this.connecting.add(mark);
          marked = true;
          return this.createConnectRecord(net, id, req, pinned, taken);
        });
        clock.lap('address and record');
        undo.push(() => this.records.deleteEndpoint(net.id, id));
        failpoint('connect.after-store');
        const iface = await driver.createEndpoint(net, record, 'weft');
        undo.push(() => driver.deleteEndpoint(net, record!));
        const join = await driver.join(net, record, sandbox, 'weft');
        clock.lap('driver (veth)');
        failpoint('connect.veth-created');
        const { addressV4: v4, addressV6: v6 } = record;
        const mac = record.mac ?? iface.macAddress;
        let ifName: string | undefined;
        if (join.interface) {
          // Do in the namespace what Docker does with a Join answer (protocol §2.9).
          const attached = await attachToSandbox(
            this.runner,
            {
              srcName: join.interface.srcName,
              sandbox,
              dstPrefix: join.interface.dstPrefix,
              ...(mac ? { mac } : {}),
              ...(v4 ? { addressV4: v4 } : {}),
              ...(v6 ? { addressV6: v6 } : {}),
              ...(join.gatewayV4 ? { gatewayV4: join.gatewayV4 } : {}),
              ...(join.gatewayV6 ? { gatewayV6: join.gatewayV6 } : {}),
              staticRoutes: join.staticRoutes,
              internal: net.internal,
              ...(join.interface.inSandbox ? { linkInSandbox: true } : {}),
              // Announced below, off the request's path: neighbours only need it soon, not now.
              announce: false,
            },
            undefined,
            this.inNs,
          );
          ifName = attached.ifName;
          if (v4) {
            const [ip, name] = [v4.split('/')[0]!, attached.ifName];
            const announced = this.inNs ? this.inNs.announce(sandbox, name) : announceIpv4(this.runner, sandbox, name, ip);
            void announced.catch((err) => this.log.debug({ err }, 'unsolicited ARP failed'));
          }
          undo.push(() => detachFromSandbox(this.runner, sandbox, attached.ifName, this.inNs));
          clock.lap('container side');
        }
        let joined: EndpointRecord = { ...record, sandbox, ...(mac ? { mac } : {}), ...(ifName ? { ifName } : {}) };
        await this.records.putEndpoint(joined);
        clock.lap('joined record');
        if (joined.portMappings?.length && !net.internal) {
          const published = await driver.programExternalConnectivity(net, joined);
          const programmed = joined;
          undo.push(() => driver.revokeExternalConnectivity(net, programmed));
          if (published?.length) {
            joined = { ...joined, published };
            await this.records.putEndpoint(joined);
          }
          clock.lap('published ports');
        }
        this.log.info({ networkId: net.id, endpointId: id, netns: req.netns }, 'connected');
        return joined;
      } catch (e) {
        for (const step of undo.reverse()) await step().catch((err) => this.log.warn({ err }, 'undo step failed'));
        for (const t of taken) await this.ipam.releaseAddress(t.poolId, t.address).catch(() => undefined);
        throw e;
      } finally {
        if (marked) this.connecting.delete(mark);
      }
    });
  }

  /**
   * The connect's addresses and its (not yet joined) endpoint record. The record rides in the
   * transaction of the last address taken (Records.endpointAlongside): one durable commit, not
   * two. It cannot when the pool lives in the other store (an overlay's pool is in the cluster
   * store, endpoints in the host's) or when there is no weft pool: then it is written after.
   */
  private async createConnectRecord(net: NetworkRecord, id: string, req: ConnectRequest, pinned: { v4?: PoolEntry; v6?: PoolEntry }, taken: TakenAddress[]): Promise<EndpointRecord> {
    const createdAt = new Date().toISOString();
    const build = (v4?: string, v6?: string): EndpointRecord => ({
      id,
      networkId: net.id,
      origin: 'weft',
      ...(v4 ? { addressV4: v4 } : {}),
      ...(v6 ? { addressV6: v6 } : {}),
      ...(req.portMappings?.length ? { portMappings: req.portMappings } : {}),
      createdAt,
    });
    const v6Wanted = !!(pinned.v6 ?? net.ipv6[0])?.poolId;
    const v4 = await this.takeAddress(net.ipv4[0], pinned.v4, req.ip, id, taken, v6Wanted ? undefined : (cidr) => build(cidr));
    const v6 = await this.takeAddress(net.ipv6[0], pinned.v6, req.ip6, id, taken, v6Wanted ? (cidr) => build(v4, cidr) : undefined);
    const record = build(v4, v6);
    if (taken.some((t) => t.wroteAlongside)) this.records.createdAlongside(record);
    else await this.records.createEndpoint(record);
    return record;
  }

  private async takeAddress(
    first: PoolEntry | undefined,
    pinned: PoolEntry | undefined,
    address: string | undefined,
    owner: string,
    taken: TakenAddress[],
    recordFor?: (address: string) => EndpointRecord,
  ): Promise<string | undefined> {
    const entry = pinned ?? first;
    if (!entry?.poolId) {
      if (address !== undefined) throw new WeftError(ErrorCodes.ADDRESS_OUT_OF_POOL, `this network has no weft-managed subnet for ${address}`);
      return undefined;
    }
    const alongside = recordFor ? { alongside: this.records.endpointAlongside(recordFor) } : {};
    const got = await this.ipam.requestAddress({ poolId: entry.poolId, kind: 'endpoint', owner, ...(address ? { address } : {}), ...alongside });
    taken.push({ poolId: entry.poolId, address: got.address, ...(got.wroteAlongside ? { wroteAlongside: true } : {}) });
    return got.address;
  }

  /** From the in-memory sandbox index Records keeps (no list of every endpoint per connect). */
  private findBySandbox(networkId: string, sandbox: SandboxRef): Promise<EndpointRecord | undefined> {
    return this.records.endpointBySandbox(networkId, sandbox.path);
  }

  async disconnect(idOrName: string, netnsArg: string): Promise<void> {
    const sandbox = parseNetnsArg(netnsArg);
    const found = await this.getNetwork(idOrName);
    await this.endpointLock(found, async () => {
      const net = await this.networkById(found.id);
      const seen = await this.findBySandbox(net.id, sandbox);
      if (!seen) throw new WeftError(ErrorCodes.ENDPOINT_NOT_FOUND, `${netnsArg} is not connected to network ${net.name}`);
      // Two disconnects of one namespace may both get here when the network is held shared: one
      // at a time per endpoint, and the second finds it gone.
      await this.locks.run(`endpoint:${seen.id}`, async () => {
        const ep = await this.records.endpoint(net.id, seen.id);
        if (ep?.sandbox?.path !== sandbox.path) throw new WeftError(ErrorCodes.ENDPOINT_NOT_FOUND, `${netnsArg} is not connected to network ${net.name}`);
        const driver = this.drivers.get(net.driver);
        // Marked first: a crash midway is finished at start (recovery.ts), not left half-done.
        if (!ep.deleting) await this.records.putEndpoint({ ...ep, deleting: true });
        await driver.revokeExternalConnectivity(net, ep);
        await driver.leave(net, ep);
        if (ep.ifName && ep.sandbox) await detachFromSandbox(this.runner, ep.sandbox, ep.ifName, this.inNs);
        failpoint('disconnect.mid');
        await driver.deleteEndpoint(net, ep);
        await this.records.deleteEndpoint(net.id, ep.id);
        await this.releaseEndpointAddresses(net, ep);
        this.log.info({ networkId: net.id, endpointId: ep.id, netns: netnsArg }, 'disconnected');
      });
    });
  }

  /** The network's lock for weft's connect and disconnect: shared when the driver takes parallel
   *  endpoint operations (NetworkDriver.parallelEndpoints), exclusive otherwise. */
  private endpointLock<T>(net: NetworkRecord, fn: () => Promise<T>): Promise<T> {
    let parallel = false;
    try {
      parallel = this.drivers.get(net.driver).parallelEndpoints === true;
    } catch {
      /* an unknown driver: the call inside says so, under the exclusive lock */
    }
    return parallel ? this.locks.runShared(`net:${net.id}`, fn) : this.locks.run(`net:${net.id}`, fn);
  }

  /**
   * Docker gave `record` an address that another Docker endpoint of this network still holds in
   * weft's records. Docker's IPAM hands out only free addresses, so that other endpoint is one
   * Docker has already forgotten (its CreateEndpoint failed unanswered when weftd crashed, or its
   * DeleteEndpoint never reached weft): delete it, or the address would be held twice.
   */
  private async dropStaleDockerHolders(net: NetworkRecord, record: EndpointRecord): Promise<void> {
    if (record.origin !== 'docker' || (!record.addressV4 && !record.addressV6)) return;
    const mine = new Set([record.addressV4, record.addressV6].filter((a): a is string => !!a).map((a) => a.split('/')[0]!));
    const holders: EndpointRecord[] = [];
    for (const other of await this.records.endpoints(net.id)) {
      if (other.origin !== 'docker' || other.id === record.id) continue;
      const held = [other.addressV4, other.addressV6].filter((a): a is string => !!a).map((a) => a.split('/')[0]!);
      if (!held.some((a) => mine.has(a))) continue;
      // A holder still joined to a live namespace is a container that runs: never stale. The
      // request is refused before anything is deleted.
      if (other.sandbox && (await netnsPathExists(other.sandbox.path))) {
        throw new WeftError(ErrorCodes.ADDRESS_IN_USE, `address ${held.find((a) => mine.has(a))} is held by endpoint ${other.id.slice(0, 12)} of network ${net.name}, joined to the live sandbox ${other.sandbox.path}`);
      }
      holders.push(other);
    }
    for (const other of holders) {
      const held = [other.addressV4, other.addressV6].filter((a): a is string => !!a);
      this.log.warn({ networkId: net.id, stale: other.id, endpointId: record.id, addresses: held }, 'Docker reuses the address of an endpoint it no longer has: deleting the stale one');
      await this.drivers.get(net.driver).deleteEndpoint(net, other);
      await this.records.deleteEndpoint(net.id, other.id);
    }
  }

  private async releaseEndpointAddresses(net: NetworkRecord, ep: EndpointRecord): Promise<void> {
    const release = async (entries: NetworkRecord['ipv4'], cidr: string | undefined) => {
      if (!cidr) return;
      const ip = cidr.split('/')[0]!;
      const entry = poolForAddressSafe(entries, ip);
      if (entry?.poolId) await this.ipam.releaseAddress(entry.poolId, ip);
    };
    await release(net.ipv4, ep.addressV4);
    await release(net.ipv6, ep.addressV6);
  }
}

function isGlobalDriver(drivers: DriverRegistry, name: DriverName): boolean {
  try {
    return (drivers.get(name) as GlobalNetworkDriver).globalNetworks === true;
  } catch {
    return false;
  }
}

function poolForAddressSafe(entries: NetworkRecord['ipv4'], ip: string): NetworkRecord['ipv4'][number] | undefined {
  try {
    return poolForAddress(entries, ip, '');
  } catch (e) {
    if (isWeftError(e)) return undefined;
    throw e;
  }
}
