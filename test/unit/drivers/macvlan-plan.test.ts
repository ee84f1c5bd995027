// The macvlan driver's decisions, pure: options (parent, VLAN ids, modes, host_access), the L2
// domain, the plan for the lower device (VLAN sub-interface, internal bridge), parent checks, and
// the per-domain overlap and passthru checks.

import { describe, expect, it } from 'vitest';
import { l2DomainOf, parseMacvlanOptions, parseVlanParent } from '../../../drivers/macvlan/options.js';
import { checkAgainstOthers, planNetwork, shimRoutes, vlanOwnersAfter, type MacvlanRecord } from '../../../drivers/macvlan/plan.js';
import type { LinkInfo } from '../../../src/sys/link-ops.js';

const NET = 'ab'.repeat(32);
const link = (name: string, extra: Partial<LinkInfo> = {}): LinkInfo => ({ name, index: 3, mtu: 1500, mac: '52:54:00:12:34:56', operstate: 'UP', up: true, ...extra });
const rec = (name: string, domain: string, subnets: string[], mode: MacvlanRecord['mode'] = 'bridge', extra: Partial<MacvlanRecord> = {}): MacvlanRecord => ({
  networkId: `${name}-id`,
  name,
  domain,
  lower: domain,
  mode,
  subnets,
  ...extra,
});

describe('macvlan options', () => {
  it('defaults: bridge mode, no host access', () => {
    expect(parseMacvlanOptions({ parent: 'eth1' }, false)).toEqual({ parent: 'eth1', mode: 'bridge', hostAccess: false });
  });

  it('parent is required unless --internal', () => {
    expect(() => parseMacvlanOptions({}, false)).toThrow(/needs a parent interface: give -o parent=IFACE/);
    expect(parseMacvlanOptions({}, true)).toEqual({ mode: 'bridge', hostAccess: false });
  });

  it('reads a VLAN parent, refusing the reserved ids 0 and 4095', () => {
    expect(parseMacvlanOptions({ parent: 'eth1.30' }, false).vlan).toEqual({ base: 'eth1', id: 30 });
    expect(parseVlanParent('eth1')).toBeUndefined();
    for (const bad of ['eth1.0', 'eth1.4095', 'eth1.05']) {
      expect(() => parseMacvlanOptions({ parent: bad }, false)).toThrow(/out of range: use 1 to 4094/);
    }
  });

  it('refuses an unknown mode, unknown keys, and host_access outside bridge mode', () => {
    expect(() => parseMacvlanOptions({ parent: 'eth1', macvlan_mode: 'source' }, false)).toThrow(/use one of bridge, private, vepa, passthru/);
    expect(() => parseMacvlanOptions({ parent: 'eth1', bridge: 'x' }, false)).toThrow(/does not know option "bridge"/);
    expect(() => parseMacvlanOptions({ parent: 'eth1', host_access: 'true', macvlan_mode: 'private' }, false)).toThrow(/needs macvlan_mode=bridge/);
    expect(() => parseMacvlanOptions({ parent: 'eth1', host_access: 'yes' }, false)).toThrow(/use true or false/);
    expect(parseMacvlanOptions({ parent: 'eth1', host_access: 'true', mtu: '1400' }, false)).toMatchObject({ hostAccess: true, mtu: 1400 });
  });

  it('names the L2 domain after the parent, or the network for an internal one', () => {
    expect(l2DomainOf(parseMacvlanOptions({ parent: 'eth1.30' }, false), NET)).toBe('eth1.30');
    expect(l2DomainOf(parseMacvlanOptions({}, true), NET)).toBe('internal-abababababab');
  });
});

