// Netlink attribute encoding, byte for byte against the layout in include/uapi/linux (the same
// bytes iproute2 sends; the integration contract proves the kernel accepts them).

import { describe, expect, it } from 'vitest';
import {
  bufferToMac,
  hairpinLinkinfo,
  ipToBuffer,
  kindLinkinfo,
  kindOf,
  macToBuffer,
  macvlanLinkinfo,
  nlattr,
  parseAttrs,
  parseLinkEvent,
  stackedInfoOf,
  vethLinkinfo,
  vlanLinkinfo,
} from '../../../src/sys/netlink/attrs.js';

const hex = (b: Buffer) => b.toString('hex');

describe('netlink attributes', () => {
  it('pads to four bytes and counts the header in the length', () => {
    expect(hex(nlattr(1, Buffer.from('veth\0')))).toBe('0900' + '0100' + '7665746800' + '000000');
    expect(hex(nlattr(2, Buffer.alloc(0), true))).toBe('0400' + '0280');
  });

  it('encodes a plain kind and reads it back', () => {
    expect(kindOf(kindLinkinfo('bridge'))).toBe('bridge');
    expect(kindOf(undefined)).toBeUndefined();
    expect(kindOf(Buffer.alloc(0))).toBeUndefined();
  });

  it('encodes a veth peer as a nested ifinfomsg with name, MTU, MAC and namespace fd', () => {
    const info = vethLinkinfo({ name: 'wfc1', mtu: 1400, mac: '02:42:0a:00:00:02', netnsFd: 7 });
    const top = parseAttrs(info);
    expect(top.get(1)?.toString()).toBe('veth\0');
    const peer = parseAttrs(top.get(2)!).get(1)!; // IFLA_INFO_DATA > VETH_INFO_PEER
    expect(hex(peer.subarray(0, 16))).toBe('00'.repeat(16)); // ifinfomsg: kernel picks the index
    const attrs = parseAttrs(peer.subarray(16));
    expect(attrs.get(3)?.toString()).toBe('wfc1\0'); // IFLA_IFNAME
    expect(attrs.get(4)?.readUInt32LE(0)).toBe(1400); // IFLA_MTU
    expect(bufferToMac(attrs.get(1)!)).toBe('02:42:0a:00:00:02'); // IFLA_ADDRESS
    expect(attrs.get(28)?.readUInt32LE(0)).toBe(7); // IFLA_NET_NS_FD
    // The nested attributes carry NLA_F_NESTED, as iproute2 sends them.
    expect(info.readUInt16LE(info.indexOf(Buffer.from('veth\0')) + 8 + 2) & 0x8000).toBe(0x8000);
  });

  it('encodes the hairpin mode as bridge slave data', () => {
    const top = parseAttrs(hairpinLinkinfo(true));
    expect(top.get(4)?.toString()).toBe('bridge\0'); // IFLA_INFO_SLAVE_KIND
    expect(parseAttrs(top.get(5)!).get(4)?.[0]).toBe(1); // IFLA_BRPORT_MODE
    expect(parseAttrs(parseAttrs(hairpinLinkinfo(false)).get(5)!).get(4)?.[0]).toBe(0);
  });

  it('converts MACs and IPs to network byte order', () => {
    expect(hex(macToBuffer('02:42:0A:00:00:02'))).toBe('02420a000002');
    expect(hex(ipToBuffer('10.1.2.3'))).toBe('0a010203');
    expect(hex(ipToBuffer('fd00::1'))).toBe('fd00' + '0'.repeat(26) + '01');
  });

  it('reads index, change mask and name of a link event', () => {
    const msg = Buffer.concat([Buffer.alloc(16), nlattr(3, Buffer.from('wfh1\0'))]);
    msg.writeInt32LE(42, 4);
    msg.writeUInt32LE(0xffffffff, 12);
    expect(parseLinkEvent(msg)).toEqual({ index: 42, change: 0xffffffff, name: 'wfh1' });
    expect(() => parseLinkEvent(Buffer.alloc(3))).toThrow(/too short/);
  });

  it('encodes a macvlan mode and a VLAN id inside IFLA_INFO_DATA, and reads them back', () => {
    // IFLA_INFO_KIND "macvlan", IFLA_INFO_DATA (nested) > IFLA_MACVLAN_MODE u32 4 (bridge)
    expect(hex(macvlanLinkinfo('bridge'))).toBe('0c000100' + hex(Buffer.from('macvlan\0')) + '0c000280' + '08000100' + '04000000');
    // IFLA_INFO_KIND "vlan", IFLA_INFO_DATA > IFLA_VLAN_ID u16 30, padded
    expect(hex(vlanLinkinfo(30))).toBe('09000100' + hex(Buffer.from('vlan\0')) + '000000' + '0c000280' + '06000100' + '1e00' + '0000');
    for (const mode of ['bridge', 'private', 'vepa', 'passthru']) expect(stackedInfoOf(macvlanLinkinfo(mode))).toEqual({ macvlanMode: mode });
    expect(stackedInfoOf(vlanLinkinfo(4094))).toEqual({ vlanId: 4094 });
    expect(stackedInfoOf(kindLinkinfo('bridge'))).toEqual({});
    expect(stackedInfoOf(undefined)).toEqual({});
    expect(() => macvlanLinkinfo('nope')).toThrow(/unknown macvlan mode/);
  });
});
