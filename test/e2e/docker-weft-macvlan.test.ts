// weft-macvlan behind a real Docker Engine (started by the test in its own namespaces). The
// parents are veth ends born in dockerd's network namespace; their other ends sit in "outside
// LAN" namespaces that hold the router and a LAN host. Containers are real Docker containers.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalStore } from '../../src/store/local-store.js';
import { BUSYBOX_IMAGE, importBusybox } from '../helpers/busybox-image.js';
import { startDockerd, type DockerdHandle } from '../helpers/dockerd.js';
import { createVethPair, Netns, netnsScopePerFile } from '../helpers/netns.js';
import { startWeftd, type WeftdHandle } from '../helpers/weftd.js';

const RUN = ['run', '--pull', 'never'];
const SUBNET = '10.90.0.0/24';
const GATEWAY = '10.90.0.1';
const LAN_HOST = '10.90.0.10';

describe('weft-macvlan with a real Docker Engine', () => {
  const scope = netnsScopePerFile();
  let dockerd: DockerdHandle;
  let weftd: WeftdHandle;
  let lan1: Netns;
  let lan2: Netns;

  const eth0 = async (container: string): Promise<{ ip: string; mac: string }> => {
    const r = await dockerd.dockerOk(['exec', container, 'ip', '-o', 'addr', 'show', 'eth0']);
    const link = await dockerd.dockerOk(['exec', container, 'cat', '/sys/class/net/eth0/address']);
    const m = r.stdout.match(/inet (\d+\.\d+\.\d+\.\d+)\//);
    if (!m) throw new Error(`no address on eth0 of ${container}: ${r.stdout}`);
    return { ip: m[1]!, mac: link.stdout.trim() };
  };
  const ping = (container: string, ip: string) => dockerd.docker(['exec', container, 'ping', '-c', '1', '-W', '1', ip]);
  /** The IPAM's pool records, read from weftd's store as it is on disk. */
  const poolsInStore = async (): Promise<{ poolId: string; pool: string; l2domain?: string }[]> => {
    const store = await openLocalStore({ path: path.join(weftd.stateDir, 'store'), readOnly: true });
    try {
      return (await store.list<{ poolId: string; pool: string; l2domain?: string }>('ipam/pools/')).map((kv) => kv.value);
    } finally {
      await store.close();
    }
  };
  const until = async (check: () => Promise<boolean>, what: string): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const neighMac = async (ns: Netns, ip: string) => (await ns.ipJson<{ dst: string; lladdr?: string }[]>(['neigh', 'show', ip])).find((n) => n.dst === ip)?.lladdr;

  beforeAll(async () => {
    dockerd = await startDockerd();
    await importBusybox(dockerd);
    weftd = await startWeftd({ prefix: dockerd.nsenterArgv(['true']).slice(0, -1), pluginDir: dockerd.pluginDir });
    // The parent must be in dockerd's namespace (where weftd runs and Docker moves links from).
    const dockerNs = new Netns(dockerd.netnsName);
    lan1 = await scope.create();
    lan2 = await scope.create();
    await createVethPair({ ns: dockerNs, name: 'par1' }, { ns: lan1, name: 'lan', cidr: `${GATEWAY}/24` });
    await lan1.ip(['addr', 'add', `${LAN_HOST}/24`, 'dev', 'lan']);
    await createVethPair({ ns: dockerNs, name: 'par2' }, { ns: lan2, name: 'lan', cidr: `${GATEWAY}/24` });
    await lan2.ip(['addr', 'add', `${LAN_HOST}/24`, 'dev', 'lan']);
  });
  afterAll(async () => {
    await dockerd?.stop();
    await weftd?.cleanup();
  });

  it('puts two containers on the LAN: they reach each other and the LAN host, which sees their own MACs', async () => {
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-macvlan', '--ipam-driver', 'weft', '-o', 'parent=par1', '--subnet', SUBNET, '--gateway', GATEWAY, 'mv1']);
    await dockerd.dockerOk([...RUN, '-d', '--name', 'a1', '--network', 'mv1', BUSYBOX_IMAGE, 'sleep', '600']);
    await dockerd.dockerOk([...RUN, '-d', '--name', 'b1', '--network', 'mv1', '-p', '8080:80', BUSYBOX_IMAGE, 'sleep', '600']);
    const a = await eth0('a1');
    const b = await eth0('b1');
    expect((await ping('a1', b.ip)).code).toBe(0);
    expect((await ping('a1', LAN_HOST)).code).toBe(0);
    expect((await ping('b1', LAN_HOST)).code).toBe(0);
    expect(await neighMac(lan1, a.ip)).toBe(a.mac);
    expect(await neighMac(lan1, b.ip)).toBe(b.mac);
    const route = await dockerd.dockerOk(['exec', 'a1', 'ip', 'route', 'show', 'default']);
    expect(route.stdout).toContain(`default via ${GATEWAY}`);
    // -p does not apply: ignored with a warning, as Docker's own macvlan driver does.
    expect(weftd.log()).toContain('port publishing does not apply to macvlan networks');
    // The links went through the daemon's one LinkOps (netlink here, where the package loads).
    expect(weftd.log()).toMatch(/"implementation":"netlink"[^\n]*"link operations"/);
  });

  it('takes the same subnet on another parent with no extra option, never on the same parent', async () => {
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-macvlan', '--ipam-driver', 'weft', '-o', 'parent=par2', '--subnet', SUBNET, '--gateway', GATEWAY, 'mv2']);
    await dockerd.dockerOk([...RUN, '-d', '--name', 'c2', '--network', 'mv2', BUSYBOX_IMAGE, 'sleep', '600']);
    const c = await eth0('c2');
    // Its own pool (another PoolID): the first free address again, the one a1 has on the other LAN.
    expect(c.ip).toBe((await eth0('a1')).ip);
    expect((await ping('c2', LAN_HOST)).code).toBe(0);
    expect(await neighMac(lan2, c.ip)).toBe(c.mac);
    expect((await ping('a1', LAN_HOST)).code).toBe(0);
    expect(await neighMac(lan1, c.ip)).toBe((await eth0('a1')).mac);
    const pools = await poolsInStore();
    expect(pools.filter((p) => p.pool === SUBNET).map((p) => p.l2domain).sort()).toEqual(['par1', 'par2']);

    // The same parent: refused by the driver's precheck before Docker's pool is bound (the IPAM's
    // bind would refuse it too), and Docker's ReleasePool leaves no pool behind.
    const same = await dockerd.docker(['network', 'create', '-d', 'weft-macvlan', '--ipam-driver', 'weft', '-o', 'parent=par1', '--subnet', '10.90.0.128/25', 'mv3']);
    expect(same.code).not.toBe(0);
    expect(same.stderr).toMatch(/subnet 10\.90\.0\.128\/25 overlaps 10\.90\.0\.0\/24 of macvlan network "docker-[0-9a-f]{12}" on the same L2 domain \(par1\).*WEFT_ERR_POOL_OVERLAP/);
    await until(async () => !(await poolsInStore()).some((p) => p.pool === '10.90.0.128/25'), 'the refused network\'s pool to be released');
    // weft.l2domain is still accepted; whatever the IPAM is told, the driver sees the same parent.
    const told = await dockerd.docker([
      'network', 'create', '-d', 'weft-macvlan', '--ipam-driver', 'weft', '--ipam-opt', 'weft.l2domain=elsewhere',
      '-o', 'parent=par1', '--subnet', '10.90.0.128/25', 'mv3',
    ]);
    expect(told.code).not.toBe(0);
    expect(told.stderr).toMatch(/overlaps 10\.90\.0\.0\/24 of macvlan network .* same L2 domain \(par1\)/);
    const missing = await dockerd.docker(['network', 'create', '-d', 'weft-macvlan', '--subnet', '10.91.0.0/24', 'mv4']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('-o parent=IFACE');
    await until(async () => (await poolsInStore()).length === 2, 'only the pools of mv1 and mv2 to be left');

    // The host's routing domain keeps its check: a bridge subnet twice is refused, naming the first.
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.92.0.0/24', 'br1']);
    const twice = await dockerd.docker(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.92.0.0/25', 'br2']);
    expect(twice.code).not.toBe(0);
    expect(twice.stderr).toMatch(/subnet 10\.92\.0\.0\/25 overlaps network "docker-[0-9a-f]{12}" \(10\.92\.0\.0\/24\)/);
    await dockerd.dockerOk(['network', 'rm', 'br1']);
    await until(async () => (await poolsInStore()).length === 2, 'the bridge pools to be released');
  });

  it('removes its links with the containers and networks', async () => {
    await dockerd.dockerOk(['rm', '-f', 'a1', 'b1', 'c2']);
    await dockerd.dockerOk(['network', 'rm', 'mv1', 'mv2']);
    const links = (await dockerd.execInside(['ip', '-o', 'link', 'show'])).stdout;
    expect(links).not.toMatch(/\bwf[vs]/);
    expect(JSON.parse(await weftd.cliOk(['network', 'ls', '--format', 'json']))).toEqual([]);
    await until(async () => (await poolsInStore()).length === 0, 'every pool to be released');
  });
});
