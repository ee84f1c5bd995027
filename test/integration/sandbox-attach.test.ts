// attachToSandbox / detachFromSandbox on the real kernel. Every test builds its own "host"
// namespace (bridge with gateway addresses, veth pairs made with Iproute2LinkOps) and sandbox
// namespaces, all thrown away afterwards; a sandbox is addressed by name (ip -n) or by the path
// /proc/PID/ns/net of a process running inside it (nsenter).

import { spawn } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ProcessRunner } from '../../src/sys/exec.js';
import { Iproute2LinkOps } from '../../src/sys/iproute2/iproute2-link-ops.js';
import { NetlinkSandbox } from '../../src/sys/netlink/netlink-sandbox.js';
import { findNetnsRelay, NetnsRelay } from '../../src/sys/netlink/netns-relay.js';
import { attachToSandbox, detachFromSandbox, findArping, type AttachRequest, type SandboxNetlink } from '../../src/sys/sandbox.js';
import { createSysctl, NetnsSysctl } from '../../src/sys/sysctl.js';
import type { SandboxRef } from '../../src/model/network.js';
import { netnsScopePerTest, type Netns } from '../helpers/netns.js';
import { killPids, run, spawned } from '../helpers/process.js';

const runner = new ProcessRunner();
const scope = netnsScopePerTest();
const pids: number[] = [];
afterEach(async () => {
  await killPids(pids.splice(0));
});

interface KLink {
  ifname: string;
  flags: string[];
  mtu: number;
  address: string;
  altnames?: string[];
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}

interface Host {
  ns: Netns;
  ops: Iproute2LinkOps;
  bridge: string;
}

/** A host namespace with a bridge carrying 10.88.0.1/24 and fd88::1/64. */
async function makeHost(): Promise<Host> {
  const ns = await scope.create();
  const ops = new Iproute2LinkOps(runner, { netns: ns.name });
  const bridge = 'wtbr0';
  // A MAC of its own: otherwise the bridge takes the lowest MAC of its ports, and a new port with
  // a lower (random) one changes it, which flushes the bridge's neighbour entries (the
  // announcement test would then find no entry to update).
  await ops.ensureBridge(bridge, { mac: '02:88:00:00:00:01' });
  await ops.ensureAddress(bridge, '10.88.0.1/24');
  await ops.ensureAddress(bridge, 'fd88::1/64', { noDad: true });
  return { ns, ops, bridge };
}

const named = (ns: Netns): SandboxRef => ({ name: ns.name, path: `/var/run/netns/${ns.name}` });

/** A veth pair on the host bridge; returns the peer's name (the link to attach). */
async function makeEndpoint(host: Host, n: number): Promise<string> {
  await host.ops.ensureVeth(`wth${n}`, `wtc${n}`, { master: host.bridge, alias: `weft:ep${n}` });
  return `wtc${n}`;
}

async function attachWith(inNs: SandboxNetlink | undefined, req: AttachRequest) {
  return attachToSandbox(runner, req, undefined, inNs);
}

function request(host: Host, src: string, sandbox: SandboxRef, over: Partial<AttachRequest> = {}): AttachRequest {
  return {
    srcName: src,
    sandbox,
    dstPrefix: 'eth',
    mac: '02:42:0a:58:00:02',
    addressV4: '10.88.0.2/24',
    addressV6: 'fd88::2/64',
    gatewayV4: '10.88.0.1',
    gatewayV6: 'fd88::1',
    staticRoutes: [],
    mtu: 1400,
    internal: false,
    hostNetns: host.ns.name,
    ...over,
  };
}

