// weft-bridge with a real Docker Engine (Debian's docker.io, its own netns and mount ns, with
// Docker's own iptables rules on: FORWARD policy DROP and a DOCKER-USER chain). The host's
// "internet" is an upstream namespace on an uplink veth.

import { mkdir, mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, importBusybox } from '../helpers/busybox-image.js';
import { startDockerd, type DockerdHandle } from '../helpers/dockerd.js';
import { createVethPair, netnsScopePerFile, type Netns } from '../helpers/netns.js';
import { killPids, sleep, spawnLogged, type SpawnedProcess } from '../helpers/process.js';
import { startWeftd, type WeftdHandle } from '../helpers/weftd.js';

const RUN = ['run', '--pull', 'never'];
const HOST_UPLINK = '198.19.1.1';
const UPSTREAM = '198.19.1.2';
const HOST_UPLINK6 = 'fd19:1::1';
const UPSTREAM6 = 'fd19:1::2';

/** An HTTP GET over `nc` (busybox-static's wget crashes); returns the body, '' when it failed. */
function parseHttp(out: string): string {
  if (!/^HTTP\/1\.\d 200 /.test(out)) return '';
  const m = /\r?\n\r?\n/.exec(out);
  return m ? out.slice(m.index + m[0].length).replace(/^(?:[\w-]+: [^\n]*\r?\n)*\r?\n/, '') : '';
}
const GET = (p: string) => `GET ${p} HTTP/1.0\r\n\r\n`;

