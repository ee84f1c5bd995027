// Netlink attribute encoding for what the `netlink` package leaves as raw Buffers: IFLA_LINKINFO
// (link kind, the veth peer, bridge-port options) and the ifinfomsg header of link events. Pure.
//
// An attribute is { u16 length (header included), u16 type, payload } padded to 4 bytes, in host
// byte order (little-endian on every machine weft supports).

import { isIPv4 } from 'node:net';
import { ipToBigInt } from '../../model/address.js';

const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

// include/uapi/linux/if_link.h
export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_NET_NS_FD = 28;
// include/uapi/linux/netlink.h, socket.h, if_link.h: shared by the link ops and the sandbox.
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const RT_TABLE_MAIN = 254;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_INFO_SLAVE_KIND = 4;
const IFLA_INFO_SLAVE_DATA = 5;
const VETH_INFO_PEER = 1;
const IFLA_BRPORT_MODE = 4; // hairpin
/** sizeof(struct ifinfomsg) */
const IFINFOMSG_LEN = 16;

export function nlattr(type: number, payload: Buffer, nested = false): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type | (nested ? NLA_F_NESTED : 0), 2);
  payload.copy(out, 4);
  return out;
}

export const nlString = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');

export function nlU32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}

/** Attributes of a payload by type (the last one wins for repeated types). */
export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) break;
    out.set(buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, buf.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}

const cString = (b: Buffer): string => {
  const nul = b.indexOf(0);
  return b.subarray(0, nul === -1 ? b.length : nul).toString('utf8');
};

/** IFLA_LINKINFO payload for a plain kind: bridge, ... */
export function kindLinkinfo(kind: string): Buffer {
  return nlattr(IFLA_INFO_KIND, nlString(kind));
}

/** IFLA_LINKINFO payload for a veth whose peer is created with this name, MTU and MAC. The peer
 *  is described by a whole ifinfomsg (all zero: no flags, index chosen by the kernel) + attributes. */
export function vethLinkinfo(peer: { name: string; mtu?: number; mac?: string; netnsFd?: number }): Buffer {
  const peerMsg = Buffer.concat([
    Buffer.alloc(IFINFOMSG_LEN),
    nlattr(IFLA_IFNAME, nlString(peer.name)),
    ...(peer.mtu !== undefined ? [nlattr(IFLA_MTU, nlU32(peer.mtu))] : []),
    ...(peer.mac !== undefined ? [nlattr(IFLA_ADDRESS, macToBuffer(peer.mac))] : []),
    // The peer is born in the namespace behind this descriptor (one of the sender's open files).
    ...(peer.netnsFd !== undefined ? [nlattr(IFLA_NET_NS_FD, nlU32(peer.netnsFd))] : []),
  ]);
  return Buffer.concat([kindLinkinfo('veth'), nlattr(IFLA_INFO_DATA, nlattr(VETH_INFO_PEER, peerMsg, true), true)]);
}

/** IFLA_LINKINFO payload that sets a bridge port's hairpin mode (what `ip link set dev X type
 *  bridge_slave hairpin on` sends). Only RTM_NEWLINK applies it; RTM_SETLINK ignores linkinfo. */
export function hairpinLinkinfo(on: boolean): Buffer {
  return Buffer.concat([
    nlattr(IFLA_INFO_SLAVE_KIND, nlString('bridge')),
    nlattr(IFLA_INFO_SLAVE_DATA, nlattr(IFLA_BRPORT_MODE, Buffer.from([on ? 1 : 0])), true),
  ]);
}

// include/uapi/linux/if_link.h: IFLA_MACVLAN_MODE and IFLA_VLAN_ID, each type 1 of IFLA_INFO_DATA.
const IFLA_MACVLAN_MODE = 1;
const IFLA_VLAN_ID = 1;
/** enum macvlan_mode: the kernel's bits for the modes iproute2 names. */
export const MACVLAN_MODE_BITS: Readonly<Record<string, number>> = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 };

/** IFLA_LINKINFO payload of a macvlan in `mode` (bridge, private, vepa, passthru). */
export function macvlanLinkinfo(mode: string): Buffer {
  const bit = MACVLAN_MODE_BITS[mode];
  if (bit === undefined) throw new Error(`unknown macvlan mode ${mode}`);
  return Buffer.concat([kindLinkinfo('macvlan'), nlattr(IFLA_INFO_DATA, nlattr(IFLA_MACVLAN_MODE, nlU32(bit)), true)]);
}

/** IFLA_LINKINFO payload of an 802.1q VLAN link with `id`. */
export function vlanLinkinfo(id: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(id, 0);
  return Buffer.concat([kindLinkinfo('vlan'), nlattr(IFLA_INFO_DATA, nlattr(IFLA_VLAN_ID, b), true)]);
}

/** What IFLA_INFO_DATA says of a macvlan (its mode) or a VLAN link (its id). */
export function stackedInfoOf(linkinfo: Buffer | undefined): { macvlanMode?: string; vlanId?: number } {
  const kind = kindOf(linkinfo);
  const data = linkinfo ? parseAttrs(linkinfo).get(IFLA_INFO_DATA) : undefined;
  if (!data) return {};
  const attrs = parseAttrs(data);
  if (kind === 'macvlan') {
    const mode = attrs.get(IFLA_MACVLAN_MODE);
    if (!mode || mode.length < 4) return {};
    const bits = mode.readUInt32LE(0);
    const name = Object.entries(MACVLAN_MODE_BITS).find(([, b]) => b === bits)?.[0];
    return name ? { macvlanMode: name } : {};
  }
  if (kind === 'vlan') {
    const id = attrs.get(IFLA_VLAN_ID);
    return id && id.length >= 2 ? { vlanId: id.readUInt16LE(0) } : {};
  }
  return {};
}

/** The kind inside an IFLA_LINKINFO payload, if any. */
export function kindOf(linkinfo: Buffer | undefined): string | undefined {
  if (!linkinfo) return undefined;
  const kind = parseAttrs(linkinfo).get(IFLA_INFO_KIND);
  return kind ? cString(kind) || undefined : undefined;
}

export function macToBuffer(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((o) => parseInt(o, 16)));
}

export function bufferToMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** An IP address in network byte order (4 or 16 bytes). */
export function ipToBuffer(ip: string): Buffer {
  const v4 = isIPv4(ip);
  const n = ipToBigInt(ip);
  const len = v4 ? 4 : 16;
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) out[len - 1 - i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}

export interface LinkEventHeader {
  index: number;
  /** ifi_change: ~0 (0xffffffff) when the kernel announces a newly registered device. */
  change: number;
  name?: string;
}

/** The parts of an RTM_NEWLINK / RTM_DELLINK payload a link watcher needs. */
export function parseLinkEvent(payload: Buffer): LinkEventHeader {
  if (payload.length < IFINFOMSG_LEN) throw new Error(`link message too short: ${payload.length} bytes`);
  const attrs = parseAttrs(payload.subarray(IFINFOMSG_LEN));
  const name = attrs.get(IFLA_IFNAME);
  return { index: payload.readInt32LE(4), change: payload.readUInt32LE(12), ...(name ? { name: cString(name) } : {}) };
}
