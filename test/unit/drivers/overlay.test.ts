// The overlay driver's pure parts: options, derived names and MACs, the FDB/neighbour diff, the
// nftables text; and its refusal without a cluster store.

import { describe, expect, it } from 'vitest';
import { OverlayDriver } from '../../../drivers/overlay/overlay-driver.js';
import { gatewayMacOf, overlayBridgeOf, vxlanDeviceOf } from '../../../drivers/overlay/names.js';
import { parseOverlayOptions } from '../../../drivers/overlay/options.js';
import { diffTables } from '../../../drivers/overlay/peer-programmer.js';
import type { NetworkRecord } from '../../../src/model/network.js';
import type { Store } from '../../../src/store/store.js';
import type { LinkOps } from '../../../src/sys/link-ops.js';
import { renderOverlayFilter, solicitedNode } from '../../../src/sys/overlay-filter.js';
import type { Sysctl } from '../../../src/sys/sysctl.js';
import { recordingRunner, silentLogger, unitScopePerTest } from '../../helpers/unit-container.js';

const net = (options: Record<string, string> = {}): NetworkRecord => ({
  id: 'ab'.repeat(32),
  name: 'ov',
  driver: 'overlay',
  origin: 'weft',
  options,
  internal: false,
  enableIPv6: false,
  ipv4: [],
  ipv6: [],
  createdAt: new Date().toISOString(),
});

describe('overlay options and names', () => {
  it('parses vni and mtu, with Docker\'s keys too', () => {
    expect(parseOverlayOptions({ vni: '5000', mtu: '1400' })).toEqual({ vni: 5000, mtu: 1400 });
    expect(parseOverlayOptions({ 'com.docker.network.driver.overlay.vxlanid_list': '4097' })).toEqual({ vni: 4097 });
    expect(() => parseOverlayOptions({ vni: '0' })).toThrow(/vni="0" is not valid/);
    expect(() => parseOverlayOptions({ vni: '5000,5001' })).toThrow(/one VXLAN id/);
    expect(() => parseOverlayOptions({ mtu: '67' })).toThrow(/mtu/);
    expect(() => parseOverlayOptions({ vni: '1', 'com.docker.network.driver.overlay.vxlanid_list': '2' })).toThrow(/mean the same thing/);
    expect(() => parseOverlayOptions({ bogus: '1' })).toThrow(/does not know option "bogus"/);
    expect(parseOverlayOptions({ 'weft.network': 'ov1', vni: '5000' })).toEqual({ identity: 'ov1', vni: 5000 });
    expect(() => parseOverlayOptions({ 'weft.network': '-x' })).toThrow(/weft\.network="-x" is not valid: a network name/);
  });

  it('derives kernel names within 15 characters and one gateway MAC per VNI', () => {
    const id = 'ab'.repeat(32);
    expect(overlayBridgeOf(id)).toBe('wfoabababababab');
    expect(vxlanDeviceOf(id)).toBe('wfxabababababab');
    expect(overlayBridgeOf(id).length).toBeLessThanOrEqual(15);
    expect(gatewayMacOf(4096)).toBe('02:57:46:00:10:00');
    expect(gatewayMacOf(16_777_215)).toBe('02:57:46:ff:ff:ff');
  });
});

describe('peer table diff', () => {
  it('adds what is missing and removes what is extra, leaving matching entries alone', () => {
    const want = {
      fdb: [
        { mac: '02:42:0a:00:00:03', dst: '198.18.0.12' },
        { mac: '00:00:00:00:00:00', dst: '198.18.0.12' },
      ],
      neigh: [{ ip: '10.0.0.3', mac: '02:42:0a:00:00:03' }],
    };
    const have = {
      fdb: [
        { mac: '00:00:00:00:00:00', dst: '198.18.0.12' },
        { mac: '00:00:00:00:00:00', dst: '198.18.0.13' },
      ],
      neigh: [
        { ip: '10.0.0.3', mac: '02:42:0a:00:00:09' },
        { ip: '10.0.0.4', mac: '02:42:0a:00:00:04' },
      ],
    };
    expect(diffTables(want, have)).toEqual({
      addFdb: [{ mac: '02:42:0a:00:00:03', dst: '198.18.0.12' }],
      delFdb: [{ mac: '00:00:00:00:00:00', dst: '198.18.0.13' }],
      addNeigh: [{ ip: '10.0.0.3', mac: '02:42:0a:00:00:03' }],
      delNeigh: have.neigh,
    });
    expect(diffTables(want, { fdb: want.fdb, neigh: want.neigh })).toEqual({ addFdb: [], delFdb: [], addNeigh: [], delNeigh: [] });
  });
});

