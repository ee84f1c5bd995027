// Overlay networks on the netns lab (docs/overlay.md): 3 hosts on etcd, underlay MTU 1400,
// network namespaces as containers. Cross-host ping both ways, two overlay networks isolated,
// broadcast across hosts, egress to an "upstream" namespace on the underlay through the
// container's own host, drift repair, a killed weftd ("lost") not cutting traffic, a cut host
// ("gone") leaving the others' tables and coming back, MTU 1350 with a DF datagram of the maximum
// size crossing unfragmented. Runs the built weft (`npm run build` first), as the lab does.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDriver } from '../helpers/lab.js';
import { run, sleep } from '../helpers/process.js';
import { waitUntil } from '../helpers/wait.js';

const NAME = 'wt-ovl';
const { lab, labOk, onHost, onHostOk, api } = labDriver(NAME);
const TTL = 3;
const DEAD_AFTER = 6;
const REPAIR = 2;
const UPSTREAM_NS = `${NAME}-up`;
const UPSTREAM_IP = '198.18.0.250';
const VTEP = { h1: '198.18.0.11', h2: '198.18.0.12', h3: '198.18.0.13' } as const;

/** A command inside container namespace `ns` on host `h`. */
const inC = (h: string, ns: string, cmd: string[], timeoutMs?: number) => onHost(h, ['ip', 'netns', 'exec', ns, ...cmd], timeoutMs);
const ping = (h: string, ns: string, ip: string) => inC(h, ns, ['busybox', 'ping', '-c', '1', '-W', '1', ip]);

interface Endpoint {
  host: keyof typeof VTEP;
  ns: string;
  ip: string;
  mac: string;
}
const eps: Record<string, Endpoint> = {};
const ids: Record<string, string> = {};

async function connect(host: keyof typeof VTEP, ns: string, net: string): Promise<Endpoint> {
  const out = await onHostOk(host, ['weft', 'network', 'connect', net, ns]);
  // "ov1 -> c1: eth0 10.60.0.2/24 02:42:0a:3c:00:02 (endpoint ...)"
  const m = /eth\d+ ([0-9.]+)\/\d+ ([0-9a-f:]{17})/.exec(out);
  if (!m) throw new Error(`unexpected connect output: ${out}`);
  return { host, ns, ip: m[1]!, mac: m[2]! };
}

const fdbOf = async (h: string, net: string) => onHostOk(h, ['bridge', 'fdb', 'show', 'dev', `wfx${ids[net]!.slice(0, 12)}`]);

/** A UDP listener in a namespace: resolves with the datagrams it got (text and sender) within ms. */
const LISTEN_PY = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1])))
end = time.time() + float(sys.argv[2])
while time.time() < end:
    s.settimeout(max(0.01, end - time.time()))
    try:
        d, a = s.recvfrom(65535)
        print(a[0], len(d), d[:16].decode(errors='replace'), flush=True)
    except socket.timeout:
        pass
`;
const SEND_PY = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER = IP_PMTUDISC_DO: DF, never fragment
payload = sys.argv[3].encode() * 1
size = int(sys.argv[4])
payload = (payload * size)[:size]
for _ in range(3):
    s.sendto(payload, (sys.argv[1], int(sys.argv[2])))
print('sent')
`;
/** A TCP server that greets each client with its address, for `seconds`. */
const SERVE_PY = `
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(8); s.settimeout(0.2)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    try:
        c, a = s.accept(); c.sendall(('hello %s' % a[0]).encode()); c.close()
    except socket.timeout:
        pass
`;
const FETCH_PY = `
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
print(c.recv(100).decode())
`;
const listen = (h: string, ns: string, port: number, seconds: number) => inC(h, ns, ['python3', '-c', LISTEN_PY, String(port), String(seconds)], (seconds + 10) * 1000);
const send = (h: string, ns: string, to: string, port: number, tag: string, size: number) => inC(h, ns, ['python3', '-c', SEND_PY, to, String(port), tag, String(size)]);

