// weft-overlay through Docker on the netns lab (docs/overlay.md, "Through Docker"): 3 hosts on
// etcd, each with its own dockerd (`scripts/lab up --docker`: data root, exec root and the plugin
// folder of that host, where its weftd listens). `docker network create` runs on h1 only; docker-sync
// gives h2's and h3's engines their copies; containers there get addresses from the one global
// pool and ping each other. Also: an engine dropping its copy while others use the network keeps
// the cluster's pool (and gets its copy back), the default-IPAM and missing-identity refusals, and
// removal cluster-wide from either front door. Runs the built weft (`npm run build` first).

import { tmpdir } from 'node:os';
import { request } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, sleep, type RunResult } from '../helpers/process.js';

const LAB = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'scripts/lab');
const NAME = 'wt-ovd';
const DIR = path.join(tmpdir(), `weft-lab-test-${NAME}`);
const HOSTS = ['h1', 'h2', 'h3'] as const;
type Host = (typeof HOSTS)[number];
const NET = 'dov1';
const SUBNET = '10.73.0.0/24';

const lab = (args: string[], timeoutMs = 120_000): Promise<RunResult> => run([LAB, '--name', NAME, '--dir', DIR, ...args], { timeoutMs });
async function labOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await lab(args, timeoutMs);
  if (r.code !== 0) throw new Error(`lab ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}
/** The docker CLI on host h, against that host's own dockerd (lab exec sets DOCKER_HOST). */
const docker = (h: Host, args: string[], timeoutMs = 60_000) => lab(['exec', h, '--', 'docker', ...args], timeoutMs);
const dockerOk = (h: Host, args: string[], timeoutMs?: number) => labOk(['exec', h, '--', 'docker', ...args], timeoutMs);
const weftOk = (h: Host, args: string[]) => labOk(['exec', h, '--', 'weft', ...args]);

/** GET on a host's weftd API socket (a file in the lab dir, reachable from here). */
function api<T>(h: Host, p: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: path.join(DIR, h, 'weft.sock'), path: p }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as T) : reject(new Error(`${p}: ${res.statusCode} ${body}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitUntil(what: string, fn: () => Promise<boolean>, limitMs: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < limitMs) {
    if (await fn()) return Date.now() - t0;
    await sleep(200);
  }
  throw new Error(`${what}: not within ${limitMs} ms`);
}

