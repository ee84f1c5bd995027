// NftFirewall against the real kernel, proven with real traffic. The test builds, inside
// throw-away namespaces, what the bridge driver would: a "host" namespace with four bridges
// (plain, no masquerade, icc off, internal), "container" namespaces on veths, and an "upstream"
// namespace on a veth from the host. nft, iptables and conntrack run inside the host namespace
// (NftFirewall gets a runner that prefixes `ip netns exec HOST`). Servers are busybox httpd with a
// CGI that answers "<server name> <client address as the server saw it>".

import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessRunner, type CommandRunner, type RunOptions, type RunResult } from '../../src/sys/exec.js';
import type { FirewallNetwork, FirewallPortMapping, FirewallState } from '../../src/sys/firewall.js';
import { parseNftTable, ruleCount } from '../../src/sys/nftables/listing.js';
import { NftFirewall } from '../../src/sys/nftables/nft-firewall.js';
import { applySysctls, firewallSysctls } from '../../src/sys/nftables/sysctls.js';
import { createSysctl } from '../../src/sys/sysctl.js';
import { createVethPair, netnsScopePerFile, uniqueName, type Netns } from '../helpers/netns.js';
import { killPids, spawnLogged } from '../helpers/process.js';
import { LISTED_STATE } from '../golden/nftables/states.js';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), '../golden/nftables');

/** Runs every command inside one namespace, as weftd would run in its own. */
class NetnsRunner implements CommandRunner {
  private readonly inner = new ProcessRunner();
  constructor(readonly ns: string) {}
  run(argv: string[], opts?: RunOptions): Promise<RunResult> {
    return this.inner.run(['ip', 'netns', 'exec', this.ns, ...argv], opts);
  }
}

const silent = pino({ level: 'silent' });

const NET_A: FirewallNetwork = { id: 'a0', bridge: 'wfa', subnetsV4: ['10.77.1.0/24'], subnetsV6: ['fd77:1::/64'], icc: true, masquerade: true, masqueradeV6: false, internal: false };
const NET_B: FirewallNetwork = { id: 'b0', bridge: 'wfb', subnetsV4: ['10.77.2.0/24'], subnetsV6: [], icc: true, masquerade: false, masqueradeV6: false, internal: false };
const NET_C: FirewallNetwork = { id: 'c0', bridge: 'wfc', subnetsV4: ['10.77.3.0/24'], subnetsV6: ['fd77:3::/64'], icc: false, masquerade: true, masqueradeV6: true, internal: false };
const NET_I: FirewallNetwork = { id: 'd0', bridge: 'wfi', subnetsV4: ['10.77.4.0/24'], subnetsV6: [], icc: true, masquerade: true, masqueradeV6: false, internal: true };

const HOST_V4 = '172.31.250.1';
const UP_V4 = '172.31.250.2';
const HOST_V6 = 'fd77:f::1';
const UP_V6 = 'fd77:f::2';

const P_ANY: FirewallPortMapping = { networkId: 'a0', proto: 'tcp', family: 4, hostIp: '', hostPort: 8080, containerIp: '10.77.1.2', containerPort: 80 };
const P_LOCAL: FirewallPortMapping = { networkId: 'a0', proto: 'tcp', family: 4, hostIp: '127.0.0.1', hostPort: 8081, containerIp: '10.77.1.2', containerPort: 80 };
const P_V6: FirewallPortMapping = { networkId: 'a0', proto: 'tcp', family: 6, hostIp: HOST_V6, hostPort: 8080, containerIp: 'fd77:1::2', containerPort: 80 };
const P_NOICC: FirewallPortMapping = { networkId: 'c0', proto: 'tcp', family: 4, hostIp: '', hostPort: 8083, containerIp: '10.77.3.3', containerPort: 80 };
const P_UDP: FirewallPortMapping = { networkId: 'a0', proto: 'udp', family: 4, hostIp: '', hostPort: 5353, containerIp: '10.77.1.2', containerPort: 53 };

