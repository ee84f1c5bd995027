// The link, address and MTU operations weft performs on the host side (bridges, veth pairs,
// gateway addresses), as one contract with two implementations: netlink (src/sys/netlink, no
// process per call) and iproute2 (src/sys/iproute2, `ip -batch` / `ip -j`, and the only one that
// can target a named namespace other than the daemon's own). One contract suite
// (test/unit/sys/link-ops-contract.ts) runs against both on the real kernel.
//
// Every input is validated here, before either implementation touches the kernel, so that both
// refuse exactly the same things and a refused call changes nothing.

import { isValidMac, parseCidr, type ParsedCidr } from '../model/address.js';
import { ErrorCodes, WeftError } from '../model/errors.js';
import { isValidIfName, type SandboxRef } from '../model/network.js';
import { isValidNetnsName, NETNS_DIR, parseNetnsArg } from './netns.js';

export interface LinkInfo {
  name: string;
  index: number;
  mtu: number;
  /** Lower-case colon form; absent for links without a hardware address. */
  mac?: string;
  /** ifalias; weft's mark is `weft:<owner id>` (see links.ts, ownerOfAlias). */
  alias?: string;
  /** rtnl kind: bridge, veth, vxlan, macvlan...; absent for physical devices and lo. */
  kind?: string;
  /** Name of the bridge (or other master) the link is a port of. */
  master?: string;
  /** RFC 2863 state as iproute2 prints it: UP, DOWN, LOWERLAYERDOWN, UNKNOWN... */
  operstate: string;
  /** Administratively up (IFF_UP), whatever the carrier. */
  up: boolean;
  /** veth only: the other end's name, when that end is in the same namespace. */
  peer?: string;
  /** Stacked links (macvlan, vlan): the lower device's name, when it is in the same namespace. */
  parent?: string;
  /** macvlan only: bridge, private, vepa, passthru, source. */
  macvlanMode?: string;
  /** vlan only: the 802.1q id. */
  vlanId?: number;
}

export interface BridgeOptions {
  mtu?: number;
  /** Marks ownership (`weft:<ownerId>`); omit for adopted bridges, whose alias is left alone. */
  alias?: string;
  mac?: string;
}

export interface VethOptions {
  /** Both ends. */
  mtu?: number;
  /** On the host end. */
  alias?: string;
  /** Bridge the host end becomes a port of. */
  master?: string;
  /** MAC of the end that goes into the sandbox. */
  peerMac?: string;
  /** Hairpin mode on the bridge port (needs master). Undefined leaves it as it is. */
  hairpin?: boolean;
  /**
   * Create the peer directly inside this namespace instead of here. Moving a link between
   * namespaces costs the kernel 10-20 ms (it waits for an RCU grace period), creating it there
   * costs nothing extra: weft's own connect uses this, then attachToSandbox with linkInSandbox.
   * Docker's Join cannot (Docker moves SrcName itself).
   */
  peerNetns?: SandboxRef;
}

export interface AddressOptions {
  /** IPv6: skip duplicate address detection, so the address is usable at once. */
  noDad?: boolean;
}

export interface LinkEvent {
  type: 'add' | 'del' | 'change';
  name: string;
  index: number;
}

export interface LinkOps {
  /** Create if missing (alias marks ownership: ifalias `weft:<ownerId>`; omit for adopted links), set MTU, up.
   *  A link of that name that is not a bridge is refused (INVALID_OPTION) and left untouched. */
  ensureBridge(name: string, opts: BridgeOptions): Promise<void>;
  /** veth pair born in this namespace: hostName attached to `master` (a bridge) and up; peerName
   *  down, with MAC and MTU. An existing pair is brought to these settings; a peer that already
   *  moved into a sandbox is left alone. */
  ensureVeth(hostName: string, peerName: string, opts: VethOptions): Promise<void>;
  /** Deletes a link (a veth takes its peer with it). Gone = done. */
  deleteLink(name: string): Promise<void>;
  getLink(name: string): Promise<LinkInfo | undefined>;
  listLinks(): Promise<LinkInfo[]>;
  /** Adds an interface address (CIDR with host bits: 10.1.0.1/24). Idempotent. */
  ensureAddress(link: string, cidr: string, opts?: AddressOptions): Promise<void>;
  /** Removes an address. Gone (or the link gone) = done. */
  deleteAddress(link: string, cidr: string): Promise<void>;
  setMtu(link: string, mtu: number): Promise<void>;
  /** Link events (add/del/change) for the reconciler; returns an unsubscribe. `onLost` is called
   *  when the kernel dropped events (socket buffer overrun): list the links again. */
  watchLinks?(onEvent: (e: LinkEvent) => void, onLost?: () => void): () => void;
  /** Moves a link of this namespace into another one (the host-side half of a sandbox attach,
   *  without a process). Only implementations that can do it without a spawn offer it. */
  moveToNetns?(name: string, target: SandboxRef): Promise<void>;
}

