// The macvlan driver through weft's own CLI, on the real kernel. weftd runs in a "host" namespace;
// its parent interfaces are one end of veth pairs whose other ends sit in "outside LAN"
// namespaces, each holding the LAN's router (the gateway) and a LAN host address. Two LANs give
// two L2 domains. Containers are plain namespaces; traffic is real (busybox ping).

import { beforeAll, describe, expect, it } from 'vitest';
import { createVethPair, netnsScopePerFile, type Netns } from '../helpers/netns.js';
import { dumpDiff, dumpLocalStore } from '../helpers/weft-wire.js';
import { startWeftdInNetns, type WeftdHandle } from '../helpers/weftd.js';

const SUBNET = '10.80.0.0/24';
const GATEWAY = '10.80.0.1';
const LAN_HOST = '10.80.0.10';

describe('macvlan driver through the weft CLI', () => {
  const scope = netnsScopePerFile();
  let host: Netns;
  let lan1: Netns;
  let lan2: Netns;
  let weftd: WeftdHandle;

  const ping = (ns: Netns, ip: string) => ns.exec(['busybox', 'ping', '-c', '1', '-W', '1', ip]);
  const container = async (net: string, extra: string[] = []) => {
    const ns = await scope.create();
    const ep = JSON.parse(await weftd.cliOk(['network', 'connect', '--format', 'json', ...extra, net, ns.name]));
    return { ns, ep, ip: (ep.ipv4 as string).split('/')[0]!, mac: ep.mac as string };
  };
  /** A failing create: the code of the error and its message. */
  const refused = async (args: string[]) => {
    const r = await weftd.cli(['network', 'create', ...args]);
    expect(r.code, r.stdout).not.toBe(0);
    return r.stderr;
  };
  const neighMac = async (ns: Netns, ip: string) => (await ns.ipJson<{ dst: string; lladdr?: string }[]>(['neigh', 'show', ip])).find((n) => n.dst === ip)?.lladdr;
  const hostLinks = async () => (await host.ipJson<{ ifname: string }[]>(['link', 'show'])).map((l) => l.ifname).sort();

  beforeAll(async () => {
    host = await scope.create();
    lan1 = await scope.create();
    lan2 = await scope.create();
    // Each LAN: the router and a LAN host on the far end of the parent's wire. Both LANs use the
    // same subnet (two L2 domains); LAN 1 also carries a second subnet for the private-mode test.
    await createVethPair({ ns: host, name: 'par1' }, { ns: lan1, name: 'lan', cidr: `${GATEWAY}/24` });
    await lan1.ip(['addr', 'add', `${LAN_HOST}/24`, 'dev', 'lan']);
    await lan1.ip(['addr', 'add', '10.81.0.10/24', 'dev', 'lan']);
    await createVethPair({ ns: host, name: 'par2' }, { ns: lan2, name: 'lan', cidr: `${GATEWAY}/24` });
    await lan2.ip(['addr', 'add', `${LAN_HOST}/24`, 'dev', 'lan']);
    weftd = await startWeftdInNetns(scope, host);
  });

  it('puts containers on the LAN with their own MACs: they reach each other, the LAN host and the router', async () => {
    await weftd.cliOk(['network', 'create', '-d', 'macvlan', '-o', 'parent=par1', '--subnet', SUBNET, '--gateway', GATEWAY, 'm1']);
    const a = await container('m1');
    const b = await container('m1');
    expect(a.ep.ifName).toBe('eth0');
    expect((await a.ns.linkNames()).sort()).toEqual(['eth0', 'lo']);
    const [eth0] = await a.ns.ipJson<{ linkinfo?: { info_kind?: string } }[]>(['-d', 'link', 'show', 'eth0']);
    expect(eth0!.linkinfo?.info_kind).toBe('macvlan');
    expect((await ping(a.ns, b.ip)).code).toBe(0);
    expect((await ping(a.ns, LAN_HOST)).code).toBe(0);
    expect((await ping(b.ns, LAN_HOST)).code).toBe(0);
    // The LAN sees each container under its own MAC, not the parent's.
    expect(await neighMac(lan1, a.ip)).toBe(a.mac);
    expect(await neighMac(lan1, b.ip)).toBe(b.mac);
    expect(a.mac).not.toBe(b.mac);
    // The gateway is the LAN's router: the default route points there, and nothing of it is on the host.
    const [route] = await a.ns.ipJson<{ gateway?: string }[]>(['route', 'show', 'default']);
    expect(route?.gateway).toBe(GATEWAY);
    const hostAddrs = JSON.stringify(await host.ipJson(['addr', 'show']));
    expect(hostAddrs).not.toContain(GATEWAY);
  });

  it('accepts the same subnet on another parent (another L2 domain), refuses an overlap on the same parent', async () => {
    await weftd.cliOk(['network', 'create', '-d', 'macvlan', '-o', 'parent=par2', '--subnet', SUBNET, '--gateway', GATEWAY, 'm2']);
    const c = await container('m2', ['--ip', '10.80.0.50']);
    expect((await ping(c.ns, LAN_HOST)).code).toBe(0);
    expect(await neighMac(lan2, c.ip)).toBe(c.mac);
    // Each LAN only ever saw its own containers.
    expect(await neighMac(lan1, c.ip)).toBeUndefined();
    expect(await refused(['-d', 'macvlan', '-o', 'parent=par1', '--subnet', '10.80.0.128/25', 'm2b'])).toMatch(/WEFT_ERR_POOL_OVERLAP/);
  });

  it('private mode blocks container-to-container traffic, not the LAN', async () => {
    await weftd.cliOk(['network', 'create', '-d', 'macvlan', '-o', 'parent=par1', '-o', 'macvlan_mode=private', '--subnet', '10.81.0.0/24', 'm3']);
    const a = await container('m3');
    const b = await container('m3');
    expect((await ping(a.ns, '10.81.0.10')).code).toBe(0);
    expect((await ping(a.ns, b.ip)).code).not.toBe(0);
  });

  it('host_access=true lets the host reach its containers through a shim; without it the host cannot', async () => {
    await weftd.cliOk(['network', 'create', '-d', 'macvlan', '-o', 'parent=par1', '-o', 'host_access=true', '--subnet', '10.82.0.0/24', 'm4']);
    const c = await container('m4');
    expect((await ping(host, c.ip)).code).toBe(0);
    // A lost shim comes back with the next start of weftd (restore from the driver's record).
    const [m4] = JSON.parse(await weftd.cliOk(['network', 'inspect', 'm4']));
    await host.ip(['link', 'del', `wfs${m4.id.slice(0, 12)}`]);
    expect((await ping(host, c.ip)).code).not.toBe(0);
    await weftd.kill9();
    await weftd.start();
    expect((await ping(host, c.ip)).code).toBe(0);
    const without = await container('m1');
    expect((await ping(host, without.ip)).code).not.toBe(0);
    await weftd.cliOk(['network', 'disconnect', 'm4', c.ns.name]);
    const [net] = JSON.parse(await weftd.cliOk(['network', 'inspect', 'm4']));
    await weftd.cliOk(['network', 'rm', 'm4']);
    expect(await hostLinks()).not.toContain(`wfs${net.id.slice(0, 12)}`);
    expect(JSON.stringify(await host.ipJson(['route', 'show']))).not.toContain('10.82.0.');
  });

  it('--internal without a parent: a host-only L2 domain, no default route', async () => {
    await weftd.cliOk(['network', 'create', '-d', 'macvlan', '--internal', '--subnet', '10.83.0.0/24', 'm5']);
    const a = await container('m5');
    const b = await container('m5');
    expect((await ping(a.ns, b.ip)).code).toBe(0);
    expect(await a.ns.ipJson<unknown[]>(['route', 'show', 'default'])).toEqual([]);
  });

  it('ignores --publish with a warning', async () => {
    const c = await container('m1', ['--publish', '8080:80']);
    expect(c.ep.published ?? []).toEqual([]);
    expect(weftd.log()).toContain('port publishing does not apply to macvlan networks');
  });

  it('refuses the loopback and a link weft made as parent at create time (not at the first connect), changing nothing', async () => {
    const before = await dumpLocalStore(weftd.stateDir);
    const links = await hostLinks();
    const mv = ['-d', 'macvlan', '--subnet', '10.78.0.0/24'];
    // The kernel takes no macvlan on lo ("RTNETLINK answers: Invalid argument"), which weft used to
    // find out only when the first container connected.
    expect(await refused([...mv, '-o', 'parent=lo', 'onlo'])).toMatch(/parent lo is the loopback device.*WEFT_ERR_PARENT_UNUSABLE/);
    expect(await refused(['-d', 'macvlan', '-o', 'parent=lo', 'onlo'])).toMatch(/WEFT_ERR_PARENT_UNUSABLE/);
    // Nothing was written, not even a pool taken and given back: the store's revision is the same.
    expect(dumpDiff(before, await dumpLocalStore(weftd.stateDir))).toEqual([]);
    expect(await hostLinks()).toEqual(links);
    // A bridge network's bridge belongs to that network: no parent for a macvlan network.
    await weftd.cliOk(['network', 'create', '-o', 'bridge=wtbrx', '--subnet', '10.79.0.0/24', 'brx']);
    expect(await refused([...mv, '-o', 'parent=wtbrx', 'onbr'])).toMatch(/parent wtbrx is a link weft made for object.*WEFT_ERR_PARENT_UNUSABLE/);
    await weftd.cliOk(['network', 'rm', 'brx']);
    const names = JSON.parse(await weftd.cliOk(['network', 'ls', '--format', 'json'])).map((n: { name: string }) => n.name);
    expect(names.filter((n: string) => n.startsWith('on') || n === 'brx')).toEqual([]);
  });

  it('refuses bad input at create time, changing nothing', async () => {
    const before = await hostLinks();
    const mv = ['-d', 'macvlan', '--subnet', '10.84.0.0/24'];
    expect(await refused([...mv, 'bad'])).toMatch(/needs a parent interface.*WEFT_ERR_INVALID_OPTION/);
    expect(await refused([...mv, '-o', 'parent=par1', '-o', 'macvlan_mode=source', 'bad'])).toMatch(/use one of bridge, private, vepa, passthru/);
    expect(await refused([...mv, '-o', 'parent=par1.0', 'bad'])).toMatch(/VLAN id 0 is out of range/);
    expect(await refused([...mv, '-o', 'parent=par1.4095', 'bad'])).toMatch(/VLAN id 4095 is out of range/);
    expect(await refused([...mv, '-o', 'parent=nosuch0', 'bad'])).toMatch(/parent nosuch0 does not exist.*WEFT_ERR_PARENT_UNUSABLE/);
    // A down parent and a bridge port.
    const lan3 = await scope.create();
    await createVethPair({ ns: host, name: 'par3' }, { ns: lan3, name: 'lan' });
    await host.ip(['link', 'set', 'par3', 'down']);
    expect(await refused([...mv, '-o', 'parent=par3', 'bad'])).toMatch(/parent par3 is down.*WEFT_ERR_PARENT_UNUSABLE/);
    await host.ip(['link', 'add', 'wt-br', 'type', 'bridge']);
    await host.ip(['link', 'set', 'par3', 'master', 'wt-br', 'up']);
    expect(await refused([...mv, '-o', 'parent=par3', 'bad'])).toMatch(/par3 is a port of wt-br/);
    await host.ip(['link', 'set', 'par3', 'nomaster']);
    // passthru owns its parent alone.
    await weftd.cliOk(['network', 'create', '-d', 'macvlan', '-o', 'parent=par3', '-o', 'macvlan_mode=passthru', '--subnet', '10.85.0.0/24', 'pt1']);
    expect(await refused(['-d', 'macvlan', '-o', 'parent=par3', '-o', 'macvlan_mode=passthru', '--subnet', '10.86.0.0/24', 'pt2'])).toMatch(/WEFT_ERR_PARENT_IN_USE/);
    expect(await refused(['-d', 'macvlan', '-o', 'parent=par3', '--subnet', '10.86.0.0/24', 'pt3'])).toMatch(/taken by passthru network "pt1".*WEFT_ERR_PARENT_IN_USE/);
    // ... and its one endpoint: a second connect is refused by weft, before the kernel is asked.
    const p1 = await scope.create();
    const p2 = await scope.create();
    await weftd.cliOk(['network', 'connect', 'pt1', p1.name]);
    const second = await weftd.cli(['network', 'connect', 'pt1', p2.name]);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/passthru mode.*WEFT_ERR_PARENT_IN_USE/);
    expect(await p2.linkNames()).toEqual(['lo']);
    await weftd.cliOk(['network', 'disconnect', 'pt1', p1.name]);
    await weftd.cliOk(['network', 'connect', 'pt1', p2.name]);
    await weftd.cliOk(['network', 'disconnect', 'pt1', p2.name]);
    await weftd.cliOk(['network', 'rm', 'pt1']);
    await host.ip(['link', 'del', 'wt-br']);
    const names = JSON.parse(await weftd.cliOk(['network', 'ls', '--format', 'json'])).map((n: { name: string }) => n.name);
    expect(names.filter((n: string) => n.startsWith('bad') || n.startsWith('pt'))).toEqual([]);
    expect((await hostLinks()).filter((l) => l.startsWith('wf'))).toEqual(before.filter((l) => l.startsWith('wf')));
  });

  it('a VLAN parent: refused with a clear error on a kernel without 802.1q, else created and removed with its network', async () => {
    const r = await weftd.cli(['network', 'create', '-d', 'macvlan', '-o', 'parent=par1.30', '--subnet', '10.87.0.0/24', 'v30']);
    const probe = await host.exec(['ip', 'link', 'add', 'link', 'par2', 'name', 'wt-vprobe', 'type', 'vlan', 'id', '31']);
    if (probe.code !== 0) {
      expect(probe.stderr).toMatch(/Unknown device type/);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/lacks 802\.1q VLAN support.*WEFT_ERR_KERNEL_UNSUPPORTED/);
      expect(await hostLinks()).not.toContain('par1.30');
      return;
    }
    // A kernel with 802.1q (the Vagrant VMs after `modprobe 8021q`): the outside LAN answers only
    // on VLAN 30, so a reply proves the frames left tagged with id 30.
    await host.ip(['link', 'del', 'wt-vprobe']);
    expect(r.code, r.stderr).toBe(0);
    const [vlan] = await host.ipJson<{ alias?: string; ifalias?: string; linkinfo: { info_data: { id: number } } }[]>(['-d', 'link', 'show', 'par1.30']);
    expect(vlan!.linkinfo.info_data.id).toBe(30);
    await lan1.ip(['link', 'add', 'link', 'lan', 'name', 'lan.30', 'type', 'vlan', 'id', '30']);
    await lan1.ip(['addr', 'add', '10.87.0.1/24', 'dev', 'lan.30']);
    await lan1.ip(['link', 'set', 'lan.30', 'up']);
    const c = await container('v30');
    expect((await ping(c.ns, '10.87.0.1')).code).toBe(0);
    expect(await neighMac(lan1, c.ip)).toBe(c.mac);
    // A second network on the same VLAN shares the link; it goes with the last of them.
    await weftd.cliOk(['network', 'create', '-d', 'macvlan', '-o', 'parent=par1.30', '--subnet', '10.89.0.0/24', 'v30b']);
    await weftd.cliOk(['network', 'disconnect', 'v30', c.ns.name]);
    await weftd.cliOk(['network', 'rm', 'v30']);
    expect(await hostLinks()).toContain('par1.30');
    await weftd.cliOk(['network', 'rm', 'v30b']);
    expect(await hostLinks()).not.toContain('par1.30');
    await lan1.ip(['link', 'del', 'lan.30']);
  });

  it('leaves no wf link behind after disconnect and rm', async () => {
    await weftd.cliOk(['network', 'create', '-d', 'macvlan', '-o', 'parent=par2', '--subnet', '10.88.0.0/24', 'm9']);
    const before = await hostLinks();
    const c = await container('m9');
    await weftd.cliOk(['network', 'disconnect', 'm9', c.ns.name]);
    expect((await c.ns.linkNames()).sort()).toEqual(['lo']);
    await weftd.cliOk(['network', 'rm', 'm9']);
    expect(await hostLinks()).toEqual(before);
  });
});