const BASE: FirewallState = { networks: [NET_A, NET_B, NET_C, NET_I], ports: [P_ANY, P_LOCAL, P_V6, P_NOICC, P_UDP] };

async function ping(from: Netns, ip: string): Promise<boolean> {
  const r = await from.exec(['busybox', 'ping', '-c', '1', '-W', '1', ip], { timeoutMs: 5_000 });
  return r.code === 0;
}

/** The CGI's answer, or undefined when the request fails (busybox wget -T crashes here: coreutils timeout instead). */
async function http(from: Netns, hostPort: string): Promise<string | undefined> {
  const r = await from.exec(['timeout', '2', 'busybox', 'wget', '-q', '-O', '-', `http://${hostPort}/cgi-bin/id`], { timeoutMs: 5_000 });
  // httpd writes the client as "[::ffff:10.0.0.1]" or "[fd00::1]": keep the bare address.
  return r.code === 0 ? r.stdout.trim().replace(/\[(?:::ffff:)?([^\]]+)\]/, '$1') : undefined;
}

async function until(ok: () => Promise<boolean>, tries = 10): Promise<void> {
  for (let i = 0; i < tries; i++) if (await ok()) return;
  throw new Error('the test network did not come up');
}

describe('NftFirewall on the real kernel', () => {
  const scope = netnsScopePerFile();
  const table = `wft_${uniqueName('').replace(/-/g, '')}`;
  const pids: number[] = [];
  let dir: string;
  let host: Netns;
  let up: Netns;
  let runner: NetnsRunner;
  let fw: NftFirewall;
  const c: Record<'a1' | 'a2' | 'b1' | 'c1' | 'c2' | 'i1', Netns> = {} as never;

  async function bridge(name: string, v4: string, v6?: string): Promise<void> {
    await host.ip(['link', 'add', name, 'type', 'bridge', 'mcast_snooping', '0']);
    await host.ip(['addr', 'add', v4, 'dev', name]);
    if (v6) await host.ip(['-6', 'addr', 'add', v6, 'dev', name, 'nodad']);
    await host.ip(['link', 'set', name, 'up']);
  }

  async function container(br: string, v4: string, gw4: string, v6?: string, gw6?: string): Promise<Netns> {
    const ns = await scope.create();
    const hostEnd = uniqueName('wv');
    await createVethPair({ ns, name: 'eth0' }, { ns: host, name: hostEnd });
    await host.ip(['link', 'set', hostEnd, 'master', br]);
    // As the driver does: with br_netfilter, a container reaching itself through a published
    // port gets its own frame back on its port, which the bridge allows only in hairpin mode.
    await host.ip(['link', 'set', hostEnd, 'type', 'bridge_slave', 'hairpin', 'on']);
    await ns.ip(['addr', 'add', v4, 'dev', 'eth0']);
    await ns.ip(['route', 'add', 'default', 'via', gw4]);
    if (v6 && gw6) {
      await ns.ip(['-6', 'addr', 'add', v6, 'dev', 'eth0', 'nodad']);
      await ns.ip(['-6', 'route', 'add', 'default', 'via', gw6]);
    }
    // What the driver's unsolicited ARP/NA on join does: the host learns the container's address.
    // (Without it the first forwarded IPv6 packets to a new container are lost for about 2 s,
    // firewall or not: reproduced with plain ip commands and no nft rules.)
    await until(() => ping(ns, gw4));
    if (gw6) await until(() => ping(ns, gw6));
    return ns;
  }

  async function serve(ns: Netns, name: string): Promise<void> {
    const www = join(dir, name);
    await mkdir(join(www, 'cgi-bin'), { recursive: true });
    const script = join(www, 'cgi-bin', 'id');
    await writeFile(script, `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s %s\\n' '${name}' "$REMOTE_ADDR"\n`);
    await chmod(script, 0o755);
    const p = await spawnLogged(['ip', 'netns', 'exec', ns.name, 'busybox', 'httpd', '-f', '-p', '80', '-h', www], { logFile: join(dir, `${name}.log`) });
    pids.push(p.pid);
  }

  /** br_netfilter is built into this kernel; its sysctls are per namespace (a new one starts at 1). */
  async function setBrNetfilter(value: '0' | '1' | string): Promise<void> {
    // Not through the Sysctl port: it takes only weft's own net.* keys (no '-' in names).
    for (const key of ['net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables']) {
      const r = await runner.run(['sysctl', '-q', '-w', `${key}=${value}`], { check: false });
      if (r.code !== 0) throw new Error(`sysctl ${key}=${value}: ${r.stderr}`);
    }
  }

  async function nft(args: string[]): Promise<RunResult> {
    return runner.run(['nft', ...args]);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wt-fw-'));
    host = await scope.create();
    up = await scope.create();
    runner = new NetnsRunner(host.name);
    await createVethPair({ ns: host, name: 'up0', cidr: `${HOST_V4}/24` }, { ns: up, name: 'eth0', cidr: `${UP_V4}/24` });
    await host.ip(['-6', 'addr', 'add', `${HOST_V6}/64`, 'dev', 'up0', 'nodad']);
    await up.ip(['-6', 'addr', 'add', `${UP_V6}/64`, 'dev', 'eth0', 'nodad']);
    // Upstream knows the way back to the container subnets: masquerade is then proven by the
    // source address the server sees, and direct (unpublished) access can be tried.
    await up.ip(['route', 'add', '10.77.0.0/16', 'via', HOST_V4]);
    await up.ip(['-6', 'route', 'add', 'fd77::/16', 'via', HOST_V6]);

    await bridge('wfa', '10.77.1.1/24', 'fd77:1::1/64');
    await bridge('wfb', '10.77.2.1/24');
    await bridge('wfc', '10.77.3.1/24', 'fd77:3::1/64');
    await bridge('wfi', '10.77.4.1/24');
    c.a1 = await container('wfa', '10.77.1.2/24', '10.77.1.1', 'fd77:1::2/64', 'fd77:1::1');
    c.a2 = await container('wfa', '10.77.1.3/24', '10.77.1.1', 'fd77:1::3/64', 'fd77:1::1');
    c.b1 = await container('wfb', '10.77.2.2/24', '10.77.2.1');
    c.c1 = await container('wfc', '10.77.3.2/24', '10.77.3.1', 'fd77:3::2/64', 'fd77:3::1');
    c.c2 = await container('wfc', '10.77.3.3/24', '10.77.3.1', 'fd77:3::3/64', 'fd77:3::1');
    c.i1 = await container('wfi', '10.77.4.2/24', '10.77.4.1');
    const sysctl = createSysctl(new ProcessRunner(), { netns: host.name });
    for (const n of [NET_A, NET_B, NET_C, NET_I]) await applySysctls(sysctl, firewallSysctls(n));
    // A namespace starts with forwarding off; the internal network's list leaves it out on purpose.
    await sysctl.set('net.ipv4.ip_forward', '1');

    await serve(c.a1, 'a1');
    await serve(c.a2, 'a2');
    await serve(c.c2, 'c2');
    await serve(up, 'up');

    fw = new NftFirewall(runner, silent, { tableName: table });
    await fw.sync(BASE);
  });

  afterAll(async () => {
    await killPids(pids);
    await fw?.teardown().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps weft bridges apart while containers on one bridge reach each other', async () => {
    expect(await ping(c.a1, '10.77.1.3')).toBe(true);
    expect(await http(c.a1, '10.77.1.3')).toBe('a2 10.77.1.2');
    expect(await ping(c.a1, '10.77.2.2')).toBe(false);
    expect(await ping(c.b1, '10.77.1.2')).toBe(false);
    expect(await http(c.b1, '10.77.1.2')).toBeUndefined();
    expect(await ping(c.c1, '10.77.1.2')).toBe(false);
  });

  it('with icc off, blocks container to container on the bridge but not egress, with br_netfilter on and off', async () => {
    try {
      for (const brnf of ['1', '0']) {
        await setBrNetfilter(brnf);
        expect(await ping(c.c1, '10.77.3.3'), `br_netfilter ${brnf}`).toBe(false);
        expect(await http(c.c1, '10.77.3.3'), `br_netfilter ${brnf}`).toBeUndefined();
        expect(await ping(c.c1, 'fd77:3::3'), `br_netfilter ${brnf}`).toBe(false);
        expect(await ping(c.c1, UP_V4), `br_netfilter ${brnf}`).toBe(true);
        expect(await ping(c.c1, UP_V6), `br_netfilter ${brnf}`).toBe(true);
        expect(await ping(c.c1, '10.77.3.1'), `br_netfilter ${brnf}`).toBe(true); // the host (gateway)
        // The control: the icc bridge still carries container to container traffic.
        expect(await ping(c.a1, '10.77.1.3'), `br_netfilter ${brnf}`).toBe(true);
        expect(await ping(c.a1, 'fd77:1::3'), `br_netfilter ${brnf}`).toBe(true);
      }
    } finally {
      await setBrNetfilter('1');
    }
  });

  it('lets nothing out of an internal network and nothing in', async () => {
    expect(await ping(c.a1, UP_V4)).toBe(true); // control
    expect(await ping(c.i1, UP_V4)).toBe(false);
    expect(await http(c.i1, UP_V4)).toBeUndefined();
    expect(await ping(up, '10.77.4.2')).toBe(false);
    expect(await ping(c.a1, '10.77.4.2')).toBe(false);
    expect(await ping(c.i1, '10.77.1.2')).toBe(false);
  });

  it('masquerades egress per network: upstream sees the host for masqueraded subnets, the container otherwise', async () => {
    expect(await http(c.a1, UP_V4)).toBe(`up ${HOST_V4}`);
    expect(await http(c.b1, UP_V4)).toBe('up 10.77.2.2'); // masquerade off
    expect(await http(c.a1, `[${UP_V6}]`)).toContain('fd77:1::2'); // NAT66 off
    expect(await http(c.c1, `[${UP_V6}]`)).toContain(HOST_V6); // NAT66 on
  });

  it('publishes ports: from another namespace, from the host (127.0.0.1 too), over IPv6, hairpin and across networks, with br_netfilter on and off', async () => {
    try {
      for (const brnf of ['1', '0']) {
        await setBrNetfilter(brnf);
        const m = `br_netfilter ${brnf}`;
        expect(await http(up, `${HOST_V4}:8080`), m).toBe(`a1 ${UP_V4}`); // client address kept
        expect(await http(host, `${HOST_V4}:8080`), m).toMatch(/^a1 /);
        expect(await http(host, '127.0.0.1:8080'), m).toBe('a1 10.77.1.1');
        expect(await http(host, '127.0.0.1:8081'), m).toBe('a1 10.77.1.1');
        expect(await http(up, `${HOST_V4}:8081`), m).toBeUndefined(); // published on 127.0.0.1 only
        expect(await http(up, `[${HOST_V6}]:8080`), m).toBe(`a1 ${UP_V6}`);
        expect(await http(host, `[${HOST_V6}]:8080`), m).toMatch(/^a1 /);
        // Hairpin: a neighbour and the container itself, through the gateway and the host address.
        expect(await http(c.a2, '10.77.1.1:8080'), m).toBe('a1 10.77.1.1');
        expect(await http(c.a1, `${HOST_V4}:8080`), m).toBe('a1 10.77.1.1');
        // From another weft network, and within a network whose icc is off.
        expect(await http(c.b1, `${HOST_V4}:8080`), m).toBe('a1 10.77.2.2');
        expect(await http(c.c1, `${HOST_V4}:8083`), m).toBe('c2 10.77.3.1');
        // Unpublished: the container address is not reachable from outside, even with a route.
        expect(await http(up, '10.77.1.2'), m).toBeUndefined();
        expect(await http(up, `${HOST_V4}:8082`), m).toBeUndefined();
      }
    } finally {
      await setBrNetfilter('1');
    }
  });

  it('makes a removed port unreachable and deletes its conntrack entries; removing twice is fine', async () => {
    expect(await http(up, `${HOST_V4}:8080`)).toMatch(/^a1 /);
    const tracked = async (): Promise<string> =>
      (await runner.run(['conntrack', '-L', '-p', 'tcp', '--orig-port-dst', '8080', '--reply-src', '10.77.1.2'], { check: false })).stdout;
    expect(await tracked()).toContain('dport=8080');
    await fw.removePorts([P_ANY]);
    expect(await tracked()).not.toContain('dport=8080');
    expect(await http(up, `${HOST_V4}:8080`)).toBeUndefined();
    expect(await http(host, '127.0.0.1:8081')).toMatch(/^a1 /); // the other mapping stays
    await fw.removePorts([P_ANY]);
    await fw.addPorts([P_ANY]);
    expect(await http(up, `${HOST_V4}:8080`)).toMatch(/^a1 /);
    expect(await fw.drifted(BASE)).toBe(false);
  });

  it('deletes the stale UDP conntrack entries of a port when it is published', async () => {
    const udp: FirewallPortMapping = { ...P_UDP, hostPort: 5354 };
    const tracked = async (): Promise<string> =>
      (await runner.run(['conntrack', '-L', '-p', 'udp', '--orig-port-dst', '5354'], { check: false })).stdout;
    // A datagram (a tftp request: this busybox nc has no -u) before the port is published is
    // tracked as going to the host itself, and would stay so for as long as the client keeps sending.
    const send = (): Promise<unknown> => up.exec(['timeout', '1', 'busybox', 'tftp', '-g', '-r', 'x', '-l', '/dev/null', HOST_V4, '5354']);
    await send();
    expect(await tracked()).toMatch(/dport=5354 .*src=172\.31\.250\.1 /);
    await fw.addPorts([udp]);
    expect(await tracked()).not.toContain('dport=5354');
    await send();
    expect(await tracked()).toMatch(/dport=5354 .*src=10\.77\.1\.2 /); // DNATed to the container now
    await fw.removePorts([udp]);
    expect(await tracked()).not.toContain('dport=5354');
  });

  it('refuses a second mapping on a published host port, naming both', async () => {
    const clash = { ...P_ANY, containerIp: '10.77.1.3' };
    await expect(fw.addPorts([clash])).rejects.toThrow(/0\.0\.0\.0:8080\/tcp is already published to 10\.77\.1\.2:80/);
    expect(await http(up, `${HOST_V4}:8080`)).toMatch(/^a1 /);
  });

  it('notices a flushed ruleset and a deleted element; sync and the next incremental call repair it', async () => {
    expect(await fw.drifted(BASE)).toBe(false);
    await nft(['delete', 'element', 'inet', table, 'dnat_any_v4', '{ tcp . 8080 }']);
    expect(await fw.drifted(BASE)).toBe(true);
    await fw.sync(BASE);
    expect(await fw.drifted(BASE)).toBe(false);

    await nft(['flush', 'ruleset']);
    expect(await fw.drifted(BASE)).toBe(true);
    expect(await http(up, `${HOST_V4}:8080`)).toBeUndefined();
    await fw.sync(BASE);
    expect(await fw.drifted(BASE)).toBe(false);
    expect(await http(up, `${HOST_V4}:8080`)).toMatch(/^a1 /);
    expect(await ping(c.a1, '10.77.2.2')).toBe(false);

    // Flushed again, then a port is added: the call rebuilds the whole table from what it knows.
    await nft(['flush', 'ruleset']);
    const extra: FirewallPortMapping = { ...P_ANY, hostPort: 8084 };
    await fw.addPorts([extra]);
    expect(await http(up, `${HOST_V4}:8084`)).toMatch(/^a1 /);
    expect(await http(up, `${HOST_V4}:8080`)).toMatch(/^a1 /);
    expect(await fw.drifted({ ...BASE, ports: [...BASE.ports, extra] })).toBe(false);
    await fw.removePorts([extra]);
    expect(await fw.drifted(BASE)).toBe(false);
  });

  it("keeps the operator's weft-user rules through sync and runs them before weft's accepts", async () => {
    // The operator may use weft's sets: sync flushes them, never deletes them.
    await nft(['add', 'rule', 'inet', table, 'weft-user', 'iifname', '@bridges', 'ip', 'saddr', '10.77.1.3', 'drop', 'comment', '"operator"']);
    try {
      expect(await ping(c.a2, UP_V4)).toBe(false);
      expect(await ping(c.a1, UP_V4)).toBe(true);
      await fw.sync(BASE);
      expect((await nft(['list', 'chain', 'inet', table, 'weft-user'])).stdout).toContain('operator');
      expect(await ping(c.a2, UP_V4)).toBe(false);
      expect(await fw.drifted(BASE)).toBe(false); // the user chain's content is the operator's business
    } finally {
      await nft(['flush', 'chain', 'inet', table, 'weft-user']);
    }
    expect(await ping(c.a2, UP_V4)).toBe(true);
  });

  it("lets weft traffic through Docker's FORWARD policy DROP with one DOCKER-USER rule (br_netfilter on)", async () => {
    const ipt = (tool: string, args: string[]): Promise<RunResult> => runner.run([tool, '-w', '5', ...args]);
    for (const tool of ['iptables', 'ip6tables']) {
      // What Docker sets up.
      await ipt(tool, ['-N', 'DOCKER-USER']);
      await ipt(tool, ['-A', 'DOCKER-USER', '-j', 'RETURN']);
      await ipt(tool, ['-A', 'FORWARD', '-j', 'DOCKER-USER']);
      await ipt(tool, ['-P', 'FORWARD', 'DROP']);
    }
    try {
      // Without weft's rule, Docker's DROP wins over weft's accepts, bridged frames included.
      expect(await ping(c.a1, UP_V4)).toBe(false);
      expect(await ping(c.a1, '10.77.1.3')).toBe(false);
      expect(await fw.drifted(BASE)).toBe(true);

      await fw.sync(BASE);
      await fw.sync(BASE); // idempotent: still one rule
      for (const tool of ['iptables', 'ip6tables']) {
        const rules = (await ipt(tool, ['-S', 'DOCKER-USER'])).stdout.trim().split('\n');
        expect(rules.filter((r) => r.includes('--comment weft'))).toHaveLength(1);
        expect(rules.at(-1)).toBe('-A DOCKER-USER -j RETURN');
      }
      expect(await fw.drifted(BASE)).toBe(false);
      expect(await ping(c.a1, UP_V4)).toBe(true);
      expect(await ping(c.a1, UP_V6)).toBe(true);
      expect(await ping(c.a1, '10.77.1.3')).toBe(true);
      expect(await ping(c.a1, 'fd77:1::3')).toBe(true);
      expect(await http(up, `${HOST_V4}:8080`)).toBe(`a1 ${UP_V4}`);
      expect(await http(up, `[${HOST_V6}]:8080`)).toContain('a1 ');
      expect(await http(c.a2, `${HOST_V4}:8080`)).toBe('a1 10.77.1.1');
      // weft's drops still hold.
      expect(await ping(c.a1, '10.77.2.2')).toBe(false);
      expect(await ping(c.c1, '10.77.3.3')).toBe(false);

      await fw.teardown();
      for (const tool of ['iptables', 'ip6tables']) {
        expect((await ipt(tool, ['-S', 'DOCKER-USER'])).stdout).not.toContain('weft');
      }
      const tables = (await nft(['list', 'tables'])).stdout;
      expect(tables).not.toContain(table);
    } finally {
      for (const tool of ['iptables', 'ip6tables']) {
        await ipt(tool, ['-P', 'FORWARD', 'ACCEPT']);
        await ipt(tool, ['-F', 'FORWARD']);
        await ipt(tool, ['-F', 'DOCKER-USER']);
        await ipt(tool, ['-X', 'DOCKER-USER']);
      }
      await fw.sync(BASE);
    }
  });
});