export const LinkOpsToken = Symbol.for('weft.LinkOps');
/** The same object as LinkOpsToken (both implementations offer both), for the macvlan driver. */
export const StackedLinkOpsToken = Symbol.for('weft.StackedLinkOps');

export type MacvlanMode = 'bridge' | 'private' | 'vepa' | 'passthru';
export const MACVLAN_MODES: readonly MacvlanMode[] = ['bridge', 'private', 'vepa', 'passthru'];

export interface MacvlanOptions {
  mode: MacvlanMode;
  mac?: string;
  mtu?: number;
  alias?: string;
  /** Create the link directly inside this namespace (weft's own connect): no 10-20 ms move. */
  netns?: SandboxRef;
  /** Bring it up (the host shim); links for sandboxes stay down until attached. */
  up?: boolean;
}

/**
 * Stacked links on a lower device (macvlan, 802.1q VLAN) and host routes, for the macvlan driver.
 * Both implementations offer it, and both create a macvlan directly inside another namespace
 * (iproute2: `ip link add ... netns NS`; netlink: IFLA_NET_NS_FD), which weft's own connect uses.
 */
export interface StackedLinkOps {
  /** A macvlan on `parent`. An existing macvlan of that name on that parent is accepted as is;
   *  another link of that name is an error. */
  ensureMacvlan(name: string, parent: string, opts: MacvlanOptions): Promise<void>;
  /** An 802.1q sub-interface `name` of `parent` with `id`, up. A kernel without 802.1q gives
   *  KERNEL_UNSUPPORTED. An existing VLAN link of that name, parent and id is accepted. */
  ensureVlan(name: string, parent: string, id: number, opts: { alias?: string; mtu?: number }): Promise<void>;
  /** Sets (or replaces) a link's ifalias: the mark moves to another owner. */
  setAlias(name: string, alias: string): Promise<void>;
  /** `ip route replace DST dev DEV [src SRC]`: idempotent. */
  ensureRoute(destination: string, dev: string, src?: string): Promise<void>;
  /** Gone (or the device gone) = done. */
  deleteRoute(destination: string, dev: string): Promise<void>;
  getLink(name: string): Promise<LinkInfo | undefined>;
  deleteLink(name: string): Promise<void>;
}

/** 802.1q ids 0 and 4095 are reserved. */
export const MIN_VLAN_ID = 1;
export const MAX_VLAN_ID = 4094;

/** The kernel's IPv4 minimum and the largest MTU a u16-sized frame allows. */
export const MIN_MTU = 68;
export const MAX_MTU = 65535;
/** IFALIASZ is 256 with the NUL. */
const MAX_ALIAS = 255;

// ---- validation (shared by every implementation) --------------------------------------------

export function checkIfName(name: string, what = 'interface name'): void {
  if (!isValidIfName(name)) {
    throw new WeftError(ErrorCodes.INVALID_NAME, `${what} ${JSON.stringify(name)} is not valid: 1-15 characters of letters, digits, '_', '.', '-'`);
  }
}

export function checkMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `MTU ${JSON.stringify(mtu)} is out of range: use an integer from ${MIN_MTU} to ${MAX_MTU}`);
  }
}

export function checkMac(mac: string): void {
  // A multicast MAC (low bit of the first octet) is refused by the kernel for a device address.
  if (!isValidMac(mac) || (parseInt(mac.slice(0, 2), 16) & 1) === 1) {
    throw new WeftError(ErrorCodes.INVALID_ADDRESS, `MAC address ${JSON.stringify(mac)} is not valid: use six hex octets like 02:42:0a:00:00:02 (unicast)`);
  }
}

/**
 * ifalias values go into `ip -batch` lines, where whitespace separates words, quotes and
 * backslashes are interpreted and '#' starts a comment: only a conservative alphabet passes.
 */