/** The engine's weft-overlay networks on host h: name -> Docker NetworkID. */
async function overlayNets(h: Host): Promise<Map<string, string>> {
  const out = await dockerOk(h, ['network', 'ls', '--no-trunc', '--filter', 'driver=weft-overlay', '--format', '{{.Name}} {{.ID}}']);
  return new Map(out.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

async function clusterNets(h: Host): Promise<Array<{ id: string; name: string; driver: string }>> {
  return JSON.parse(await weftOk(h, ['network', 'ls', '--format', 'json'])) as Array<{ id: string; name: string; driver: string }>;
}

const ipOf = async (h: Host, container: string, net = NET): Promise<string> =>
  (await dockerOk(h, ['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, container])).trim();

const pingFrom = (h: Host, container: string, ip: string) => docker(h, ['exec', container, 'ping', '-c', '1', '-W', '1', ip]);

/** Pings until one answer (peer entries converge right after the endpoint is created), then once more must succeed. */
async function pings(h: Host, container: string, ip: string): Promise<void> {
  await waitUntil(`${container} on ${h} pings ${ip}`, async () => (await pingFrom(h, container, ip)).code === 0, 15_000);
  expect((await pingFrom(h, container, ip)).code).toBe(0);
}

const CREATE = ['network', 'create', '-d', 'weft-overlay', '-o', `weft.network=${NET}`, '--ipam-driver', 'weft', '--ipam-opt', `weft.network=${NET}`, '--subnet', SUBNET, NET];

describe('weft-overlay through Docker on the lab', () => {
  beforeAll(async () => {
    const t0 = Date.now();
    await labOk(['up', '--hosts', '3', '--docker', '--host-ttl', '3'], 240_000);
    console.info(`lab up --hosts 3 --docker took ${Date.now() - t0} ms`);
  }, 300_000);

  afterAll(async () => {
    if (process.env.WEFT_TEST_KEEP_LAB) return;
    const r = await lab(['down'], 180_000);
    if (r.code !== 0) console.error(`lab down: ${r.stderr}`);
  }, 200_000);

  it('docker network create on h1 only: every engine gets the network, containers on h2 and h3 ping each other', async () => {
    await dockerOk('h1', CREATE);
    const synced = await waitUntil('the network on every engine', async () => {
      const all = await Promise.all(HOSTS.map(overlayNets));
      return all.every((m) => m.has(NET));
    }, 30_000);
    console.info(`docker-sync: ${NET} on h2 and h3 ${synced} ms after docker network create on h1`);
    // Each engine has its own NetworkID; they all stand for the one cluster network.
    const ids = await Promise.all(HOSTS.map(async (h) => (await overlayNets(h)).get(NET)!));
    expect(new Set(ids).size).toBe(3);
    const cluster = (await clusterNets('h3')).filter((n) => n.name === NET);
    expect(cluster).toHaveLength(1);
    expect(cluster[0]!.driver).toBe('overlay');
    expect(cluster[0]!.id).toBe(ids[0]); // created through h1's engine: its NetworkID is the weft id

    await dockerOk('h2', ['run', '-d', '--name', 'c2', '--pull', 'never', '--network', NET, 'busybox', 'sleep', '600']);
    await dockerOk('h3', ['run', '-d', '--name', 'c3', '--pull', 'never', '--network', NET, 'busybox', 'sleep', '600']);
    const ip2 = await ipOf('h2', 'c2');
    const ip3 = await ipOf('h3', 'c3');
    expect(ip2).toMatch(/^10\.73\.0\.\d+$/);
    expect(ip3).toMatch(/^10\.73\.0\.\d+$/);
    expect(ip2).not.toBe(ip3);
    // The distributed gateway: the network's one gateway, on every host.
    for (const [h, c] of [['h2', 'c2'], ['h3', 'c3']] as const) expect(await dockerOk(h, ['exec', c, 'ip', 'route'])).toMatch(/^default via 10\.73\.0\.1 dev eth0/m);

    await pings('h2', 'c2', ip3);
    await pings('h3', 'c3', ip2);

    // Store, IPAM and kernel agree on every host (the other hosts' addresses in the global pool are theirs).
    for (const h of HOSTS) {
      const check = await lab(['exec', h, '--', 'weft', 'check']);
      expect(check.code, `weft check on ${h}: ${check.stdout}${check.stderr}`).toBe(0);
    }
    const stats = await api<{ dockerSync?: { created: number } }>('h2', '/v1/overlay');
    expect(stats.dockerSync?.created).toBeGreaterThanOrEqual(1);
  });

  it('an engine dropping its copy while others use the network keeps the cluster pool and gets its copy back', async () => {
    const before = (await overlayNets('h1')).get(NET);
    expect(before).toBeDefined();
    // Docker ignores DeleteNetwork errors: h1's engine drops its copy; weft refuses the cluster-wide removal.
    await dockerOk('h1', ['network', 'rm', NET]);
    expect((await clusterNets('h1')).some((n) => n.name === NET)).toBe(true);
    const back = await waitUntil('h1\'s engine has a new copy', async () => {
      const now = (await overlayNets('h1')).get(NET);
      return now !== undefined && now !== before;
    }, 30_000);
    console.info(`docker-sync: h1's copy back ${back} ms after docker network rm`);
    // The pool was not released by h1's ReleasePool: a container on h1 gets a third address and reaches both.
    await dockerOk('h1', ['run', '-d', '--name', 'c1', '--pull', 'never', '--network', NET, 'busybox', 'sleep', '600']);
    const ips = await Promise.all([ipOf('h1', 'c1'), ipOf('h2', 'c2'), ipOf('h3', 'c3')]);
    expect(new Set(ips).size).toBe(3);
    await pings('h1', 'c1', ips[1]!);
    await pings('h1', 'c1', ips[2]!);
    await dockerOk('h1', ['rm', '-f', 'c1']);
  });

  it('refuses Docker\'s default IPAM and a missing identity, saying why and what to run, and creates nothing', async () => {
    const before = (await clusterNets('h2')).map((n) => n.name).sort();
    const defaultIpam = await docker('h2', ['network', 'create', '-d', 'weft-overlay', '-o', 'weft.network=dbad', '--subnet', '10.74.0.0/24', 'dbad']);
    expect(defaultIpam.code).not.toBe(0);
    expect(defaultIpam.stderr).toMatch(/not Docker's default IPAM/);
    expect(defaultIpam.stderr).toMatch(/two hosts would hand out the same addresses/);
    expect(defaultIpam.stderr).toContain('docker network create -d weft-overlay -o weft.network=dbad --ipam-driver weft --ipam-opt weft.network=dbad --subnet 10.74.0.0/24 dbad');

    const noIdentity = await docker('h2', ['network', 'create', '-d', 'weft-overlay', '--ipam-driver', 'weft', '--subnet', '10.74.0.0/24', 'dbad2']);
    expect(noIdentity.code).not.toBe(0);
    expect(noIdentity.stderr).toMatch(/needs the cluster network's name in -o weft.network=NAME/);
    expect(noIdentity.stderr).toMatch(/two hosts would hand out the same addresses/);
    expect(noIdentity.stderr).toContain('docker network create -d weft-overlay -o weft.network=NAME --ipam-driver weft --ipam-opt weft.network=NAME');

    expect((await clusterNets('h2')).map((n) => n.name).sort()).toEqual(before);
    for (const h of HOSTS) expect([...(await overlayNets(h)).keys()].sort()).toEqual([NET]);
    // Both rolled back their pools: the subnet is free for a weft network in either space.
    await weftOk('h2', ['network', 'create', '-d', 'overlay', '--subnet', '10.74.0.0/24', 'dfree']);
    await weftOk('h2', ['network', 'rm', 'dfree']);
  });

  it('removal: weft network rm anywhere, docker network rm on the creating engine; other engines\' copies come back', async () => {
    await dockerOk('h2', ['rm', '-f', 'c2']);
    await dockerOk('h3', ['rm', '-f', 'c3']);
    await weftOk('h3', ['network', 'rm', NET]);
    await waitUntil(`${NET} gone from every engine`, async () => (await Promise.all(HOSTS.map(overlayNets))).every((m) => !m.has(NET)), 30_000);

    // Created through weft: every engine has a copy; dropping one (docker network prune would too) keeps the network.
    await weftOk('h2', ['network', 'create', '-d', 'overlay', '--subnet', '10.75.0.0/24', 'dov2']);
    await waitUntil('dov2 on every engine', async () => (await Promise.all(HOSTS.map(overlayNets))).every((m) => m.has('dov2')), 30_000);
    const copy = (await overlayNets('h3')).get('dov2');
    await dockerOk('h3', ['network', 'rm', 'dov2']);
    await waitUntil('h3\'s copy of dov2 back', async () => {
      const now = (await overlayNets('h3')).get('dov2');
      return now !== undefined && now !== copy;
    }, 30_000);
    expect((await clusterNets('h1')).some((n) => n.name === 'dov2')).toBe(true);
    await weftOk('h1', ['network', 'rm', 'dov2']);
    await waitUntil('dov2 gone from every engine', async () => (await Promise.all(HOSTS.map(overlayNets))).every((m) => !m.has('dov2')), 30_000);

    // Created through h2's engine: docker network rm there removes it from the cluster, and its pool with it.
    await dockerOk('h2', ['network', 'create', '-d', 'weft-overlay', '-o', 'weft.network=dov3', '--ipam-driver', 'weft', '--ipam-opt', 'weft.network=dov3', '--subnet', '10.75.0.0/24', 'dov3']);
    await waitUntil('dov3 on every engine', async () => (await Promise.all(HOSTS.map(overlayNets))).every((m) => m.has('dov3')), 30_000);
    await dockerOk('h2', ['network', 'rm', 'dov3']);
    await waitUntil('dov3 gone from every engine', async () => (await Promise.all(HOSTS.map(overlayNets))).every((m) => !m.has('dov3')), 30_000);
    expect((await clusterNets('h1')).some((n) => n.name === 'dov3')).toBe(false);
    await weftOk('h1', ['network', 'create', '-d', 'overlay', '--subnet', '10.75.0.0/24', 'dov4']);
    await weftOk('h1', ['network', 'rm', 'dov4']);
  });
});