describe('macvlan plan', () => {
  it('uses an existing, up parent as it is', () => {
    expect(planNetwork(parseMacvlanOptions({ parent: 'eth1' }, false), NET, { parent: link('eth1') })).toEqual({ lower: 'eth1', steps: [] });
  });

  it('creates a missing VLAN parent on its base, and records it as weft-made', () => {
    const p = planNetwork(parseMacvlanOptions({ parent: 'eth1.30' }, false), NET, { base: link('eth1') });
    expect(p).toEqual({ lower: 'eth1.30', steps: [{ op: 'create-vlan', name: 'eth1.30', base: 'eth1', id: 30 }], vlan: { name: 'eth1.30', base: 'eth1', id: 30 } });
  });

  it('shares a VLAN link another weft network made; adopts one weft did not make', () => {
    const opts = parseMacvlanOptions({ parent: 'eth1.30' }, false);
    expect(planNetwork(opts, NET, { parent: link('eth1.30', { kind: 'vlan', alias: 'weft:other' }) }).vlan).toEqual({ name: 'eth1.30', base: 'eth1', id: 30 });
    expect(planNetwork(opts, NET, { parent: link('eth1.30', { kind: 'vlan' }) })).toEqual({ lower: 'eth1.30', steps: [] });
  });

  it('gives an internal network without parent its own bridge', () => {
    expect(planNetwork(parseMacvlanOptions({}, true), NET, {})).toEqual({
      lower: 'wflabababababab',
      steps: [{ op: 'create-bridge', name: 'wflabababababab' }],
      internalBridge: 'wflabababababab',
    });
  });

  it('refuses a missing, down or bridge-port parent (and the same for a VLAN base)', () => {
    const opts = parseMacvlanOptions({ parent: 'eth1' }, false);
    expect(() => planNetwork(opts, NET, {})).toThrow(/parent eth1 does not exist/);
    expect(() => planNetwork(opts, NET, { parent: link('eth1', { up: false, operstate: 'DOWN' }) })).toThrow(/parent eth1 is down/);
    expect(() => planNetwork(opts, NET, { parent: link('eth1', { master: 'br0' }) })).toThrow(/is a port of br0/);
    expect(() => planNetwork(parseMacvlanOptions({ parent: 'eth9.30' }, false), NET, {})).toThrow(/VLAN base interface of eth9.30, eth9 does not exist/);
    try {
      planNetwork(opts, NET, {});
    } catch (e) {
      expect((e as { code: string }).code).toBe('WEFT_ERR_PARENT_UNUSABLE');
    }
  });
});

describe('parents the kernel or weft cannot give to macvlans', () => {
  const opts = (parent: string) => parseMacvlanOptions({ parent }, false);
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return (e as { code?: string }).code;
    }
    return undefined;
  };

  it('refuses the loopback (the kernel says "Invalid argument" only at the first connect)', () => {
    const lo = link('lo', { mac: '00:00:00:00:00:00', operstate: 'UNKNOWN' });
    expect(() => planNetwork(opts('lo'), NET, { parent: lo })).toThrow(/parent lo is the loopback device: macvlan needs an Ethernet interface/);
    expect(code(() => planNetwork(opts('lo'), NET, { parent: lo }))).toBe('WEFT_ERR_PARENT_UNUSABLE');
    // Whatever its name: the loopback is the link with the all-zero address.
    expect(() => planNetwork(opts('lo2'), NET, { parent: link('lo2', { mac: '00:00:00:00:00:00' }) })).toThrow(/is the loopback device/);
  });

  it('refuses links without an Ethernet address (tun, ipip, wireguard...)', () => {
    const tun = link('tun0', { kind: 'tun', mac: undefined });
    expect(() => planNetwork(opts('tun0'), NET, { parent: tun })).toThrow(/parent tun0 is not an Ethernet interface \(a tun link without an Ethernet address\)/);
    expect(code(() => planNetwork(opts('ipip0'), NET, { parent: link('ipip0', { kind: 'ipip', mac: '0.0.0.0' }) }))).toBe('WEFT_ERR_PARENT_UNUSABLE');
  });

  it("refuses a link weft made for something else (a bridge network's bridge, an endpoint's veth, a shim)", () => {
    const weftBridge = link('wf-0123456789ab', { kind: 'bridge', alias: `weft:${'01'.repeat(32)}` });
    expect(() => planNetwork(opts('wf-0123456789ab'), NET, { parent: weftBridge })).toThrow(/is a link weft made for object 010101010101/);
    expect(code(() => planNetwork(opts('wfs0123456789ab'), NET, { parent: link('wfs0123456789ab', { kind: 'macvlan', alias: 'weft:abc' }) }))).toBe('WEFT_ERR_PARENT_UNUSABLE');
    // A VLAN base weft made is no better.
    expect(() => planNetwork(opts('wfb1.30'), NET, { base: link('wfb1', { kind: 'bridge', alias: 'weft:abc' }) })).toThrow(/VLAN base interface of wfb1.30, wfb1 is a link weft made for object abc/);
  });

  it("takes the host's own Ethernet links, a user's bridge included, and a VLAN link weft shares", () => {
    expect(planNetwork(opts('eth1'), NET, { parent: link('eth1') }).lower).toBe('eth1');
    expect(planNetwork(opts('br0'), NET, { parent: link('br0', { kind: 'bridge' }) }).lower).toBe('br0');
    expect(planNetwork(opts('bond0'), NET, { parent: link('bond0', { kind: 'bond', mac: '52:54:00:AB:CD:EF' }) }).lower).toBe('bond0');
    expect(planNetwork(opts('eth1.30'), NET, { parent: link('eth1.30', { kind: 'vlan', alias: 'weft:other' }) }).vlan).toEqual({ name: 'eth1.30', base: 'eth1', id: 30 });
  });
});

