// Concurrency (issue 7): 200 connect/disconnect requests at once on one network through the
// management API, and 10 `docker run`s at once on one weft network. Every request succeeds or
// fails with a clean error, no address is handed out twice, and `weft check` stays clean.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWeftError } from '../../src/model/errors.js';
import { BUSYBOX_IMAGE, RUN_DEFAULTS, importBusybox } from '../helpers/busybox-image.js';
import { startDockerd, type DockerdHandle } from '../helpers/dockerd.js';
import { netnsScopePerFile, type Netns } from '../helpers/netns.js';
import { apiOf, duplicateAddresses, expectCheckClean, inspectContainer, snapshot, startWeftdIn } from '../helpers/weft-docker.js';
import type { WeftdHandle } from '../helpers/weftd.js';

const SCALE = Number(process.env.WEFT_CHURN_SCALE ?? '1');
/** Namespaces connected before the burst (disconnected in it, some of them twice at once: exactly
 *  one of the two may win), fresh ones (connected in it), and fresh ones asked twice at once
 *  (exactly one of the two may win): 220 requests at scale 1. */
// The namespaces connected at once stop growing at 6x: one Linux bridge takes at most 1,024 ports.
const PRE = Math.round(50 * Math.min(SCALE, 6));
const FRESH = Math.round(100 * Math.min(SCALE, 6));
const TWICE = Math.round(50 * SCALE);
const LEAVE_TWICE = Math.round(20 * SCALE);
/** Room for every namespace connected at once (the disconnects of PRE may all come last): a /22
 *  at scale 1, a /21 at 10x (the soak). */
const PREFIX = Math.min(22, 32 - Math.ceil(Math.log2(PRE + FRESH + 3)));
const DOCKER_RUNS = Math.round(10 * SCALE);