async function linksIn(ref: SandboxRef): Promise<KLink[]> {
  const r = await run(['nsenter', `--net=${ref.path}`, '--', 'ip', '-j', 'addr', 'show']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as KLink[];
}

async function routesIn(ref: SandboxRef, family: '-4' | '-6'): Promise<Array<{ dst: string; gateway?: string; dev?: string }>> {
  const r = await run(['nsenter', `--net=${ref.path}`, '--', 'ip', '-j', family, 'route', 'show']);
  return JSON.parse(r.stdout) as Array<{ dst: string; gateway?: string; dev?: string }>;
}

async function ping(ref: SandboxRef, ip: string): Promise<number> {
  const args = ip.includes(':') ? ['busybox', 'ping6'] : ['busybox', 'ping'];
  return (await run(['nsenter', `--net=${ref.path}`, '--', ...args, '-c', '1', '-W', '3', ip], { timeoutMs: 10_000 })).code;
}

/** `ip netns exec NS sleep 60`: ip execs sleep, so the child's PID is the sleeper's. */
async function sleeperIn(ns: Netns): Promise<number> {
  const argv = ['ip', 'netns', 'exec', ns.name, 'sleep', '60'];
  const proc = await spawned(spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' }), argv);
  pids.push(proc.pid);
  // Wait until the exec happened (the process is in the namespace).
  for (let i = 0; i < 100; i++) {
    const r = await run(['readlink', `/proc/${proc.pid}/ns/net`]);
    const want = await run(['stat', '-L', '-c', '%i', ns.path]);
    if (r.stdout.includes(want.stdout.trim())) return proc.pid;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error('sleeper did not enter the namespace');
}

// Both ways of configuring the sandbox: `ip -n`/nsenter (one process per attach) and netlink from
// a socket created inside the sandbox by weft's netns relay (`npm run build` builds it). One relay
// for the file, as weftd has one; ended by closing its stdin (it exits by itself then).
const relayFile = findNetnsRelay().file;
const relay = relayFile ? new NetnsRelay(relayFile) : undefined;
afterAll(() => relay?.close());
const PATHS: Array<[string, SandboxNetlink | undefined]> = [
  ['iproute2', undefined],
  ['netlink (relay)', relay ? new NetlinkSandbox(relay) : undefined],
];

it('has the netns relay for the netlink path built (npm run build)', () => {
  expect(relayFile).toBeDefined();
});

describe.each(PATHS)('%s', (_path, inNs) => {
  describe('attachToSandbox into a named namespace', () => {
    it('moves, renames to eth0, sets MAC, MTU, addresses, up, default routes; the sandbox reaches the bridge', async () => {
      const host = await makeHost();
      const sb = await scope.create();
      const src = await makeEndpoint(host, 1);
      const res = await attachWith(inNs, request(host, src, named(sb)));
      expect(res).toMatchObject({ ifName: 'eth0', defaultRouteV4: 'added', defaultRouteV6: 'added' });

      const eth0 = (await linksIn(named(sb))).find((l) => l.ifname === 'eth0');
      expect(eth0).toBeDefined();
      expect(eth0!.address).toBe('02:42:0a:58:00:02');
      expect(eth0!.mtu).toBe(1400);
      expect(eth0!.flags).toContain('UP');
      expect(eth0!.altnames ?? []).toEqual([]);
      const addrs = eth0!.addr_info!.map((a) => `${a.local}/${a.prefixlen}`);
      expect(addrs).toEqual(expect.arrayContaining(['10.88.0.2/24', 'fd88::2/64']));
      expect(await routesIn(named(sb), '-4')).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.88.0.1', dev: 'eth0' }));
      expect(await routesIn(named(sb), '-6')).toContainEqual(expect.objectContaining({ dst: 'default', gateway: 'fd88::1', dev: 'eth0' }));
      expect(await host.ops.getLink(src)).toBeUndefined();

      expect(await ping(named(sb), '10.88.0.1')).toBe(0);
      expect(await ping(named(sb), 'fd88::1')).toBe(0);
    });

    it('gives an IPv4-only endpoint no IPv6 link-local address; a dual-stack one keeps its own', async () => {
      const host = await makeHost();
      const v4only = await scope.create();
      const dual = await scope.create();
      const { addressV6: _a, gatewayV6: _g, ...v4req } = request(host, await makeEndpoint(host, 1), named(v4only));
      expect(await attachWith(inNs, v4req)).toMatchObject({ ifName: 'eth0', defaultRouteV4: 'added', defaultRouteV6: 'none' });
      await attachWith(inNs, request(host, await makeEndpoint(host, 2), named(dual), { mac: '02:42:0a:58:00:03', addressV4: '10.88.0.3/24', addressV6: 'fd88::3/64' }));
      // Link-local addresses appear once the link is up (no DAD wait for the generation itself).
      const v6Of = async (ns: Netns) => ((await linksIn(named(ns))).find((l) => l.ifname === 'eth0')?.addr_info ?? []).filter((a) => a.family === 'inet6').map((a) => a.local);
      let dualV6: string[] = [];
      for (let i = 0; i < 50 && !dualV6.some((a) => a.startsWith('fe80:')); i++) {
        dualV6 = await v6Of(dual);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(dualV6).toEqual(expect.arrayContaining(['fd88::3', expect.stringMatching(/^fe80:/)]));
      expect(await v6Of(v4only)).toEqual([]);
      expect(await ping(named(v4only), '10.88.0.1')).toBe(0);
    });

    it('names the second interface eth1 and keeps the first default route', async () => {
      const host = await makeHost();
      const sb = await scope.create();
      const first = await attachWith(inNs, request(host, await makeEndpoint(host, 1), named(sb)));
      const second = await attachWith(inNs, request(host, await makeEndpoint(host, 2), named(sb), { mac: '02:42:0a:58:00:03', addressV4: '10.88.0.3/24', addressV6: 'fd88::3/64' }));
      expect(first.ifName).toBe('eth0');
      expect(second).toMatchObject({ ifName: 'eth1', defaultRouteV4: 'kept', defaultRouteV6: 'kept' });
      const defaults = (await routesIn(named(sb), '-4')).filter((r) => r.dst === 'default');
      expect(defaults).toEqual([expect.objectContaining({ dev: 'eth0' })]);
      const eth1 = (await linksIn(named(sb))).find((l) => l.ifname === 'eth1');
      expect(eth1?.addr_info?.map((a) => a.local)).toEqual(expect.arrayContaining(['10.88.0.3', 'fd88::3']));
    });

    it('gives an internal network no default route, and adds static routes of both types', async () => {
      const host = await makeHost();
      const sb = await scope.create();
      const res = await attachWith(
        inNs,
        request(host, await makeEndpoint(host, 1), named(sb), {
          internal: true,
          staticRoutes: [
            { destination: '10.200.0.0/24', routeType: 1 },
            { destination: '10.201.0.0/24', routeType: 0, nextHop: '10.88.0.254' },
          ],
        }),
      );
      expect(res).toMatchObject({ defaultRouteV4: 'none', defaultRouteV6: 'none' });
      const v4 = await routesIn(named(sb), '-4');
      expect(v4.find((r) => r.dst === 'default')).toBeUndefined();
      expect((await routesIn(named(sb), '-6')).find((r) => r.dst === 'default')).toBeUndefined();
      expect(v4).toContainEqual(expect.objectContaining({ dst: '10.200.0.0/24', dev: 'eth0' }));
      expect(v4).toContainEqual(expect.objectContaining({ dst: '10.201.0.0/24', gateway: '10.88.0.254' }));
    });

    it('undoes a failed attach: the link is back in the host under its own name, the sandbox is unchanged', async () => {
      const host = await makeHost();
      const sb = await scope.create();
      const src = await makeEndpoint(host, 1);
      const before = (await linksIn(named(sb))).map((l) => l.ifname);
      // 10.250.0.1 is not on any link of the sandbox: the kernel refuses the route.
      const bad = request(host, src, named(sb), { staticRoutes: [{ destination: '10.251.0.0/24', routeType: 0, nextHop: '10.250.0.1' }] });
      await expect(attachWith(inNs, bad)).rejects.toMatchObject({ code: 'WEFT_ERR_COMMAND_FAILED', message: expect.stringMatching(/undone.*10\.251\.0\.0/) });
      expect((await linksIn(named(sb))).map((l) => l.ifname)).toEqual(before);
      const back = await host.ops.getLink(src);
      expect(back).toMatchObject({ name: src, up: false, peer: 'wth1' });
      // And it can be attached again afterwards.
      expect((await attachWith(inNs, request(host, src, named(sb)))).ifName).toBe('eth0');
    });

    it('attaches a peer that was born inside the sandbox without moving it', async () => {
      const host = await makeHost();
      const sb = await scope.create();
      await host.ops.ensureVeth('wth1', 'wtc1', { master: host.bridge, peerNetns: named(sb) });
      const res = await attachWith(inNs, request(host, 'wtc1', named(sb), { linkInSandbox: true }));
      expect(res.ifName).toBe('eth0');
      expect(await ping(named(sb), '10.88.0.1')).toBe(0);
    });

    // One unsolicited ARP can be lost when the machine is loaded (the announcement is best effort by
    // design), hence the retries; without any arping on the machine the test is reported as skipped.
    it('announces the new address: a stale neighbour entry on the bridge learns the new MAC', { retry: 2 }, async (ctx) => {
      // The netlink path needs no arping: the kernel announces (arp_notify and a MAC set).
      if (!inNs && !(await findArping())) ctx.skip();
      const host = await makeHost();
      // A first container keeps the bridge's carrier up (without carrier the kernel flushes the
      // bridge's neighbour entries, stale ones included, and there would be nothing to update).
      const other = await scope.create();
      await attachWith(inNs, request(host, await makeEndpoint(host, 1), named(other), { mac: '02:42:0a:58:00:05', addressV4: '10.88.0.5/24', addressV6: 'fd88::5/64' }));
      await host.ns.ip(['neigh', 'replace', '10.88.0.2', 'lladdr', '02:00:00:00:00:99', 'dev', host.bridge, 'nud', 'stale']);
      const sb = await scope.create();
      const res = await attachWith(inNs, request(host, await makeEndpoint(host, 2), named(sb)));
      expect(res.announced).toBe(true);
      const neigh = JSON.parse((await host.ns.ip(['-j', 'neigh', 'show', '10.88.0.2', 'dev', host.bridge])).stdout) as Array<{ lladdr?: string }>;
      expect(neigh[0]?.lladdr).toBe('02:42:0a:58:00:02');
    });
  });

  describe('attachToSandbox into /proc/PID/ns/net', () => {
    it('attaches by path (eth0, then eth1), and detach removes the interface on both sides', async () => {
      const host = await makeHost();
      const sb = await scope.create();
      const pid = await sleeperIn(sb);
      const ref: SandboxRef = { path: `/proc/${pid}/ns/net` };
      const a = await attachWith(inNs, request(host, await makeEndpoint(host, 1), ref));
      const b = await attachWith(inNs, request(host, await makeEndpoint(host, 2), ref, { mac: '02:42:0a:58:00:03', addressV4: '10.88.0.3/24', addressV6: 'fd88::3/64' }));
      expect([a.ifName, b.ifName]).toEqual(['eth0', 'eth1']);
      expect(await ping(ref, '10.88.0.1')).toBe(0);

      await detachFromSandbox(runner, ref, 'eth0', inNs);
      expect((await linksIn(ref)).map((l) => l.ifname)).not.toContain('eth0');
      expect(await host.ops.getLink('wth1')).toBeUndefined();
      expect(await host.ops.getLink('wth2')).toBeDefined();
      await detachFromSandbox(runner, ref, 'eth0', inNs); // gone = done

      await killPids([pid]);
      // The process is gone, and its path with it: detaching from it is done, not an error.
      await detachFromSandbox(runner, ref, 'eth1', inNs);
    });

    it('detach from a deleted named namespace is done', async () => {
      const gone: SandboxRef = { name: 'wt-gone000', path: '/var/run/netns/wt-gone000' };
      await detachFromSandbox(runner, gone, 'eth0', inNs);
    });
  });
});

describe('NetnsSysctl', () => {
  it('writes and reads sysctls inside a namespace, not in the machine', async () => {
    const ns = await scope.create();
    const host = await makeHost();
    const inside = createSysctl(runner, { netns: ns.name });
    await inside.set('net.ipv6.conf.all.forwarding', '1');
    expect(await inside.get('net.ipv6.conf.all.forwarding')).toBe('1');
    expect((await ns.exec(['cat', '/proc/sys/net/ipv6/conf/all/forwarding'])).stdout.trim()).toBe('1');
    const hostSysctl = new NetnsSysctl(runner, { name: host.ns.name, path: host.ns.path });
    await hostSysctl.set(`net.ipv4.conf.${host.bridge}.route_localnet`, '1');
    expect(await hostSysctl.get(`net.ipv4.conf.${host.bridge}.route_localnet`)).toBe('1');
    await expect(inside.get('net.ipv4.conf.nope0.forwarding')).rejects.toMatchObject({ code: 'WEFT_ERR_COMMAND_FAILED' });
    await expect(inside.set('net.ipv4.ip_forward', 'x\n1')).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_OPTION' });
  });
});
