import { describe, expect, it } from 'vitest';
import { BridgeDriver, MAX_BRIDGE_PORTS } from '../../../drivers/bridge/bridge-driver.js';
import { bridgeNameOf, hostVethOf, macFromIpv4, peerVethOf } from '../../../drivers/bridge/names.js';
import { parseBridgeOptions } from '../../../drivers/bridge/options.js';
import { expandMappings, PortReservations } from '../../../drivers/bridge/ports.js';
import type { EndpointRecord, NetworkRecord } from '../../../src/model/network.js';
import type { Firewall } from '../../../src/sys/firewall.js';
import type { LinkOps } from '../../../src/sys/link-ops.js';
import { NftFirewall } from '../../../src/sys/nftables/nft-firewall.js';
import { silentLogger, unitScopePerTest } from '../../helpers/unit-container.js';
import { FakeLinks, RecordingRunner } from '../controller/kernel-fakes.js';

describe('bridge options', () => {
  it("takes Docker's keys and weft's short ones, with Docker's defaults", () => {
    expect(parseBridgeOptions({})).toEqual({ icc: true, masquerade: true, masqueradeV6: false, hairpin: true, ifacePrefix: 'eth' });
    expect(parseBridgeOptions({ 'com.docker.network.bridge.enable_icc': 'false', mtu: '1400', bridge: 'br0', host_binding_ipv4: '127.0.0.1' })).toMatchObject({
      icc: false,
      mtu: 1400,
      bridgeName: 'br0',
      hostBindingIpv4: '127.0.0.1',
    });
  });

  it.each([
    [{ mtu: '67' }, /mtu/],
    [{ mtu: '1e3' }, /mtu/],
    [{ enable_icc: 'yes' }, /true or false/],
    [{ bridge: 'x'.repeat(16) }, /interface name/],
    [{ host_binding_ipv4: '::1' }, /IPv4/],
    [{ mtu: '1400', 'com.docker.network.driver.mtu': '1400' }, /mean the same thing/],
    [{ colour: 'blue' }, /does not know option "colour"/],
  ])('refuses %j', (opts, msg) => {
    expect(() => parseBridgeOptions(opts as Record<string, string>)).toThrow(msg);
  });
});

describe('bridge names', () => {
  it('fit IFNAMSIZ and start with wf', () => {
    const id = 'ab'.repeat(32);
    for (const n of [bridgeNameOf(id), hostVethOf(id), peerVethOf(id)]) {
      expect(n.length).toBeLessThanOrEqual(15);
      expect(n.startsWith('wf')).toBe(true);
    }
    expect(macFromIpv4('10.1.2.3')).toBe('02:42:0a:01:02:03');
  });
});

describe('published port reservations', () => {
  const scope = unitScopePerTest();

  it('never gives one host port to two endpoints, and gives it back on release', async () => {
    const { store } = await scope.store('weft-ports-');
    const r = new PortReservations(store);
    const want = (hostPort: number, hostIp = '') => expandMappings([{ proto: 'tcp', containerPort: 80, hostPort, hostPortEnd: hostPort, hostIp }], { v4: true, v6: false });
    const [a] = await r.reserve('ep1', want(8080));
    expect(a).toMatchObject({ hostPort: 8080, family: 4 });
    await expect(r.reserve('ep2', want(8080))).rejects.toMatchObject({ code: 'WEFT_ERR_PORT_IN_USE' });
    await expect(r.reserve('ep2', want(8080, '127.0.0.1'))).rejects.toMatchObject({ code: 'WEFT_ERR_PORT_IN_USE' });
    const [eph] = await r.reserve('ep2', want(0));
    expect(eph!.hostPort).toBeGreaterThanOrEqual(49153);
    await r.release('ep1', [a!]);
    expect((await r.reserve('ep3', want(8080)))[0]!.hostPort).toBe(8080);
    // Specific addresses of one family share a port; a host range takes the first free port.
    const [x] = await r.reserve('ep4', want(9090, '127.0.0.1'));
    const [y] = await r.reserve('ep5', want(9090, '127.0.0.2'));
    expect([x!.hostPort, y!.hostPort]).toEqual([9090, 9090]);
    const ranged = expandMappings([{ proto: 'tcp', containerPort: 80, hostPort: 8080, hostPortEnd: 8082, hostIp: '' }], { v4: true, v6: false });
    expect((await r.reserve('ep6', ranged))[0]!.hostPort).toBe(8081);
  });
});