export function checkAlias(alias: string): void {
  if (typeof alias !== 'string' || alias.length === 0 || alias.length > MAX_ALIAS || !/^[A-Za-z0-9_.:@/+=,-]+$/.test(alias)) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `link alias ${JSON.stringify(alias)} is not valid: 1-${MAX_ALIAS} characters of letters, digits and _ . : @ / + = , -`);
  }
}

/** An interface address: CIDR form, the host part may be set (10.1.0.1/24). */
export function checkInterfaceCidr(cidr: string): ParsedCidr {
  return parseCidr(cidr, 'interface address');
}

export function checkBridgeArgs(name: string, opts: BridgeOptions): void {
  checkIfName(name, 'bridge name');
  if (opts.mtu !== undefined) checkMtu(opts.mtu);
  if (opts.alias !== undefined) checkAlias(opts.alias);
  if (opts.mac !== undefined) checkMac(opts.mac);
}

export function checkVethArgs(hostName: string, peerName: string, opts: VethOptions): void {
  checkIfName(hostName, 'veth host end name');
  checkIfName(peerName, 'veth peer name');
  if (hostName === peerName) throw new WeftError(ErrorCodes.INVALID_NAME, `veth ends need two different names, got ${hostName} twice`);
  if (opts.mtu !== undefined) checkMtu(opts.mtu);
  if (opts.alias !== undefined) checkAlias(opts.alias);
  if (opts.master !== undefined) checkIfName(opts.master, 'bridge name');
  if (opts.peerMac !== undefined) checkMac(opts.peerMac);
  if (opts.peerNetns !== undefined) checkNetnsRef(opts.peerNetns);
  if (opts.hairpin !== undefined && opts.master === undefined) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `hairpin applies to a bridge port: give the veth ${hostName} a master`);
  }
}

export function checkMacvlanArgs(name: string, parent: string, opts: MacvlanOptions): void {
  checkIfName(name, 'macvlan name');
  checkIfName(parent, 'macvlan parent');
  if (name === parent) throw new WeftError(ErrorCodes.INVALID_NAME, `a macvlan cannot be its own parent (${name})`);
  if (!MACVLAN_MODES.includes(opts.mode)) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `macvlan mode ${JSON.stringify(opts.mode)} is not valid: use one of ${MACVLAN_MODES.join(', ')}`);
  }
  if (opts.mac !== undefined) checkMac(opts.mac);
  if (opts.mtu !== undefined) checkMtu(opts.mtu);
  if (opts.alias !== undefined) checkAlias(opts.alias);
  if (opts.netns !== undefined) checkNetnsRef(opts.netns);
}

export function checkVlanArgs(name: string, parent: string, id: number, opts: { alias?: string; mtu?: number }): void {
  checkIfName(name, 'VLAN link name');
  checkIfName(parent, 'VLAN parent');
  if (!Number.isInteger(id) || id < MIN_VLAN_ID || id > MAX_VLAN_ID) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `VLAN id ${JSON.stringify(id)} is out of range: use ${MIN_VLAN_ID} to ${MAX_VLAN_ID} (0 and 4095 are reserved by 802.1q)`);
  }
  if (opts.alias !== undefined) checkAlias(opts.alias);
  if (opts.mtu !== undefined) checkMtu(opts.mtu);
}

/** A namespace reference as the kernel will see it: an absolute, normalized path (and, when
 *  named, a valid name). Throws INVALID_NAME. */
export function checkNetnsRef(ref: SandboxRef): void {
  if (ref.name !== undefined && !isValidNetnsName(ref.name)) {
    throw new WeftError(ErrorCodes.INVALID_NAME, `network namespace name ${JSON.stringify(ref.name)} is not valid: use letters, digits, '_', '.', '-'`);
  }
  if (typeof ref.path !== 'string' || !ref.path.startsWith('/') || parseNetnsArg(ref.path).path !== ref.path) {
    throw new WeftError(ErrorCodes.INVALID_NAME, `network namespace path ${JSON.stringify(ref.path)} must be absolute and normalized`);
  }
  // `ip -n NAME` opens /var/run/netns/NAME: a name must not point somewhere else than the path.
  if (ref.name !== undefined && ref.path !== `${NETNS_DIR}/${ref.name}` && ref.path !== `/run/netns/${ref.name}`) {
    throw new WeftError(ErrorCodes.INVALID_NAME, `network namespace ${JSON.stringify(ref.name)} does not match its path ${ref.path}`);
  }
}

/** Canonical lower-case MAC, for comparing what the kernel reports with what was asked for. */
export const normalizeMac = (mac: string): string => mac.toLowerCase();