describe('weft-bridge with a real Docker Engine', () => {
  const scope = netnsScopePerFile();
  let dockerd: DockerdHandle;
  let weftd: WeftdHandle;
  let host: Netns;
  let upstream: Netns;
  let webDir: string;
  const servers: SpawnedProcess[] = [];

  const ipOf = async (c: string) => (await dockerd.dockerOk(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', c])).stdout.trim();
  const canPing = async (from: string, ip: string) => (await dockerd.docker(['exec', from, 'ping', '-c', '1', '-W', '1', ip])).code === 0;
  const httpFrom = async (c: string, ip: string, port: number, p = '/') =>
    parseHttp((await dockerd.docker(['exec', '-i', c, 'nc', '-w', '2', ip, String(port)], { input: GET(p), timeoutMs: 10_000 })).stdout);
  const httpFromNs = async (ns: Netns, ip: string, port: number) =>
    parseHttp((await ns.exec(['busybox', 'nc', '-w', '2', ip, String(port)], { input: GET('/'), timeoutMs: 10_000 })).stdout);
  const web = (name: string, net: string, text: string, extra: string[] = []) =>
    dockerd.dockerOk([...RUN, '-d', '--name', name, '--network', net, ...extra, BUSYBOX_IMAGE, 'sh', '-c', `mkdir -p /www && echo -n ${text} > /www/index.html && exec httpd -f -p 80 -h /www`]);
  const sleeper = (name: string, net: string, extra: string[] = []) => dockerd.dockerOk([...RUN, '-d', '--name', name, '--network', net, ...extra, BUSYBOX_IMAGE, 'sleep', '600']);

  beforeAll(async () => {
    webDir = await mkdtemp(path.join(tmpdir(), 'weft-up-'));
    dockerd = await startDockerd();
    await importBusybox(dockerd);
    host = scope.adopt(dockerd.netnsName);
    upstream = await scope.create();
    await upstream.ip(['link', 'set', 'lo', 'up']);
    await createVethPair({ ns: host, name: 'uplink0', cidr: `${HOST_UPLINK}/24` }, { ns: upstream, name: 'uplink1', cidr: `${UPSTREAM}/24` });
    await host.ip(['-6', 'addr', 'add', `${HOST_UPLINK6}/64`, 'dev', 'uplink0', 'nodad']);
    await upstream.ip(['-6', 'addr', 'add', `${UPSTREAM6}/64`, 'dev', 'uplink1', 'nodad']);
    await host.ip(['route', 'add', 'default', 'via', UPSTREAM]);
    await host.ip(['-6', 'route', 'add', 'default', 'via', UPSTREAM6]);
    await mkdir(path.join(webDir, 'cgi-bin'), { recursive: true });
    await writeFile(path.join(webDir, 'index.html'), 'upstream');
    await writeFile(path.join(webDir, 'cgi-bin', 'ip'), '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n');
    await chmod(path.join(webDir, 'cgi-bin', 'ip'), 0o755);
    servers.push(await spawnLogged(['ip', 'netns', 'exec', upstream.name, 'busybox', 'httpd', '-f', '-p', '8080', '-h', webDir], { logFile: path.join(webDir, 'httpd.log') }));
    weftd = await startWeftd({ prefix: dockerd.nsenterArgv(['true']).slice(0, -1), pluginDir: dockerd.pluginDir });
    await sleep(200);
  });
  afterAll(async () => {
    await killPids(servers.map((s) => s.pid));
    await dockerd?.stop();
    await weftd?.cleanup();
    // dockerd.stop() deleted its namespace; nothing left for the scope to remove there.
    if (host) await host.exec(['true']).catch(() => undefined);
    await rm(webDir, { recursive: true, force: true });
  });

  it("runs next to Docker's own iptables rules", async () => {
    const fwd = await host.execOk(['iptables', '-S', 'FORWARD']);
    expect(fwd.stdout).toContain('-P FORWARD DROP');
    const user = await host.execOk(['iptables', '-S', 'DOCKER-USER']);
    expect(user.stdout.match(/weft/g)?.length).toBe(1);
  });

  it('connects containers on one network, isolates other networks, and masquerades egress', async () => {
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.41.1.0/24', 'wb1']);
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.41.2.0/24', 'wb2']);
    await sleeper('a1', 'wb1');
    await sleeper('a2', 'wb1');
    await sleeper('a3', 'wb2');
    const [ip1, ip2] = [await ipOf('a1'), await ipOf('a2')];
    expect(ip1).toMatch(/^10\.41\.1\./);
    expect(await canPing('a1', ip2)).toBe(true);
    expect(await canPing('a2', ip1)).toBe(true);
    expect(await canPing('a3', ip1)).toBe(false);
    expect(await canPing('a1', await ipOf('a3'))).toBe(false);
    // Only the weft network, no docker_gwbridge: Join answered DisableGatewayService.
    const links = (await dockerd.dockerOk(['exec', 'a1', 'ip', '-o', 'link'])).stdout;
    expect(links).not.toContain('eth1');
    expect((await httpFrom('a1', UPSTREAM, 8080, '/cgi-bin/ip')).trim().replace(/^\[::ffff:(.*)\]$/, '$1')).toBe(HOST_UPLINK);
  });

  it('keeps --internal networks away from the upstream', async () => {
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--internal', '--subnet', '10.41.3.0/24', 'wb3']);
    await sleeper('i1', 'wb3');
    await sleeper('i2', 'wb3');
    expect(await canPing('i1', await ipOf('i2'))).toBe(true);
    expect(await canPing('i1', UPSTREAM)).toBe(false);
    expect(await httpFrom('i1', UPSTREAM, 8080)).toBe('');
  });

  it('blocks container-to-container traffic with enable_icc=false but not egress', async () => {
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '-o', 'com.docker.network.bridge.enable_icc=false', '--subnet', '10.41.4.0/24', 'wb4']);
    await sleeper('n1', 'wb4');
    await sleeper('n2', 'wb4');
    expect(await canPing('n1', await ipOf('n2'))).toBe(false);
    expect(await httpFrom('n1', UPSTREAM, 8080)).toBe('upstream');
  });

  it('publishes ports with docker run -p: from another namespace, from the host, and over IPv6', async () => {
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--ipv6', '--subnet', '10.41.5.0/24', '--subnet', 'fd41:5::/64', 'wb5']);
    await web('p1', 'wb5', 'hello-p1', ['-p', '8085:80', '-p', '127.0.0.1:8086:80']);
    await sleep(300);
    expect(await httpFromNs(upstream, HOST_UPLINK, 8085)).toBe('hello-p1');
    expect(await httpFromNs(host, HOST_UPLINK, 8085)).toBe('hello-p1');
    expect(await httpFromNs(host, '127.0.0.1', 8086)).toBe('hello-p1');
    // Docker configures the container's IPv6 address with DAD: it stays tentative (unreachable)
    // for a second or two after the start, whatever the network driver does.
    let v6 = '';
    for (let i = 0; i < 20 && v6 !== 'hello-p1'; i++) {
      v6 = await httpFromNs(upstream, HOST_UPLINK6, 8085);
      if (v6 !== 'hello-p1') await sleep(250);
    }
    expect(v6).toBe('hello-p1');
    // 127.0.0.1 bindings are for the host only.
    expect(await httpFromNs(upstream, HOST_UPLINK, 8086)).toBe('');
    // Hairpin: a container reaches its own published port through the host address.
    expect(await httpFrom('p1', HOST_UPLINK, 8085)).toBe('hello-p1');
    // weft shows what Docker cannot (protocol §2.7).
    const nets = JSON.parse(await weftd.cliOk(['network', 'ls', '--format', 'json']));
    const view = JSON.stringify(nets);
    expect(view).toContain('"hostPort":8085');
    await dockerd.dockerOk(['rm', '-f', 'p1']);
    expect(await httpFromNs(upstream, HOST_UPLINK, 8085)).toBe('');
  });

  it('chooses a host port for -p 80 and publishes ranges', async () => {
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.41.6.0/24', 'wb6']);
    await web('r1', 'wb6', 'hello-r1', ['-p', '80', '-p', '9000-9001:9000-9001']);
    await sleep(300);
    const nets = JSON.parse(await weftd.cliOk(['network', 'inspect', (await dockerd.dockerOk(['network', 'inspect', '-f', '{{.Id}}', 'wb6'])).stdout.trim()]));
    const ports = nets[0].endpoints[0].ports as { hostPort: number; containerPort: number }[];
    const chosen = ports.find((p) => p.containerPort === 80)!.hostPort;
    expect(chosen).toBeGreaterThanOrEqual(49153);
    expect(ports.map((p) => p.hostPort)).toEqual(expect.arrayContaining([9000, 9001]));
    expect(await httpFromNs(upstream, HOST_UPLINK, chosen)).toBe('hello-r1');
    await dockerd.dockerOk(['rm', '-f', 'r1']);
  });

  it('sets MTU 1400 on the bridge, both veth ends and the container', async () => {
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '-o', 'com.docker.network.driver.mtu=1400', '--subnet', '10.41.7.0/24', 'wb7']);
    await sleeper('m1', 'wb7');
    expect((await dockerd.dockerOk(['exec', 'm1', 'cat', '/sys/class/net/eth0/mtu'])).stdout.trim()).toBe('1400');
    const id = (await dockerd.dockerOk(['network', 'inspect', '-f', '{{.Id}}', 'wb7'])).stdout.trim();
    const links = await host.ipJson<{ ifname: string; mtu: number; master?: string }[]>(['link', 'show']);
    expect(links.find((l) => l.ifname === `wf-${id.slice(0, 12)}`)?.mtu).toBe(1400);
    expect(links.filter((l) => l.master === `wf-${id.slice(0, 12)}`).map((l) => l.mtu)).toEqual([1400]);
  });

  it('leaves no wf link, address or nft element behind after disconnect, rm -f and network rm', async () => {
    const linksBefore = (await host.ipJson<{ ifname: string }[]>(['link', 'show'])).map((l) => l.ifname).sort();
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.41.8.0/24', 'wb8']);
    await sleeper('g1', 'wb8', ['-p', '8088:80']);
    await sleeper('g2', 'bridge');
    await dockerd.dockerOk(['network', 'connect', 'wb8', 'g2']);
    await dockerd.dockerOk(['network', 'disconnect', 'wb8', 'g2']);
    await dockerd.dockerOk(['rm', '-f', 'g1', 'g2']);
    await dockerd.dockerOk(['network', 'rm', 'wb8']);
    const linksAfter = (await host.ipJson<{ ifname: string }[]>(['link', 'show'])).map((l) => l.ifname).sort();
    expect(linksAfter.filter((l) => l.startsWith('wf'))).toEqual(linksBefore.filter((l) => l.startsWith('wf')));
    const addrs = (await host.execOk(['ip', '-o', 'addr'])).stdout;
    expect(addrs).not.toContain('10.41.8.');
    const table = (await host.execOk(['nft', 'list', 'table', 'inet', 'weft'])).stdout;
    expect(table).not.toContain('10.41.8.');
    expect(table).not.toContain('8088');
  });
});
