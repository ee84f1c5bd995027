// LinkOps over rtnetlink with the `netlink` package: no process per call, which is what the
// attach-latency target needs (issue 8: one `ip` spawn costs about 2.5 ms here, a netlink round
// trip a few microseconds).
//
// It acts on the namespace its socket lives in, which is the namespace weftd runs in. It cannot be
// pointed at another namespace: a netlink socket belongs to the namespace of the thread that
// created it, the package cannot adopt a socket made elsewhere, and the daemon never calls setns
// (Node has no safe per-thread setns: libuv's threads and the JS thread would disagree about
// where they are). Tests therefore run it in a child process started inside a throw-away
// namespace (test/integration/link-ops.test.ts); Iproute2LinkOps serves the `netns` option.
//
// The package is loaded lazily with require: it ships a native binary, and a machine where that
// does not load falls back to iproute2 (choose-link-ops.ts) instead of failing to start.

import { open, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type * as Netlink from 'netlink';
import { ErrorCodes, WeftError } from '../../model/errors.js';
import type { SandboxRef } from '../../model/network.js';
import {
  checkAlias,
  checkBridgeArgs,
  checkIfName,
  checkInterfaceCidr,
  checkMacvlanArgs,
  checkMtu,
  checkNetnsRef,
  checkVethArgs,
  checkVlanArgs,
  normalizeMac,
  type AddressOptions,
  type BridgeOptions,
  type LinkEvent,
  type LinkInfo,
  type LinkOps,
  type MacvlanOptions,
  type StackedLinkOps,
  type VethOptions,
} from '../link-ops.js';
import {
  AF_INET,
  AF_INET6,
  bufferToMac,
  hairpinLinkinfo,
  ipToBuffer,
  kindLinkinfo,
  kindOf,
  macToBuffer,
  macvlanLinkinfo,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  nlU32,
  parseLinkEvent,
  RT_TABLE_MAIN,
  stackedInfoOf,
  vethLinkinfo,
  vlanLinkinfo,
} from './attrs.js';

type NetlinkModule = typeof Netlink;
type RtSocket = Netlink.RtNetlinkSocket;
type LinkMessage = Netlink.rt.LinkMessage;

const require = createRequire(import.meta.url);

/** Loads the `netlink` package (and its native binary); throws when it cannot. */
export function loadNetlink(): NetlinkModule {
  return require('netlink') as NetlinkModule;
}

// include/uapi/linux/netlink.h and rtnetlink.h
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTNLGRP_LINK = 1;
// include/uapi/linux/rtnetlink.h: what `ip route replace DST dev DEV [src SRC]` sends.
const RTPROT_BOOT = 3;
const RT_SCOPE_LINK = 253;
const RTN_UNICAST = 1;
const IFF_UP = { up: true } as const;
/** ifi_change of the RTM_NEWLINK the kernel sends for a newly registered device. */
const CHANGE_NEW_DEVICE = 0xffffffff;
const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'];
const REQUEST_TIMEOUT_MS = 5_000;

/** EOPNOTSUPP, which the package may name ENOTSUP (the same number on Linux): the kernel knows
 *  no such link kind. */
const isNotSupported = (errno: string | undefined): boolean => errno === 'EOPNOTSUPP' || errno === 'ENOTSUP';

/** errno name of a rejected netlink request ("Request rejected: EEXIST" -> EEXIST). */
export function errnoOf(e: unknown): string | undefined {
  const m = e instanceof Error ? /Request rejected: (\w+)/.exec(e.message) : null;
  return m?.[1] ?? (e as { code?: string } | undefined)?.code;
}

function netlinkError(operation: string, e: unknown): WeftError {
  if (e instanceof WeftError) return e;
  const errno = errnoOf(e) ?? (e instanceof Error ? e.message : String(e));
  return new WeftError(ErrorCodes.COMMAND_FAILED, `netlink ${operation} failed: ${errno}`, { cause: e, details: { operation, errno } });
}

/**
 * Opens a namespace file for IFLA_NET_NS_FD: the request names the descriptor, which the kernel
 * resolves in this process's fd table. Nothing here enters the namespace.
 */
async function openNetns(ref: SandboxRef): Promise<FileHandle> {
  try {
    return await open(ref.path, 'r');
  } catch (e) {
    throw new WeftError(ErrorCodes.NETNS_NOT_FOUND, `network namespace ${ref.path} does not exist`, { cause: e });
  }
}

/**
 * An rtnetlink socket for requests, with an 'error' listener and a large receive buffer. With
 * thousands of requests outstanding (the 10x concurrency soak) the kernel's replies overflowed the
 * default buffer (ENOBUFS); the package reports that as an 'error' event from inside its native
 * callback, and an 'error' event nobody listens to ended weftd ("terminate called after throwing
 * an instance of 'Napi::Error'"). The requests whose replies were lost fail by their own timeout,
 * with a clear error; the socket stays usable. Every request socket weftd makes in its own
 * namespace comes from here.
 */
export function createRequestSocket(nl: NetlinkModule): RtSocket {
  const sock = nl.createRtNetlink();
  // RtNetlinkSocket's typed events leave 'error' out, but the NetlinkSocket under it re-emits it.
  (sock as unknown as NodeJS.EventEmitter).on('error', () => undefined);
  try {
    sock.socket.setRecvBufferSize(4 * 1024 * 1024);
  } catch {
    /* a smaller buffer still works, with the same failure mode under huge bursts */
  }
  return sock;
}

export class NetlinkLinkOps implements LinkOps, StackedLinkOps {
  private sock: RtSocket | undefined;

  constructor(private readonly nl: NetlinkModule = loadNetlink()) {}

  /** One socket for all requests (they are matched to replies by sequence number). It is not
   *  referenced while idle, so it never keeps a process alive on its own. */
  private get socket(): RtSocket {
    this.sock ??= this.openSocket();
    return this.sock;
  }

  private openSocket(): RtSocket {
    return createRequestSocket(this.nl);
  }

  close(): void {
    this.sock?.socket.close();
    this.sock = undefined;
  }

  private async call<T>(operation: string, fn: (s: RtSocket) => Promise<T>): Promise<T> {
    try {
      return await fn(this.socket);
    } catch (e) {
      throw netlinkError(operation, e);
    }
  }

  /** The link message of `name`, or undefined when there is no such link. */
  private async raw(name: string): Promise<LinkMessage | undefined> {
    try {
      return (await this.socket.getLink({}, { ifname: name }, { timeout: REQUEST_TIMEOUT_MS }))[0];
    } catch (e) {
      if (errnoOf(e) === 'ENODEV') return undefined;
      throw netlinkError(`RTM_GETLINK ${name}`, e);
    }
  }

  private async nameOfIndex(index: number): Promise<string | undefined> {
    try {
      return (await this.socket.getLink({ index }, {}, { timeout: REQUEST_TIMEOUT_MS }))[0]?.attrs.ifname;
    } catch (e) {
      if (errnoOf(e) === 'ENODEV') return undefined;
      throw netlinkError(`RTM_GETLINK index ${index}`, e);
    }
  }

  /** LinkInfo of a message; `nameOf` resolves the master's and peer's indexes. */
  private async toInfo(m: LinkMessage, nameOf: (index: number) => Promise<string | undefined> | string | undefined): Promise<LinkInfo> {
    const a = m.attrs;
    const kind = kindOf(a.linkinfo);
    const master = a.master ? await nameOf(a.master) : undefined;
    // IFLA_LINK is the peer's index in the peer's namespace; IFLA_LINK_NETNSID says that namespace is another one.
    const peerIndex = kind === 'veth' && a.link && a.linkNetnsid === undefined ? a.link.readUInt32LE(0) : undefined;
    const peer = peerIndex ? await nameOf(peerIndex) : undefined;
    // Stacked links (macvlan, vlan): IFLA_LINK is the lower device, named when it is here.
    const parentIndex = kind !== undefined && kind !== 'veth' && a.link && a.linkNetnsid === undefined ? a.link.readUInt32LE(0) : undefined;
    const parent = parentIndex ? await nameOf(parentIndex) : undefined;
    return {
      name: a.ifname ?? '',
      index: m.data.index ?? 0,
      mtu: a.mtu ?? 0,
      ...(a.address && a.address.length === 6 ? { mac: bufferToMac(a.address) } : {}),
      ...(a.ifalias ? { alias: a.ifalias } : {}),
      ...(kind ? { kind } : {}),
      ...(master ? { master } : {}),
      operstate: OPERSTATES[a.operstate ?? 0] ?? 'UNKNOWN',
      up: m.data.flags?.up === true,
      ...(peer ? { peer } : {}),
      ...(parent ? { parent } : {}),
      ...stackedInfoOf(a.linkinfo),
    };
  }

  private async requireIndex(name: string, what: string): Promise<number> {
    const m = await this.raw(name);
    if (!m?.data.index) throw new WeftError(ErrorCodes.COMMAND_FAILED, `${what} ${name} does not exist`);
    return m.data.index;
  }

  async ensureBridge(name: string, opts: BridgeOptions): Promise<void> {
    checkBridgeArgs(name, opts);
    let cur = await this.raw(name);
    let created = false;
    if (!cur) {
      try {
        await this.socket.newLink(
          {},
          { ifname: name, linkinfo: kindLinkinfo('bridge'), ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}), ...(opts.mac ? { address: macToBuffer(opts.mac) } : {}) },
          { flags: NLM_F_CREATE | NLM_F_EXCL, timeout: REQUEST_TIMEOUT_MS },
        );
        created = true;
      } catch (e) {
        if (errnoOf(e) !== 'EEXIST') throw netlinkError(`RTM_NEWLINK (create bridge ${name})`, e);
      }
      cur = await this.raw(name);
      if (!cur) throw new WeftError(ErrorCodes.COMMAND_FAILED, `bridge ${name} vanished right after it was created`);
    }
    const kind = kindOf(cur.attrs.linkinfo);
    if (kind !== 'bridge') {
      throw new WeftError(ErrorCodes.INVALID_OPTION, `${name} exists and is ${kind ? `a ${kind} link` : 'a device'}, not a bridge: choose another bridge name`);
    }
    const a = cur.attrs;
    const change = {
      ...(opts.mtu !== undefined && opts.mtu !== a.mtu ? { mtu: opts.mtu } : {}),
      ...(opts.mac !== undefined && (!a.address || normalizeMac(opts.mac) !== bufferToMac(a.address)) ? { address: macToBuffer(opts.mac) } : {}),
      // The kernel ignores IFLA_IFALIAS at creation: the mark always takes this second step.
      ...(opts.alias !== undefined && opts.alias !== a.ifalias ? { ifalias: opts.alias } : {}),
    };
    if (Object.keys(change).length === 0 && cur.data.flags?.up) return;
    try {
      await this.socket.setLink({ index: cur.data.index, flags: IFF_UP, change: IFF_UP }, change, { timeout: REQUEST_TIMEOUT_MS });
    } catch (e) {
      if (created) await this.deleteLink(name).catch(() => undefined);
      throw netlinkError(`RTM_SETLINK (bridge ${name})`, e);
    }
  }

  async ensureVeth(hostName: string, peerName: string, opts: VethOptions): Promise<void> {
    checkVethArgs(hostName, peerName, opts);
    const master = opts.master !== undefined ? await this.requireIndex(opts.master, 'bridge') : undefined;
    const ns = opts.peerNetns ? await openNetns(opts.peerNetns) : undefined;
    try {
      await this.socket.newLink(
        {},
        {
          ifname: hostName,
          ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}),
          ...(master !== undefined ? { master } : {}),
          linkinfo: vethLinkinfo({
            name: peerName,
            ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}),
            ...(opts.peerMac ? { mac: opts.peerMac } : {}),
            ...(ns ? { netnsFd: ns.fd } : {}),
          }),
        },
        { flags: NLM_F_CREATE | NLM_F_EXCL, timeout: REQUEST_TIMEOUT_MS },
      );
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw netlinkError(`RTM_NEWLINK (create veth ${hostName}/${peerName})`, e);
      return await this.updateVeth(hostName, peerName, opts, master);
    } finally {
      await ns?.close();
    }
    try {
      await this.configureHostEnd(hostName, opts, {});
    } catch (e) {
      await this.deleteLink(hostName).catch(() => undefined);
      throw e;
    }
  }

  /** Alias, up and hairpin in one RTM_NEWLINK on the existing device (RTM_SETLINK would drop the
   *  bridge-port part), plus whatever else `extra` carries (mtu, master). */
  private async configureHostEnd(hostName: string, opts: VethOptions, extra: { mtu?: number; master?: number }): Promise<void> {
    await this.call(`RTM_NEWLINK (configure ${hostName})`, (s) =>
      s.newLink(
        { flags: IFF_UP, change: IFF_UP },
        {
          ifname: hostName,
          ...extra,
          ...(opts.alias !== undefined ? { ifalias: opts.alias } : {}),
          ...(opts.hairpin !== undefined ? { linkinfo: hairpinLinkinfo(opts.hairpin) } : {}),
        },
        { timeout: REQUEST_TIMEOUT_MS },
      ),
    );
  }

  private async updateVeth(hostName: string, peerName: string, opts: VethOptions, master: number | undefined): Promise<void> {
    const host = await this.raw(hostName);
    if (!host) throw new WeftError(ErrorCodes.COMMAND_FAILED, `cannot create veth ${hostName}/${peerName}: a link named ${peerName} already exists; remove it`);
    const info = await this.toInfo(host, (i) => this.nameOfIndex(i));
    if (info.kind !== 'veth') {
      throw new WeftError(ErrorCodes.COMMAND_FAILED, `cannot create veth ${hostName}/${peerName}: ${hostName} exists and is ${info.kind ? `a ${info.kind} link` : 'a device'}`);
    }
    if (info.peer !== undefined && info.peer !== peerName) throw new WeftError(ErrorCodes.COMMAND_FAILED, `veth ${hostName} exists with the peer ${info.peer}, not ${peerName}`);
    await this.configureHostEnd(hostName, opts, {
      ...(opts.mtu !== undefined && opts.mtu !== info.mtu ? { mtu: opts.mtu } : {}),
      ...(master !== undefined && host.attrs.master !== master ? { master } : {}),
    });
    if (info.peer === undefined) return; // moved into a sandbox: not ours to change any more
    const peer = await this.raw(peerName);
    if (!peer) return;
    const change = {
      ...(opts.mtu !== undefined && opts.mtu !== peer.attrs.mtu ? { mtu: opts.mtu } : {}),
      ...(opts.peerMac !== undefined && (!peer.attrs.address || normalizeMac(opts.peerMac) !== bufferToMac(peer.attrs.address)) ? { address: macToBuffer(opts.peerMac) } : {}),
    };
    if (Object.keys(change).length === 0) return;
    await this.call(`RTM_SETLINK (peer ${peerName})`, (s) => s.setLink({ index: peer.data.index }, change, { timeout: REQUEST_TIMEOUT_MS }));
  }

  async deleteLink(name: string): Promise<void> {
    checkIfName(name);
    try {
      await this.socket.delLink({}, { ifname: name }, { timeout: REQUEST_TIMEOUT_MS });
    } catch (e) {
      if (errnoOf(e) !== 'ENODEV') throw netlinkError(`RTM_DELLINK ${name}`, e);
    }
  }

  async getLink(name: string): Promise<LinkInfo | undefined> {
    checkIfName(name);
    const m = await this.raw(name);
    return m ? this.toInfo(m, (i) => this.nameOfIndex(i)) : undefined;
  }

  async listLinks(): Promise<LinkInfo[]> {
    // A dump gets a socket of its own. The netlink package assembles one multipart reply per
    // socket at a time: a reply to another request (a connect's veth, beside the reconciler's
    // dump) arriving mid-dump cut it, and the dump failed with "Multipart message not terminated
    // properly" (seen under load in bridge-cli).
    const sock = this.openSocket();
    let all: LinkMessage[];
    try {
      all = await sock.getLinks(undefined, undefined, { timeout: REQUEST_TIMEOUT_MS });
    } catch (e) {
      throw netlinkError('RTM_GETLINK dump', e);
    } finally {
      sock.socket.close();
    }
    const names = new Map(all.map((m) => [m.data.index ?? 0, m.attrs.ifname]));
    return Promise.all(all.map((m) => this.toInfo(m, (i) => names.get(i))));
  }

  private async addressRequest(link: string, cidr: string, noDad: boolean): Promise<[Netlink.rt.Address, Netlink.rt.AddressAttrs] | undefined> {
    const p = checkInterfaceCidr(cidr);
    const m = await this.raw(link);
    if (!m?.data.index) return undefined;
    const ip = ipToBuffer(p.ip);
    const flags = noDad && p.family === 6 ? { nodad: true as const } : {};
    return [
      { family: p.family === 4 ? AF_INET : AF_INET6, prefixlen: p.prefix, index: m.data.index, flags },
      { local: ip, address: ip, ...(noDad && p.family === 6 ? { flags } : {}) },
    ];
  }

  async ensureAddress(link: string, cidr: string, opts: AddressOptions = {}): Promise<void> {
    checkIfName(link);
    checkInterfaceCidr(cidr);
    const req = await this.addressRequest(link, cidr, opts.noDad === true);
    if (!req) throw new WeftError(ErrorCodes.COMMAND_FAILED, `cannot add ${cidr}: link ${link} does not exist`);
    // REPLACE makes a repeat a no-op instead of EEXIST.
    await this.call(`RTM_NEWADDR ${cidr} dev ${link}`, (s) => s.newAddress(req[0], req[1], { flags: NLM_F_CREATE | NLM_F_REPLACE, timeout: REQUEST_TIMEOUT_MS }));
  }

  async deleteAddress(link: string, cidr: string): Promise<void> {
    checkIfName(link);
    checkInterfaceCidr(cidr);
    const req = await this.addressRequest(link, cidr, false);
    if (!req) return; // the link is gone, and its addresses with it
    try {
      await this.socket.delAddress(req[0], req[1], { timeout: REQUEST_TIMEOUT_MS });
    } catch (e) {
      if (errnoOf(e) !== 'EADDRNOTAVAIL' && errnoOf(e) !== 'ENODEV') throw netlinkError(`RTM_DELADDR ${cidr} dev ${link}`, e);
    }
  }

  async setMtu(link: string, mtu: number): Promise<void> {
    checkIfName(link);
    checkMtu(mtu);
    await this.call(`RTM_SETLINK ${link} mtu ${mtu}`, (s) => s.setLink({}, { ifname: link, mtu }, { timeout: REQUEST_TIMEOUT_MS }));
  }

  /** Moves a link into another namespace with IFLA_NET_NS_FD (see openNetns). */
  async moveToNetns(name: string, target: SandboxRef): Promise<void> {
    checkIfName(name);
    checkNetnsRef(target);
    const ns = await openNetns(target);
    try {
      await this.call(`RTM_SETLINK ${name} netns ${target.path}`, (s) => s.setLink({}, { ifname: name, netNsFd: ns.fd }, { timeout: REQUEST_TIMEOUT_MS }));
    } finally {
      await ns.close();
    }
  }

  // ---- stacked links (macvlan driver) ---------------------------------------------------

  /**
   * A macvlan on `parent` in one RTM_NEWLINK (IFLA_LINK = the parent's index here). With `netns`
   * it is born in that namespace (IFLA_NET_NS_FD), where the sandbox attach marks it and brings
   * it up; here, the mark and up take a second step (the kernel ignores IFLA_IFALIAS at creation).
   */
  async ensureMacvlan(name: string, parent: string, opts: MacvlanOptions): Promise<void> {
    checkMacvlanArgs(name, parent, opts);
    const lower = await this.raw(parent);
    if (!lower?.data.index) throw new WeftError(ErrorCodes.PARENT_UNUSABLE, `cannot create macvlan ${name}: parent ${parent} does not exist`);
    const ns = opts.netns ? await openNetns(opts.netns) : undefined;
    try {
      await this.socket.newLink(
        {},
        {
          ifname: name,
          link: nlU32(lower.data.index),
          linkinfo: macvlanLinkinfo(opts.mode),
          ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}),
          ...(opts.mac ? { address: macToBuffer(opts.mac) } : {}),
          ...(ns ? { netNsFd: ns.fd } : {}),
        },
        { flags: NLM_F_CREATE | NLM_F_EXCL, timeout: REQUEST_TIMEOUT_MS },
      );
    } catch (e) {
      const errno = errnoOf(e);
      if (isNotSupported(errno)) {
        throw new WeftError(ErrorCodes.KERNEL_UNSUPPORTED, `this kernel has no macvlan support (RTM_NEWLINK said ${errno}): load the macvlan module or use another driver`, { cause: e });
      }
      if (errno === 'EEXIST' && !ns) {
        const cur = await this.getLink(name);
        if (cur?.kind === 'macvlan' && cur.parent === parent) return;
        throw new WeftError(ErrorCodes.COMMAND_FAILED, `cannot create macvlan ${name}: a ${cur?.kind ?? 'device'} link of that name exists`);
      }
      throw netlinkError(`RTM_NEWLINK (create macvlan ${name} on ${parent})`, e);
    } finally {
      await ns?.close();
    }
    if (ns || (!opts.alias && !opts.up)) return;
    try {
      await this.socket.setLink(
        { ...(opts.up ? { flags: IFF_UP, change: IFF_UP } : {}) },
        { ifname: name, ...(opts.alias ? { ifalias: opts.alias } : {}) },
        { timeout: REQUEST_TIMEOUT_MS },
      );
    } catch (e) {
      await this.deleteLink(name).catch(() => undefined);
      throw netlinkError(`RTM_SETLINK (macvlan ${name})`, e);
    }
  }

  async ensureVlan(name: string, parent: string, id: number, opts: { alias?: string; mtu?: number } = {}): Promise<void> {
    checkVlanArgs(name, parent, id, opts);
    const lower = await this.raw(parent);
    if (!lower?.data.index) throw new WeftError(ErrorCodes.PARENT_UNUSABLE, `cannot create VLAN link ${name}: its parent ${parent} does not exist`);
    try {
      await this.socket.newLink(
        {},
        { ifname: name, link: nlU32(lower.data.index), linkinfo: vlanLinkinfo(id), ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}) },
        { flags: NLM_F_CREATE | NLM_F_EXCL, timeout: REQUEST_TIMEOUT_MS },
      );
    } catch (e) {
      const errno = errnoOf(e);
      if (isNotSupported(errno)) {
        // What a kernel without CONFIG_VLAN_8021Q (and no module to load) answers for kind "vlan".
        throw new WeftError(
          ErrorCodes.KERNEL_UNSUPPORTED,
          `cannot create VLAN link ${name} (id ${id} on ${parent}): this kernel lacks 802.1q VLAN support (RTM_NEWLINK of kind vlan said ${errno}); run \`modprobe 8021q\` or use a kernel built with CONFIG_VLAN_8021Q`,
          { cause: e },
        );
      }
      if (errno === 'EEXIST') {
        const cur = await this.getLink(name);
        if (cur?.kind === 'vlan' && cur.parent === parent && cur.vlanId === id) return;
        throw new WeftError(ErrorCodes.COMMAND_FAILED, `cannot create VLAN link ${name}: a ${cur?.kind ?? 'device'} link of that name exists that is not VLAN ${id} on ${parent}`);
      }
      throw netlinkError(`RTM_NEWLINK (create VLAN ${name})`, e);
    }
    try {
      await this.socket.setLink({ flags: IFF_UP, change: IFF_UP }, { ifname: name, ...(opts.alias ? { ifalias: opts.alias } : {}) }, { timeout: REQUEST_TIMEOUT_MS });
    } catch (e) {
      await this.deleteLink(name).catch(() => undefined);
      throw netlinkError(`RTM_SETLINK (VLAN ${name})`, e);
    }
  }

  async setAlias(name: string, alias: string): Promise<void> {
    checkIfName(name);
    checkAlias(alias);
    await this.call(`RTM_SETLINK ${name} alias`, (s) => s.setLink({}, { ifname: name, ifalias: alias }, { timeout: REQUEST_TIMEOUT_MS }));
  }

  /** The route message of `ip route DST dev DEV [src SRC]` in the main table; undefined when
   *  DEV is gone. */
  private async routeRequest(destination: string, dev: string, src?: string): Promise<[Netlink.rt.Route, Netlink.rt.RouteAttrs] | undefined> {
    const dst = checkInterfaceCidr(destination);
    checkIfName(dev);
    const link = await this.raw(dev);
    if (!link?.data.index) return undefined;
    return [
      { family: dst.family === 4 ? AF_INET : AF_INET6, dstLen: dst.prefix, table: RT_TABLE_MAIN, protocol: RTPROT_BOOT, scope: RT_SCOPE_LINK, type: RTN_UNICAST },
      { dst: ipToBuffer(dst.ip), oif: link.data.index, ...(src !== undefined ? { prefsrc: ipToBuffer(src) } : {}) },
    ];
  }

  async ensureRoute(destination: string, dev: string, src?: string): Promise<void> {
    if (src !== undefined) checkInterfaceCidr(`${src}/${src.includes(':') ? 128 : 32}`);
    const req = await this.routeRequest(destination, dev, src);
    if (!req) throw new WeftError(ErrorCodes.COMMAND_FAILED, `cannot route ${destination}: link ${dev} does not exist`);
    // REPLACE makes a repeat a no-op, as `ip route replace`.
    await this.call(`RTM_NEWROUTE ${destination} dev ${dev}`, (s) => s.newRoute(req[0], req[1], { flags: NLM_F_CREATE | NLM_F_REPLACE, timeout: REQUEST_TIMEOUT_MS }));
  }

  async deleteRoute(destination: string, dev: string): Promise<void> {
    const req = await this.routeRequest(destination, dev);
    if (!req) return; // the device is gone, and its routes with it
    try {
      // As `ip route del`: scope NOWHERE, and protocol and type left 0, match any route to DST on DEV.
      const { protocol: _p, type: _t, ...route } = req[0];
      await this.socket.delRoute({ ...route, scope: 'NOWHERE' }, req[1], { timeout: REQUEST_TIMEOUT_MS });
    } catch (e) {
      if (errnoOf(e) !== 'ESRCH' && errnoOf(e) !== 'ENODEV') throw netlinkError(`RTM_DELROUTE ${destination} dev ${dev}`, e);
    }
  }

  /**
   * Link events from RTNLGRP_LINK on a socket of their own. The kernel announces a new device
   * with ifi_change = ~0; any other RTM_NEWLINK is a change. The socket is not referenced, so a
   * watch never keeps a process alive by itself.
   */
  watchLinks(onEvent: (e: LinkEvent) => void, onLost?: () => void): () => void {
    const sock = this.nl.createRtNetlink();
    sock.addMembership(RTNLGRP_LINK);
    // Bursts (a thousand endpoints at start-up) must not overrun the default buffer.
    sock.socket.setRecvBufferSize(4 * 1024 * 1024);
    sock.socket.on('message', (msgs) => {
      for (const m of msgs) {
        if (m.type !== RTM_NEWLINK && m.type !== RTM_DELLINK) continue;
        const h = parseLinkEvent(Buffer.from(m.data));
        const type = m.type === RTM_DELLINK ? 'del' : h.change === CHANGE_NEW_DEVICE ? 'add' : 'change';
        onEvent({ type, name: h.name ?? '', index: h.index });
      }
    });
    sock.socket.on('error', () => onLost?.());
    return () => sock.socket.close();
  }
}