describe('golden rulesets on the kernel', () => {
  const scope = netnsScopePerFile();

  it('loads every golden file, twice (sync is idempotent), and lists LISTED_STATE as recorded', async () => {
    const ns = await scope.create();
    const runner = new NetnsRunner(ns.name);
    const files = (await readdir(GOLDEN)).filter((f) => f.endsWith('.nft'));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const f of files) {
      const text = await readFile(join(GOLDEN, f), 'utf8');
      if (f === 'upgrade-from-listing.nft') {
        // What that golden was rendered against (see render.test.ts): an older weft's table.
        await runner.run(['nft', '-f', '-'], {
          input: [
            'add table inet weft',
            'delete table inet weft',
            'add table inet weft',
            'add chain inet weft weft-user',
            'add chain inet weft old-chain { type filter hook input priority 0; policy accept; }',
            'add set inet weft bridges { type ifname; }',
            'add set inet weft masq_v4 { type ipv4_addr; }',
            'add map inet weft old_map { type inet_service : ipv4_addr; }',
            'add rule inet weft weft-user iifname @bridges counter',
            '',
          ].join('\n'),
        });
        await runner.run(['nft', '-f', '-'], { input: text });
        const after = parseNftTable((await runner.run(['nft', '-j', 'list', 'table', 'inet', 'weft'])).stdout, 'inet', 'weft');
        expect(after.chains.has('old-chain')).toBe(false);
        expect(after.sets.has('old_map')).toBe(false);
        expect(after.sets.get('masq_v4')!.signature).toBe('ipv4_addr interval');
        expect(after.chains.get('weft-user')!.comments).toHaveLength(1); // the operator's rule on @bridges
        continue;
      }
      await runner.run(['nft', '-f', '-'], { input: text });
      await runner.run(['nft', '-f', '-'], { input: text });
    }
    const fw = new NftFirewall(runner, silent);
    await fw.teardown(); // the upgrade case left an operator rule in weft-user
    await fw.sync(LISTED_STATE);
    for (const f of ['inet', 'bridge'] as const) {
      const out = (await runner.run(['nft', '-j', 'list', 'table', f, 'weft'])).stdout;
      const file = join(GOLDEN, `listing-${f}.json`);
      if (process.env.WEFT_UPDATE_GOLDEN === '1') await writeFile(file, `${JSON.stringify(JSON.parse(out), null, 1)}\n`);
      const recorded = parseNftTable(await readFile(file, 'utf8'), f, 'weft');
      const live = parseNftTable(out, f, 'weft');
      expect([...live.chains.values()]).toEqual([...recorded.chains.values()]);
      expect([...live.sets.values()].map((s) => [s.name, s.signature, [...s.elements].sort()])).toEqual(
        [...recorded.sets.values()].map((s) => [s.name, s.signature, [...s.elements].sort()]),
      );
    }
    expect(await fw.drifted(LISTED_STATE)).toBe(false);
    await fw.teardown();
    expect((await runner.run(['nft', 'list', 'ruleset'])).stdout.trim()).toBe('');
  });
});