describe('bridge port limit', () => {
  const scope = unitScopePerTest();

  it(`refuses endpoint ${MAX_BRIDGE_PORTS + 1} with a clear error`, async () => {
    const { store } = await scope.store('weft-brlimit-');
    // The kernel part is not what is tested here: links and firewall only record calls.
    let veths = 0;
    const links = { getLink: async () => undefined, ensureBridge: async () => {}, ensureAddress: async () => {}, ensureVeth: async () => void veths++ } as unknown as LinkOps;
    const firewall = { addNetwork: async () => {} } as unknown as Firewall;
    const driver = new BridgeDriver({ store, links, firewall, sysctl: { get: async () => '1', set: async () => {} }, logger: silentLogger });
    const net: NetworkRecord = { id: 'a'.repeat(64), name: 'big', driver: 'bridge', origin: 'weft', options: {}, internal: false, enableIPv6: false, ipv4: [{ subnet: '10.0.0.0/16', gateway: '10.0.0.1', auxAddresses: {} }], ipv6: [], createdAt: '' };
    await driver.createNetwork(net);
    const ep = (i: number): EndpointRecord => ({ id: i.toString(16).padStart(64, '0'), networkId: net.id, origin: 'weft', createdAt: '' });
    for (let i = 0; i < MAX_BRIDGE_PORTS; i++) await driver.createEndpoint(net, ep(i));
    expect(veths).toBe(MAX_BRIDGE_PORTS);
    await expect(driver.createEndpoint(net, ep(MAX_BRIDGE_PORTS))).rejects.toMatchObject({ code: 'WEFT_ERR_BRIDGE_FULL', message: expect.stringContaining('at most 1024 ports') });
    expect(veths).toBe(MAX_BRIDGE_PORTS);
  });
});

describe('a bridge network the firewall refuses', () => {
  const scope = unitScopePerTest();

  it("is undone without removing its subnets from the firewall: they are another network's elements", async () => {
    const { store } = await scope.store('weft-brundo-');
    const runner = new RecordingRunner();
    const links = new FakeLinks();
    const log = silentLogger;
    const driver = new BridgeDriver({ store, links, firewall: new NftFirewall(runner, log), sysctl: { get: async () => '1', set: async () => {} }, logger: log });
    const net = (c: string, subnet: string): NetworkRecord => ({ id: c.repeat(64), name: c, driver: 'bridge', origin: 'docker', options: {}, internal: false, enableIPv6: false, ipv4: [{ subnet, auxAddresses: {} }], ipv6: [], createdAt: '' });
    await driver.createNetwork(net('a', '10.50.0.0/16'));
    const nftBefore = runner.commands.filter((c) => c[0] === 'nft').length;
    // Straight to createNetwork, as when a concurrent create got past the controller's precheck.
    await expect(driver.createNetwork(net('b', '10.50.3.0/24'))).rejects.toMatchObject({ code: 'WEFT_ERR_POOL_OVERLAP' });
    // Old behaviour: removeNetwork ran `nft -f` deleting 10.50.3.0/24's elements, and with the same
    // subnet it took network a's masquerade element with it.
    expect(runner.commands.filter((c) => c[0] === 'nft').length).toBe(nftBefore);
    expect(links.links.has(bridgeNameOf('b'.repeat(64)))).toBe(false);
    expect((await store.get(`drivers/bridge/networks/${'b'.repeat(64)}`))).toBeUndefined();
    // The precheck refuses the same without making the bridge at all.
    const changes = links.changes.length;
    await expect(driver.precheckNetwork(net('c', '10.50.0.0/16'))).rejects.toMatchObject({ code: 'WEFT_ERR_POOL_OVERLAP', message: expect.stringContaining('subnet 10.50.0.0/16 overlaps network "a" (10.50.0.0/16)') });
    await expect(driver.precheckNetwork(net('d', '10.51.0.0/16'))).resolves.toBeUndefined();
    expect(links.changes.length).toBe(changes);
  });
});
