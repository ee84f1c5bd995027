// weft as a plugin of a real Docker Engine (Debian's docker.io, started by the test in its own
// network and mount namespace): weft's IPAM behind Docker's own bridge driver, the weft-none
// driver, restarts of weftd between containers, and bad requests on the plugin sockets.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalStore } from '../../src/store/local-store.js';
import { BUSYBOX_IMAGE, importBusybox } from '../helpers/busybox-image.js';
import { startDockerd, type DockerdHandle } from '../helpers/dockerd.js';
import { pluginCall } from '../helpers/weft-docker.js';
import { startWeftd, type WeftdHandle } from '../helpers/weftd.js';

const RUN = ['run', '--pull', 'never'];

async function storeDump(weftd: WeftdHandle): Promise<string> {
  const store = await openLocalStore({ path: path.join(weftd.stateDir, 'store'), readOnly: true });
  try {
    return JSON.stringify(await store.list(''));
  } finally {
    await store.close();
  }
}

describe('weft with a real Docker Engine', () => {
  let dockerd: DockerdHandle;
  let weftd: WeftdHandle;

  const eth0Addr = async (container: string): Promise<string> => {
    const r = await dockerd.dockerOk(['exec', container, 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
    const m = r.stdout.match(/inet (\S+)/);
    if (!m) throw new Error(`no address on eth0 of ${container}: ${r.stdout}`);
    return m[1]!;
  };

  beforeAll(async () => {
    dockerd = await startDockerd();
    await importBusybox(dockerd);
    weftd = await startWeftd({ prefix: dockerd.nsenterArgv(['true']).slice(0, -1), pluginDir: dockerd.pluginDir });
  });
  afterAll(async () => {
    // Containers first (they hold endpoints), then the daemons.
    await dockerd?.stop();
    await weftd?.cleanup();
  });

  it("gives Docker's own bridge networks their addresses from weft's IPAM, honours --ip and releases the pool on rm", async () => {
    await dockerd.dockerOk(['network', 'create', '--ipam-driver', 'weft', '--subnet', '10.31.0.0/24', 'n1']);
    const inspect = JSON.parse((await dockerd.dockerOk(['network', 'inspect', 'n1'])).stdout)[0];
    expect(inspect.IPAM.Driver).toBe('weft');
    expect(inspect.IPAM.Config[0].Subnet).toBe('10.31.0.0/24');
    // Docker's inspect shows only the configured gateway; the one weft allocated is the route out.
    const route = await dockerd.dockerOk([...RUN, '--rm', '--network', 'n1', BUSYBOX_IMAGE, 'ip', 'route', 'show', 'default']);
    expect(route.stdout).toContain('default via 10.31.0.1');

    const auto = await dockerd.dockerOk([...RUN, '--rm', '--network', 'n1', BUSYBOX_IMAGE, 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
    // Addresses go round robin like Docker's (the route check above took .2): not the gateway, in the pool.
    expect(auto.stdout).toMatch(/inet 10\.31\.0\.(?:[3-9]|[1-9]\d+)\/24/);
    const pinned = await dockerd.dockerOk([...RUN, '--rm', '--network', 'n1', '--ip', '10.31.0.50', BUSYBOX_IMAGE, 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
    expect(pinned.stdout).toContain('inet 10.31.0.50/24');

    // An overlapping subnet shares the host's routing domain: refused, naming the pool.
    const overlap = await dockerd.docker(['network', 'create', '--ipam-driver', 'weft', '--subnet', '10.31.0.0/25', 'n1b']);
    expect(overlap.code).not.toBe(0);
    expect(overlap.stderr).toContain('10.31.0.0/24');

    await dockerd.dockerOk(['network', 'rm', 'n1']);
    // The pool was released: the same subnet can be created again.
    await dockerd.dockerOk(['network', 'create', '--ipam-driver', 'weft', '--subnet', '10.31.0.0/24', 'n1c']);
    await dockerd.dockerOk(['network', 'rm', 'n1c']);
  });

  it('runs a container on a weft-none network with only loopback', async () => {
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-none', 'n2']);
    const r = await dockerd.dockerOk([...RUN, '--rm', '--network', 'n2', BUSYBOX_IMAGE, 'ip', '-o', 'link']);
    const links = r.stdout.trim().split('\n').map((l) => l.split(':')[1]!.trim());
    expect(links).toEqual(['lo']);
    const nets = JSON.parse(await weftd.cliOk(['network', 'ls', '--format', 'json']));
    expect(nets.some((n: { driver: string; origin: string }) => n.driver === 'none' && n.origin === 'docker')).toBe(true);
    await dockerd.dockerOk(['network', 'rm', 'n2']);
  });

  it('refuses weft-host through Docker with a message pointing at --network host', async () => {
    const r = await dockerd.docker(['network', 'create', '-d', 'weft-host', 'h1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--network host');
  });

  it('hands out no duplicate address when weftd is killed and restarted between two docker runs', async () => {
    await dockerd.dockerOk(['network', 'create', '--ipam-driver', 'weft', '--subnet', '10.31.5.0/24', 'n5']);
    await dockerd.dockerOk([...RUN, '-d', '--name', 'a5', '--network', 'n5', BUSYBOX_IMAGE, 'sleep', '600']);
    const first = await eth0Addr('a5');
    await weftd.kill9();
    await weftd.start();
    await dockerd.dockerOk([...RUN, '-d', '--name', 'b5', '--network', 'n5', BUSYBOX_IMAGE, 'sleep', '600']);
    const second = await eth0Addr('b5');
    expect(second).not.toBe(first);
    await dockerd.dockerOk(['rm', '-f', 'a5', 'b5']);
    await dockerd.dockerOk(['network', 'rm', 'n5']);
  });

  it('fills a /29, survives SIGKILL, and gives the one released address back exactly, then reports exhaustion', async () => {
    await dockerd.dockerOk(['network', 'create', '--ipam-driver', 'weft', '--subnet', '10.31.9.0/29', 'n29']);
    const addrs: string[] = [];
    for (let i = 0; i < 5; i++) {
      await dockerd.dockerOk([...RUN, '-d', '--name', `f${i}`, '--network', 'n29', BUSYBOX_IMAGE, 'sleep', '600']);
      addrs.push(await eth0Addr(`f${i}`));
    }
    expect(new Set(addrs).size).toBe(5);
    const full = await dockerd.docker([...RUN, '-d', '--name', 'f5', '--network', 'n29', BUSYBOX_IMAGE, 'sleep', '600']);
    expect(full.code).not.toBe(0);
    expect(full.stderr).toContain('pool 10.31.9.0/29 is exhausted: 6 of 6 usable addresses in use');
    await dockerd.docker(['rm', '-f', 'f5']);

    await weftd.kill9();
    await weftd.start();
    // Release one in the middle; a counter-based allocator would not hand this one back next.
    await dockerd.dockerOk(['rm', '-f', 'f2']);
    await dockerd.dockerOk([...RUN, '-d', '--name', 'g1', '--network', 'n29', BUSYBOX_IMAGE, 'sleep', '600']);
    expect(await eth0Addr('g1')).toBe(addrs[2]);
    const again = await dockerd.docker([...RUN, '-d', '--name', 'g2', '--network', 'n29', BUSYBOX_IMAGE, 'sleep', '600']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('pool 10.31.9.0/29 is exhausted: 6 of 6 usable addresses in use');
    await dockerd.docker(['rm', '-f', 'g2']);
    await dockerd.dockerOk(['rm', '-f', 'f0', 'f1', 'f3', 'f4', 'g1']);
    await dockerd.dockerOk(['network', 'rm', 'n29']);
  });

  it('answers malformed plugin requests with HTTP 500 and a clear Err, and changes nothing in the store', async () => {
    await dockerd.dockerOk(['network', 'create', '--ipam-driver', 'weft', '--subnet', '10.31.7.0/24', 'n7']);
    const ipam = dockerd.pluginSocket('weft');
    const none = dockerd.pluginSocket('weft-none');
    const pools = JSON.parse((await pluginCall(ipam, 'IpamDriver.RequestPool', JSON.stringify({ AddressSpace: 'local', Pool: '10.31.8.0/24', SubPool: '', Options: {}, V6: false }))).body);
    const before = await storeDump(weftd);

    const id = 'a'.repeat(64);
    const cases: [string, string, string, RegExp][] = [
      [ipam, 'IpamDriver.RequestPool', '{"AddressSpace": "local", "Pool": ', /not valid JSON|invalid/i],
      [ipam, 'IpamDriver.RequestPool', JSON.stringify({ Pool: '10.40.0.0/24', V6: false }), /address space/],
      [ipam, 'IpamDriver.RequestPool', JSON.stringify({ AddressSpace: 'local', Pool: 42, V6: false }), /Pool/],
      [ipam, 'IpamDriver.RequestPool', JSON.stringify({ AddressSpace: 'local', Pool: '10.40.0.300/24', V6: false }), /10\.40\.0\.300/],
      [ipam, 'IpamDriver.RequestPool', JSON.stringify({ AddressSpace: 'local', Pool: '10.31.7.128/25', V6: false }), /overlaps.*10\.31\.7\.0\/24/],
      [ipam, 'IpamDriver.RequestAddress', JSON.stringify({ PoolID: pools.PoolID, Address: '10.99.0.5', Options: null }), /10\.99\.0\.5/],
      [none, 'NetworkDriver.CreateNetwork', JSON.stringify({ NetworkID: id, Options: { 'com.docker.network.generic': { 'com.docker.network.bridge.name': 'a-very-long-ifname' } }, IPv4Data: [], IPv6Data: [] }), /interface name/],
      [none, 'NetworkDriver.CreateEndpoint', JSON.stringify({ NetworkID: id, EndpointID: 'not-hex', Interface: {} }), /EndpointID/],
      [none, 'NetworkDriver.Join', JSON.stringify({ NetworkID: id }), /EndpointID|SandboxKey/],
    ];
    for (const [sock, method, body, msg] of cases) {
      const r = await pluginCall(sock, method, body);
      expect(r.status, `${method} ${body}`).toBe(500);
      const err = JSON.parse(r.body).Err as string;
      expect(err, `${method} ${body}`).toMatch(msg);
    }
    expect(await storeDump(weftd)).toBe(before);
    await pluginCall(ipam, 'IpamDriver.ReleasePool', JSON.stringify({ PoolID: pools.PoolID }));
    await dockerd.dockerOk(['network', 'rm', 'n7']);
  });
});