describe('overlay networks on the lab', () => {
  beforeAll(async () => {
    await run(['ip', 'netns', 'del', UPSTREAM_NS]);
    await labOk(['up', '--hosts', '3', '--mtu', '1400', '--host-ttl', String(TTL), '--host-dead-after', String(DEAD_AFTER), `--weftd-arg=--overlay-repair-interval=${REPAIR}`], 240_000);
    // The upstream: a namespace on the lab's switch, no route back to any container subnet.
    const sw = `${NAME}-sw`;
    await run(['ip', 'netns', 'add', UPSTREAM_NS], { timeoutMs: 10_000 });
    for (const argv of [
      ['ip', 'link', 'add', 'wtovup0', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'wtovup1', 'mtu', '1400'],
      ['ip', 'link', 'set', 'wtovup0', 'netns', sw],
      ['ip', '-n', sw, 'link', 'set', 'wtovup0', 'master', 'br0', 'up'],
      ['ip', 'link', 'set', 'wtovup1', 'netns', UPSTREAM_NS],
      ['ip', '-n', UPSTREAM_NS, 'addr', 'add', `${UPSTREAM_IP}/24`, 'dev', 'wtovup1'],
      ['ip', '-n', UPSTREAM_NS, 'link', 'set', 'wtovup1', 'up'],
      ['ip', '-n', UPSTREAM_NS, 'link', 'set', 'lo', 'up'],
    ]) {
      const r = await run(argv, { timeoutMs: 10_000 });
      if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    }
    ids.ov1 = (await onHostOk('h1', ['weft', 'network', 'create', '-d', 'overlay', 'ov1', '--subnet', '10.60.0.0/24'])).trim();
    ids.ov2 = (await onHostOk('h2', ['weft', 'network', 'create', '-d', 'overlay', 'ov2', '--subnet', '10.61.0.0/24'])).trim();
    for (const h of ['h1', 'h2', 'h3'] as const) {
      await onHostOk(h, ['ip', 'netns', 'add', 'c1']);
      eps[`${h}c1`] = await connect(h, 'c1', 'ov1');
      await inC(h, 'c1', ['sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_broadcasts=0']);
    }
    for (const h of ['h1', 'h2'] as const) {
      await onHostOk(h, ['ip', 'netns', 'add', 'c2']);
      eps[`${h}c2`] = await connect(h, 'c2', 'ov2');
    }
  }, 300_000);

  afterAll(async () => {
    await lab(['down'], 120_000);
    await run(['ip', 'netns', 'del', UPSTREAM_NS]);
  });

  it('lists the networks on every host, with distinct VNIs, and refuses a VNI that is taken', async () => {
    for (const h of ['h1', 'h2', 'h3']) {
      const rows = JSON.parse(await onHostOk(h, ['weft', 'network', 'ls', '--format', 'json'])) as Array<{ name: string; driver: string }>;
      expect(rows.filter((r) => r.driver === 'overlay').map((r) => r.name).sort()).toEqual(['ov1', 'ov2']);
    }
    const vniOf = async (h: string, net: string) => Number(/vxlan id (\d+)/.exec(await onHostOk(h, ['ip', '-d', 'link', 'show', `wfx${ids[net]!.slice(0, 12)}`]))![1]);
    const v1 = await vniOf('h3', 'ov1');
    const v2 = await vniOf('h1', 'ov2');
    expect(v1).toBeGreaterThanOrEqual(4096);
    expect(v2).toBeGreaterThanOrEqual(4096);
    expect(v1).not.toBe(v2);
    expect(await vniOf('h1', 'ov1')).toBe(v1);
    const taken = await onHost('h3', ['weft', 'network', 'create', '-d', 'overlay', 'ov3', '-o', `vni=${v1}`]);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toMatch(new RegExp(`VXLAN id ${v1} is taken`));
    // The underlay is 1400: containers get 1350.
    expect(await inC('h2', 'c1', ['cat', '/sys/class/net/eth0/mtu'])).toMatchObject({ stdout: '1350\n' });
  });

  it('pings across hosts both ways', async () => {
    for (const a of ['h1c1', 'h2c1', 'h3c1']) {
      for (const b of ['h1c1', 'h2c1', 'h3c1']) {
        if (a === b) continue;
        const r = await ping(eps[a]!.host, 'c1', eps[b]!.ip);
        expect(r.code, `${a} -> ${b}: ${r.stdout}${r.stderr}`).toBe(0);
      }
    }
    expect((await ping('h2', 'c2', eps.h1c2!.ip)).code).toBe(0);
  });

  it('keeps two overlay networks apart', async () => {
    // Same host and across hosts, through the gateways or not.
    expect((await ping('h1', 'c1', eps.h1c2!.ip)).code).not.toBe(0);
    expect((await ping('h1', 'c1', eps.h2c2!.ip)).code).not.toBe(0);
    expect((await ping('h2', 'c2', eps.h3c1!.ip)).code).not.toBe(0);
  });

  it('carries broadcast to the other hosts, and only on its own network', async () => {
    const listeners = [listen('h2', 'c1', 9999, 4), listen('h3', 'c1', 9999, 4), listen('h2', 'c2', 9999, 4)];
    await sleep(1000);
    const sent = await send('h1', 'c1', '10.60.0.255', 9999, 'bcast', 5);
    expect(sent.code, sent.stderr).toBe(0);
    const [h2, h3, other] = await Promise.all(listeners);
    expect(h2!.stdout).toContain(`${eps.h1c1!.ip} 5 bcast`);
    expect(h3!.stdout).toContain(`${eps.h1c1!.ip} 5 bcast`);
    expect(other!.stdout).not.toContain('bcast');
  });

  it('reaches the upstream through the container\'s own host (masquerade)', async () => {
    const l = run(['ip', 'netns', 'exec', UPSTREAM_NS, 'python3', '-c', LISTEN_PY, '9998', '4'], { timeoutMs: 15_000 });
    await sleep(1000);
    await send('h1', 'c1', UPSTREAM_IP, 9998, 'egress1', 7);
    await send('h3', 'c1', UPSTREAM_IP, 9998, 'egress3', 7);
    const got = (await l).stdout;
    expect(got).toContain(`${VTEP.h1} 7 egress1`);
    expect(got).toContain(`${VTEP.h3} 7 egress3`);
    expect((await ping('h2', 'c1', UPSTREAM_IP)).code).toBe(0);
  });

  it('publishes a port on the container\'s own host', async () => {
    await onHostOk('h3', ['ip', 'netns', 'add', 'c5']);
    await onHostOk('h3', ['weft', 'network', 'connect', '--publish', '8080:80/tcp', 'ov1', 'c5']);
    const server = inC('h3', 'c5', ['python3', '-c', SERVE_PY, '80', '6'], 20_000);
    await sleep(1000);
    // From another host over the underlay, and from the host itself.
    const fromH1 = await onHost('h1', ['python3', '-c', FETCH_PY, VTEP.h3, '8080']);
    const fromH3 = await onHost('h3', ['python3', '-c', FETCH_PY, VTEP.h3, '8080']);
    await server;
    expect(fromH1.stdout.trim()).toBe(`hello ${VTEP.h1}`);
    expect(fromH3.stdout.trim()).toMatch(/^hello /);
    await onHostOk('h3', ['weft', 'network', 'disconnect', 'ov1', 'c5']);
    expect(await onHostOk('h3', ['nft', 'list', 'chain', 'inet', 'weft-overlay', 'published'])).not.toContain('8080');
  });

  it('carries a DF datagram of the maximum size (MTU 1350 over an underlay of 1400) unfragmented', async () => {
    // The host's IPv4 FragCreates counter: it grows when the host fragments outer (VXLAN) packets.
    const fragCreates = async (h: string) => {
      const [head, values] = (await onHostOk(h, ['cat', '/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Ip:'));
      return Number(values!.split(/\s+/)[head!.split(/\s+/).indexOf('FragCreates')]);
    };
    const before = await fragCreates('h1');
    const l = listen('h3', 'c1', 9997, 4);
    await sleep(1000);
    // 1350 - 20 (IP) - 8 (UDP) = 1322 bytes of payload.
    const ok = await send('h1', 'c1', eps.h3c1!.ip, 9997, 'x', 1322);
    expect(ok.code, ok.stderr).toBe(0);
    const tooBig = await send('h1', 'c1', eps.h3c1!.ip, 9997, 'x', 1323);
    expect(tooBig.code).not.toBe(0);
    expect(tooBig.stderr).toMatch(/Message too long/);
    expect((await l).stdout).toContain(`${eps.h1c1!.ip} 1322 xxxx`);
    expect(await fragCreates('h1')).toBe(before);
  });

  it('repairs an FDB entry deleted by hand within the anti-entropy period', async () => {
    const before = (await api<{ repairs: number }>('h1', '/v1/overlay')).repairs;
    const entry = `${eps.h3c1!.mac} dst ${VTEP.h3}`;
    expect(await fdbOf('h1', 'ov1')).toContain(entry);
    await onHostOk('h1', ['bridge', 'fdb', 'del', eps.h3c1!.mac, 'dev', `wfx${ids.ov1!.slice(0, 12)}`, 'dst', VTEP.h3, 'self']);
    // (No check that it is gone: the periodic pass may already have put it back.)
    await waitUntil('FDB entry restored', async () => (await fdbOf('h1', 'ov1')).includes(entry), (2 * REPAIR + 2) * 1000);
    expect((await api<{ repairs: number }>('h1', '/v1/overlay')).repairs).toBeGreaterThan(before);
    expect((await ping('h1', 'c1', eps.h3c1!.ip)).code).toBe(0);
  });

  it('keeps traffic to a host whose weftd is down (lost) flowing', async () => {
    await labOk(['stop', 'h3', '--kill', '--only', 'weftd']);
    const t0 = Date.now();
    let failures = 0;
    let pings = 0;
    while (Date.now() - t0 < 2 * TTL * 1000 + 1000) {
      pings++;
      if ((await ping('h1', 'c1', eps.h3c1!.ip)).code !== 0) failures++;
      if ((await ping('h3', 'c1', eps.h2c1!.ip)).code !== 0) failures++;
    }
    const rows = JSON.parse(await onHostOk('h1', ['weft', 'host', 'ls', '--format', 'json'])) as Array<{ id: string; state: string }>;
    expect(rows.find((r) => r.id === 'h3')?.state).toBe('lost');
    expect(failures, `${failures} of ${2 * pings} pings failed`).toBe(0);
    expect(await fdbOf('h1', 'ov1')).toContain(`${eps.h3c1!.mac} dst ${VTEP.h3}`);
    await labOk(['start', 'h3']);
    expect((await ping('h1', 'c1', eps.h3c1!.ip)).code).toBe(0);
  }, 60_000);

  it('drops a gone host from the others\' tables and takes it back when it returns', async () => {
    await labOk(['link', 'h3', 'down']);
    await waitUntil('h1 sees h3 gone and unprogrammed', async () => !(await fdbOf('h1', 'ov1')).includes(VTEP.h3), (DEAD_AFTER + 3 * TTL + 10) * 1000);
    const rows = JSON.parse(await onHostOk('h1', ['weft', 'host', 'ls', '--format', 'json'])) as Array<{ id: string; state: string }>;
    expect(rows.find((r) => r.id === 'h3')?.state).toBe('gone');
    const neigh = await onHostOk('h2', ['ip', 'neigh', 'show', 'dev', `wfx${ids.ov1!.slice(0, 12)}`]);
    expect(neigh).not.toContain(eps.h3c1!.ip);
    await labOk(['link', 'h3', 'up']);
    await labOk(['stop', 'h3', '--only', 'weftd']);
    await labOk(['start', 'h3']);
    await waitUntil('h3 back in h1\'s tables', async () => (await fdbOf('h1', 'ov1')).includes(`${eps.h3c1!.mac} dst ${VTEP.h3}`), 15_000);
    await waitUntil('ping h1 -> h3', async () => (await ping('h1', 'c1', eps.h3c1!.ip)).code === 0, 10_000);
    expect((await ping('h3', 'c1', eps.h2c1!.ip)).code).toBe(0);
  }, 90_000);

  it('removes the bridge with the last local endpoint, and the network only when no host uses it', async () => {
    const inUse = await onHost('h1', ['weft', 'network', 'rm', 'ov2']);
    expect(inUse.code).not.toBe(0);
    expect(inUse.stderr).toMatch(/endpoints on other hosts|active endpoints/);
    await onHostOk('h2', ['weft', 'network', 'disconnect', 'ov2', 'c2']);
    expect((await onHost('h2', ['ip', 'link', 'show', `wfo${ids.ov2!.slice(0, 12)}`])).code).not.toBe(0);
    expect((await onHost('h2', ['ip', 'link', 'show', `wfx${ids.ov2!.slice(0, 12)}`])).code).not.toBe(0);
    const stillOnH1 = await onHost('h2', ['weft', 'network', 'rm', 'ov2']);
    expect(stillOnH1.stderr).toMatch(/endpoints on other hosts/);
    await onHostOk('h1', ['weft', 'network', 'disconnect', 'ov2', 'c2']);
    await onHostOk('h2', ['weft', 'network', 'rm', 'ov2']);
    for (const h of ['h1', 'h3']) {
      const rows = JSON.parse(await onHostOk(h, ['weft', 'network', 'ls', '--format', 'json'])) as Array<{ name: string }>;
      expect(rows.map((r) => r.name)).not.toContain('ov2');
    }
  });

  it('forgets a removed host\'s endpoints (weft host rm), so the network can go', async () => {
    await labOk(['stop', 'h3', '--only', 'weftd']);
    await onHostOk('h1', ['weft', 'host', 'rm', 'h3']);
    await waitUntil('h3 gone from h1\'s tables', async () => !(await fdbOf('h1', 'ov1')).includes(VTEP.h3), 10_000);
    for (const h of ['h1', 'h2']) await onHostOk(h, ['weft', 'network', 'disconnect', 'ov1', 'c1']);
    // h3's endpoint (its namespace still exists) no longer holds the network.
    await onHostOk('h2', ['weft', 'network', 'rm', 'ov1']);
    const rows = JSON.parse(await onHostOk('h1', ['weft', 'network', 'ls', '--format', 'json'])) as Array<{ name: string }>;
    expect(rows.map((r) => r.name)).not.toContain('ov1');
  });
});