describe('checks against the other macvlan networks', () => {
  const mine = (domain: string, subnets: string[], mode: MacvlanRecord['mode'] = 'bridge') => ({ networkId: 'me', name: 'me', domain, mode, subnets });

  it('allows the same subnet on another parent or VLAN, refuses it on the same one', () => {
    const others = [rec('m1', 'veth1', ['10.70.0.0/24'])];
    expect(() => checkAgainstOthers(mine('veth2', ['10.70.0.0/24']), others)).not.toThrow();
    expect(() => checkAgainstOthers(mine('veth1.30', ['10.70.0.0/24']), others)).not.toThrow();
    expect(() => checkAgainstOthers(mine('veth1', ['10.70.0.128/25']), others)).toThrow(/overlaps 10.70.0.0\/24 of macvlan network "m1" on the same L2 domain \(veth1\)/);
    expect(() => checkAgainstOthers(mine('veth1', ['10.71.0.0/24']), others)).not.toThrow();
  });

  it('keeps a passthru parent for one network', () => {
    expect(() => checkAgainstOthers(mine('veth1', ['10.72.0.0/24']), [rec('p', 'veth1', [], 'passthru')])).toThrow(/taken by passthru network "p"/);
    expect(() => checkAgainstOthers(mine('veth1', [], 'passthru'), [rec('b', 'veth1', [])])).toThrow(/passthru needs parent veth1 for itself/);
    expect(() => checkAgainstOthers(mine('veth2', [], 'passthru'), [rec('b', 'veth1', [])])).not.toThrow();
  });

  it('knows who still owns a VLAN link, and which routes a shim carries', () => {
    const v = { name: 'eth1.30', base: 'eth1', id: 30 };
    const all = [rec('a', 'eth1.30', [], 'bridge', { vlan: v }), rec('b', 'eth1.30', [], 'bridge', { vlan: v }), rec('c', 'eth1', [])];
    expect(vlanOwnersAfter('eth1.30', 'a-id', all).map((r) => r.name)).toEqual(['b']);
    expect(vlanOwnersAfter('eth1.30', 'b-id', all.slice(1))).toEqual([]);
    expect(shimRoutes([{ subnet: '10.1.0.0/24' }, { subnet: '10.2.0.0/24', ipRange: '10.2.0.128/25' }])).toEqual(['10.1.0.0/24', '10.2.0.128/25']);
  });
});