describe('overlay nftables', () => {
  it('guards the gateway on the VXLAN port and masquerades egress', () => {
    const text = renderOverlayFilter([
      { bridge: 'wfoaaa', vxlan: 'wfxaaa', gatewayMac: '02:57:46:00:10:00', gatewayV4: '10.60.0.1', gatewayV6: 'fd00:1::1', subnetsV4: ['10.60.0.0/24'], subnetsV6: [], internal: false },
    ]);
    expect(text).toContain('iifname "wfxaaa" ether saddr 02:57:46:00:10:00 drop');
    expect(text).toContain('oifname "wfxaaa" arp daddr ip 10.60.0.1 drop');
    expect(text).toContain(`ip6 daddr ${solicitedNode('fd00:1::1')} icmpv6 type nd-neighbor-solicit drop`);
    expect(text).toContain('ip saddr 10.60.0.0/24 oifname != "wfoaaa" masquerade');
    expect(solicitedNode('fd00:1::1')).toBe('ff02::1:ff00:0001');
    expect(solicitedNode('2001:db8::12:3456')).toBe('ff02::1:ff12:3456');
  });

  it('DNATs published ports on this host', () => {
    const g = { bridge: 'wfoaaa', vxlan: 'wfxaaa', gatewayMac: '02:57:46:00:10:00', subnetsV4: ['10.60.0.0/24'], subnetsV6: [], internal: false };
    const text = renderOverlayFilter([g], [
      { proto: 'tcp', family: 4, hostIp: '', hostPort: 8080, containerIp: '10.60.0.2', containerPort: 80 },
      { proto: 'udp', family: 6, hostIp: 'fd00::5', hostPort: 53, containerIp: 'fd00:1::2', containerPort: 5353 },
    ]);
    expect(text).toContain('meta nfproto ipv4 meta l4proto tcp th dport 8080 dnat ip to 10.60.0.2:80');
    expect(text).toContain('ip6 daddr fd00::5 meta l4proto udp th dport 53 dnat ip6 to [fd00:1::2]:5353');
    expect(() => renderOverlayFilter([g], [{ proto: 'tcp', family: 4, hostIp: '', hostPort: 8080, containerIp: 'fd00::2', containerPort: 80 }])).toThrow(/mixes families/);
  });

  it('gives internal networks no way out and no masquerade', () => {
    const text = renderOverlayFilter([{ bridge: 'wfobbb', vxlan: 'wfxbbb', gatewayMac: '02:57:46:00:10:01', subnetsV4: ['10.61.0.0/24'], subnetsV6: [], internal: true }]);
    expect(text).toContain('iifname "wfobbb" oifname != "wfobbb" drop');
    expect(text).not.toContain('masquerade');
  });

  it('marks what it accepts in forward (for Docker\'s DOCKER-USER rule), after every isolation drop', () => {
    const text = renderOverlayFilter([
      { bridge: 'wfoaaa', vxlan: 'wfxaaa', gatewayMac: '02:57:46:00:10:00', subnetsV4: ['10.60.0.0/24'], subnetsV6: [], internal: false },
      { bridge: 'wfobbb', vxlan: 'wfxbbb', gatewayMac: '02:57:46:00:10:01', subnetsV4: ['10.61.0.0/24'], subnetsV6: [], internal: true },
    ]);
    const fwd = text.slice(text.indexOf('table inet'), text.indexOf('chain published'));
    const lines = fwd.split('\n').map((l) => l.trim());
    const mark = 'meta mark set meta mark | 0x100000 accept';
    expect(lines).toContain(`iifname "wfoaaa" ${mark}`);
    expect(lines).toContain(`oifname "wfoaaa" ct state established,related ${mark}`);
    expect(lines).toContain(`oifname "wfoaaa" ct status dnat ${mark}`);
    // internal: only traffic within its own bridge
    expect(lines).toContain(`iifname "wfobbb" oifname "wfobbb" ${mark}`);
    expect(lines.filter((l) => l.startsWith('iifname "wfobbb"') && l.endsWith('accept'))).toEqual([`iifname "wfobbb" oifname "wfobbb" ${mark}`]);
    const lastDrop = Math.max(...lines.map((l, i) => (l.endsWith(' drop') ? i : -1)));
    const firstAccept = lines.findIndex((l) => l.endsWith(' accept'));
    expect(firstAccept).toBeGreaterThan(lastDrop);
  });

  it('refuses names and addresses that could inject rules', () => {
    expect(() => renderOverlayFilter([{ bridge: 'wfo"x', vxlan: 'wfx', gatewayMac: '02:57:46:00:10:01', subnetsV4: [], subnetsV6: [], internal: false }])).toThrow();
    expect(() => renderOverlayFilter([{ bridge: 'wfo', vxlan: 'wfx', gatewayMac: '02:57:46:00:10:01', subnetsV4: ['10.0.0.0/24; flush ruleset'], subnetsV6: [], internal: false }])).toThrow();
  });
});