async function inBatches<T, R>(items: T[], size: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

/** Non-loopback IPv4 addresses (CIDR) in a namespace. */
async function addressesIn(ns: Netns): Promise<string[]> {
  const links = await ns.ipJson<{ ifname: string; addr_info: { family: string; local: string; prefixlen: number }[] }[]>(['addr', 'show']);
  return links.filter((l) => l.ifname !== 'lo').flatMap((l) => l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`));
}

describe('concurrency', () => {
  let dockerd: DockerdHandle;
  let weftd: WeftdHandle;
  const scope = netnsScopePerFile();

  beforeAll(async () => {
    dockerd = await startDockerd();
    await importBusybox(dockerd);
    weftd = await startWeftdIn(dockerd);
  }, 120_000);
  afterAll(async () => {
    await dockerd?.stop();
    await weftd?.cleanup();
  });

  it(`${PRE + LEAVE_TWICE + FRESH + TWICE} parallel connect/disconnect requests on one network: each succeeds or fails cleanly, no address twice`, async () => {
    await weftd.cliOk(['network', 'create', '--subnet', `10.71.0.0/${PREFIX}`, 'cc']);
    const api = apiOf(weftd, 180_000);
    const all = await inBatches(Array.from({ length: PRE + FRESH }, (_, i) => i), 10, () => scope.create());
    const pre = all.slice(0, PRE);
    const fresh = all.slice(PRE);
    await inBatches(pre, 25, (ns) => api.connect('cc', { netns: ns.name }));

    type Req = { kind: 'connect' | 'disconnect'; ns: Netns };
    const reqs: Req[] = [
      ...pre.map((ns) => ({ kind: 'disconnect' as const, ns })),
      ...pre.slice(0, LEAVE_TWICE).map((ns) => ({ kind: 'disconnect' as const, ns })),
      ...fresh.map((ns) => ({ kind: 'connect' as const, ns })),
      ...fresh.slice(0, TWICE).map((ns) => ({ kind: 'connect' as const, ns })),
    ];
    reqs.sort(() => Math.random() - 0.5);
    const results = await Promise.allSettled(reqs.map((r) => (r.kind === 'connect' ? api.connect('cc', { netns: r.ns.name }) : api.disconnect('cc', { netns: r.ns.name }))));

    const unexpected: string[] = [];
    const wins = new Map<string, number>();
    const left = new Map<string, number>();
    results.forEach((res, i) => {
      const r = reqs[i]!;
      if (res.status === 'fulfilled') {
        const count = r.kind === 'connect' ? wins : left;
        count.set(r.ns.name, (count.get(r.ns.name) ?? 0) + 1);
        return;
      }
      // The only clean refusals here: the second of two connects, or of two disconnects, of one namespace.
      if (r.kind === 'connect' && isWeftError(res.reason, 'WEFT_ERR_ENDPOINT_EXISTS')) return;
      if (r.kind === 'disconnect' && isWeftError(res.reason, 'WEFT_ERR_ENDPOINT_NOT_FOUND')) return;
      unexpected.push(`${r.kind} ${r.ns.name}: ${res.reason instanceof Error ? res.reason.message : String(res.reason)}`);
    });
    expect(unexpected).toEqual([]);
    for (const ns of fresh) expect(wins.get(ns.name), `${ns.name} connected exactly once`).toBe(1);
    for (const ns of pre) expect(left.get(ns.name), `${ns.name} disconnected exactly once`).toBe(1);

    const net = (await snapshot(weftd)).find((n) => n.name === 'cc')!;
    expect(duplicateAddresses([net])).toEqual([]);
    expect(net.endpoints.map((e) => e.netns).sort()).toEqual(fresh.map((ns) => ns.name).sort());
    // The kernel agrees: each fresh namespace holds exactly its address, the others nothing.
    const held = new Map(net.endpoints.map((e) => [e.netns!, e.ipv4!]));
    const kernel = await inBatches(all, 20, async (ns) => [ns.name, await addressesIn(ns)] as const);
    for (const [name, addrs] of kernel) expect(addrs, name).toEqual(held.has(name) ? [held.get(name)] : []);
    await expectCheckClean(weftd, 'after the burst');

    // And all of them away at once.
    const gone = await Promise.allSettled(fresh.map((ns) => api.disconnect('cc', { netns: ns.name })));
    expect(gone.filter((g) => g.status === 'rejected')).toEqual([]);
    expect((await snapshot(weftd)).find((n) => n.name === 'cc')!.endpoints).toEqual([]);
    await expectCheckClean(weftd, 'after disconnecting all');
    await weftd.cliOk(['network', 'rm', 'cc']);
  }, 300_000 * Math.max(1, SCALE));

  it(`${DOCKER_RUNS} parallel docker runs on one network get distinct addresses`, async () => {
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.72.0.0/24', 'dc']);
    const names = Array.from({ length: DOCKER_RUNS }, (_, i) => `p${i}`);
    const runs = await Promise.all(names.map((n) => dockerd.docker(['run', ...RUN_DEFAULTS, '-d', '--name', n, '--network', 'dc', BUSYBOX_IMAGE, 'sleep', '600'], { timeoutMs: 180_000 })));
    expect(runs.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
    const ips = await Promise.all(names.map(async (n) => (await inspectContainer(dockerd, n)).networks.dc!.ip));
    expect(new Set(ips).size).toBe(DOCKER_RUNS);
    const net = (await snapshot(weftd)).find((n) => n.origin === 'docker' && n.ipam[0]?.subnet === '10.72.0.0/24')!;
    expect(net.endpoints).toHaveLength(DOCKER_RUNS);
    expect(duplicateAddresses([net])).toEqual([]);
    await expectCheckClean(weftd, 'with the containers running');

    const rms = await Promise.all(names.map((n) => dockerd.docker(['rm', '-f', n], { timeoutMs: 180_000 })));
    expect(rms.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
    expect((await snapshot(weftd)).find((n) => n.id === net.id)!.endpoints).toEqual([]);
    await expectCheckClean(weftd, 'after removing the containers');
    await dockerd.dockerOk(['network', 'rm', 'dc']);
  }, 300_000 * Math.max(1, SCALE));
});