describe('NftFirewall rule count and timing', () => {
  const scope = netnsScopePerFile();

  function state(n: number): FirewallState {
    const networks: FirewallNetwork[] = [];
    const ports: FirewallPortMapping[] = [];
    for (let i = 0; i < n; i++) {
      const id = (0x100 + i).toString(16);
      networks.push({
        id,
        bridge: `wfn${i}`,
        subnetsV4: [`10.90.${i}.0/24`],
        subnetsV6: [`fd90:${i.toString(16)}::/64`],
        icc: i % 2 === 0,
        masquerade: true,
        masqueradeV6: i % 3 === 0,
        internal: i % 5 === 4,
        ...(i % 7 === 0 ? { hostBindingIpv4: '192.0.2.1' } : {}),
      });
      ports.push({ networkId: id, proto: (['tcp', 'udp', 'sctp'] as const)[i % 3]!, family: i % 4 === 0 ? 6 : 4, hostIp: '', hostPort: 20000 + i, containerIp: i % 4 === 0 ? `fd90:${i.toString(16)}::2` : `10.90.${i}.2`, containerPort: 80 });
    }
    return { networks, ports };
  }

  it('has the same number of rules with 1 network and 1 port as with 50 and 50; reports how long calls take', async () => {
    const ns = await scope.create();
    const runner = new NetnsRunner(ns.name);
    const fw = new NftFirewall(runner, silent, { tableName: 'weft' });
    const count = async (): Promise<number> => {
      let n = 0;
      for (const f of ['inet', 'bridge']) {
        const r = await runner.run(['nft', '-j', 'list', 'table', f, 'weft']);
        n += ruleCount(parseNftTable(r.stdout, f, 'weft'));
      }
      return n;
    };
    const elements = async (): Promise<number> => {
      const r = await runner.run(['nft', '-j', 'list', 'table', 'inet', 'weft']);
      return [...parseNftTable(r.stdout, 'inet', 'weft').sets.values()].reduce((a, s) => a + s.elements.length, 0);
    };

    await fw.sync(state(1));
    const one = await count();
    expect(one).toBeGreaterThan(10);

    const big = state(50);
    let t = performance.now();
    await fw.sync(big);
    const syncMs = performance.now() - t;
    expect(await count()).toBe(one);
    expect(await elements()).toBeGreaterThan(200);
    expect(await fw.drifted(big)).toBe(false);

    t = performance.now();
    await fw.sync(big);
    const resyncMs = performance.now() - t;

    // Incrementally: from nothing to 50 networks and 50 ports, still the same rules.
    await fw.sync({ networks: [], ports: [] });
    expect(await count()).toBe(one);
    t = performance.now();
    for (const n of big.networks) await fw.addNetwork(n);
    const addNetMs = (performance.now() - t) / big.networks.length;
    t = performance.now();
    for (const p of big.ports) await fw.addPorts([p]);
    const addPortMs = (performance.now() - t) / big.ports.length;
    expect(await count()).toBe(one);
    expect(await fw.drifted(big)).toBe(false);

    const more = Array.from({ length: 50 }, (_, i) => ({ ...big.ports[1]!, hostPort: 30000 + i }));
    t = performance.now();
    await fw.addPorts(more);
    const add50Ms = performance.now() - t;
    t = performance.now();
    await fw.removePorts(more);
    const remove50Ms = performance.now() - t;
    expect(await count()).toBe(one);
    expect(await fw.drifted(big)).toBe(false);

    for (const n of big.networks) await fw.removeNetwork(n);
    expect(await elements()).toBe(0);

    console.log(
      `firewall timing (ms, each including the nft process): sync 50+50 ${syncMs.toFixed(0)}, re-sync ${resyncMs.toFixed(0)}, ` +
        `addNetwork ${addNetMs.toFixed(1)}/call, addPorts(1) ${addPortMs.toFixed(1)}/call, addPorts(50) ${add50Ms.toFixed(0)}, removePorts(50) ${remove50Ms.toFixed(0)}; rules ${one}`,
    );
    await fw.teardown();
  });
});