describe('overlay driver without a cluster store', () => {
  const scope = unitScopePerTest();

  it('refuses networks, naming --store etcd://, and runs nothing', async () => {
    const { store } = await scope.store('weft-ovl-');
    const ran: string[][] = [];
    const d = new OverlayDriver({
      clusterStore: store,
      localStore: store,
      links: {} as LinkOps,
      sysctl: {} as Sysctl,
      runner: recordingRunner(ran, ''),
      logger: silentLogger,
      hostId: 'h1',
      repairIntervalMs: 1000,
    });
    expect(() => d.validateNetwork(net(), 'weft')).toThrow(/--store etcd:\/\//);
    expect(ran).toEqual([]);
  });
});

describe('overlay driver: the cluster identity of Docker networks', () => {
  it('takes a Docker network only under its -o weft.network name, and a weft network with no other identity', () => {
    // validateNetwork reads nothing from the store but its scope.
    const d = new OverlayDriver({
      clusterStore: { scope: 'global' } as unknown as Store,
      localStore: { scope: 'local' } as unknown as Store,
      links: {} as LinkOps,
      sysctl: {} as Sysctl,
      runner: { run: async () => ({ stdout: '', stderr: '', code: 0 }) },
      logger: silentLogger,
      hostId: 'h1',
      repairIntervalMs: 1000,
    });
    const docker = (options: Record<string, string>, name = 'ov'): NetworkRecord => ({ ...net(options), name, origin: 'docker' });
    expect(() => d.validateNetwork(docker({ 'weft.network': 'ov' }), 'docker')).not.toThrow();
    expect(() => d.validateNetwork(docker({}), 'docker')).toThrow(/needs the cluster network's name in -o weft\.network=NAME.*two hosts would hand out the same addresses/);
    expect(() => d.validateNetwork(docker({ 'weft.network': 'other' }), 'docker')).toThrow(/weft\.network=NAME/);
    expect(() => d.validateNetwork(net({}), 'weft')).not.toThrow();
    expect(() => d.validateNetwork(net({ 'weft.network': 'ov' }), 'weft')).not.toThrow();
    expect(() => d.validateNetwork(net({ 'weft.network': 'x' }), 'weft')).toThrow(/weft\.network=x differs from the network's name ov/);
  });
});
