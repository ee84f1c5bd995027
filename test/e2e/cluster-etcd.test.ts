// Cluster membership and global IPAM on a real etcd (Debian's etcd-server, started on 127.0.0.1
// by test/helpers/etcd.ts with a 250 ms heartbeat and 2.5 s election timeout). Every "host" has
// its own etcd client connection, as separate weftds would. The VTEP prober is the test's (the
// real one is tested in test/integration/cluster-prober.test.ts; the lab tests cut real links).

import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IpamService } from '../../src/ipam/ipam-service.js';
import { ErrorCodes, WeftError } from '../../src/model/errors.js';
import { openEtcdStore, type EtcdStore } from '../../src/store/etcd-store.js';
import { etcdAvailable, startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { FakeProber, TestCluster, waitFor } from '../unit/cluster/fixture.js';

const TTL = 3;
const DEAD_AFTER = 4;

const freshPrefix = () => `/weft-test/${randomBytes(6).toString('hex')}`;

async function rejection(p: Promise<unknown>): Promise<WeftError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof WeftError) return e;
    throw e;
  }
  throw new Error('expected a WeftError');
}

/** Start address of the /26 block holding an IPv4 address. */
function blockOf(address: string): string {
  const parts = address.split('/')[0]!.split('.').map(Number);
  parts[3] = parts[3]! & ~63;
  return parts.join('.');
}

describe.skipIf(!etcdAvailable())('cluster on a real etcd', () => {
  let etcd: EtcdCluster;
  const stores: EtcdStore[] = [];
  let cluster: TestCluster | undefined;

  async function open(prefix: string): Promise<EtcdStore> {
    const s = await openEtcdStore({ endpoints: etcd.endpoints, prefix });
    stores.push(s);
    return s;
  }

  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await etcd?.destroy();
  });
  afterEach(async () => {
    await cluster?.stopAll();
    cluster = undefined;
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  });

  it('membership: up everywhere; a crashed host is lost within TTL + 5 s and comes back as itself; a silent VTEP makes it gone; host rm removes it', async () => {
    const prefix = freshPrefix();
    // One etcd connection per host, opened before the cluster starts.
    const perHost = new Map<string, EtcdStore>();
    for (const id of ['h1', 'h2', 'h3']) perHost.set(id, await open(prefix));
    const prober = new FakeProber();
    const ipam = new IpamService(perHost.get('h1')!, async () => [], { hostId: 'h1' });
    const c = new TestCluster((id) => perHost.get(id)!, { ttlSeconds: TTL, deadAfterSeconds: DEAD_AFTER, prober, fencing: ipam, probeIntervalMs: 500 });
    cluster = c;
    for (const id of ['h1', 'h2', 'h3']) await c.start(id);
    await waitFor('all three see all three up', () => c.hosts.every((o) => ['h1', 'h2', 'h3'].every((id) => c.seen(o.id, id) === 'up')), 10_000);
    expect((await c.get('h2').m.hosts()).map((h) => `${h.id}:${h.state}`)).toEqual(['h1:up', 'h2:up', 'h3:up']);
    const identity = await c.get('h1').m.find('h3');

    // weftd on h3 dies: no refresh, the lease runs out.
    const crashedAt = performance.now();
    await c.get('h3').m.stop({ revoke: false });
    await waitFor('h1 and h2 see h3 lost', () => c.seen('h1', 'h3') === 'lost' && c.seen('h2', 'h3') === 'lost', (TTL + 5) * 1000 + 2_000);
    const lostAfter = performance.now() - crashedAt;
    expect(lostAfter).toBeLessThanOrEqual((TTL + 5) * 1000);
    // Its machine answers (weftd only restarting): lost, never gone.
    prober.answering.add(c.get('h3').addr);
    await new Promise((r) => setTimeout(r, (DEAD_AFTER + 1) * 1000));
    expect(c.seen('h1', 'h3')).toBe('lost');

    // Restarted with the same id: up again, the same identity.
    await c.start('h3');
    await waitFor('h1 and h2 see h3 up', () => c.seen('h1', 'h3') === 'up' && c.seen('h2', 'h3') === 'up', 10_000);
    const back = await c.get('h1').m.find('h3');
    expect(back.firstSeen).toBe(identity.firstSeen);
    expect(back.hostname).toBe(identity.hostname);

    // An up host is not removed without --force.
    expect((await rejection(c.get('h1').m.remove('h3'))).code).toBe(ErrorCodes.HOST_UP);

    // Crashes again, and now its VTEP is silent too: gone after dead-after.
    prober.answering.clear();
    await c.get('h3').m.stop({ revoke: false });
    await waitFor('h1 sees h3 lost', () => c.seen('h1', 'h3') === 'lost', (TTL + 5) * 1000 + 2_000);
    const lostAt = performance.now();
    await waitFor('h1 and h2 see h3 gone', () => c.seen('h1', 'h3') === 'gone' && c.seen('h2', 'h3') === 'gone', (DEAD_AFTER + 5) * 1000);
    const goneAfter = performance.now() - lostAt;
    expect(goneAfter).toBeGreaterThanOrEqual(DEAD_AFTER * 1000 - 500);
    expect((await c.get('h2').m.find('h3')).gone).toMatchObject({ reason: 'probe' });

    // weft host rm (served by h1): the others see it removed, it is no longer listed.
    const removed = await c.get('h1').m.remove('node-h3');
    expect(removed.id).toBe('h3');
    await waitFor('h2 sees h3 removed', () => c.get('h2').events.some((e) => e.host === 'h3' && e.removed), 5_000);
    expect((await c.get('h2').m.hosts()).map((h) => h.id)).toEqual(['h1', 'h2']);
    expect(c.get('h2').events.filter((e) => e.host === 'h3').map((e) => e.state)).toEqual(['up', 'lost', 'up', 'lost', 'gone', 'gone']);
    console.log(`[cluster-etcd] lost detected ${Math.round(lostAfter)} ms after the crash (TTL ${TTL} s); gone ${Math.round(goneAfter)} ms after lost (dead-after ${DEAD_AFTER} s)`);
  });

  it('global IPAM: five hosts allocate 1,000 addresses of a /22 at once: no duplicates, mostly in their own blocks; all released after', async () => {
    const prefix = freshPrefix();
    const hosts = ['h1', 'h2', 'h3', 'h4', 'h5'];
    const services: IpamService[] = [];
    for (const hostId of hosts) services.push(new IpamService(await open(prefix), async () => [], { hostId }));
    const poolId = (await services[0]!.requestPool({ addressSpace: 'global', pool: '10.90.0.0/22', v6: false })).poolId;

    const t0 = performance.now();
    const got = await Promise.all(
      services.flatMap((svc) =>
        Array.from({ length: 200 }, (_, i) =>
          svc.requestAddress({ poolId, kind: 'endpoint', owner: `${svc.hostId}-${i}` }).then((a) => ({ host: svc.hostId, address: a.address })),
        ),
      ),
    );
    const ms = performance.now() - t0;
    expect(new Set(got.map((g) => g.address)).size).toBe(1000);
    expect((await services[2]!.usage(poolId)).used).toBe(1000);
    const affinity = await services[0]!.blockAffinities(poolId);
    const own = got.filter((g) => affinity[blockOf(g.address)] === g.host).length;
    expect(own).toBeGreaterThanOrEqual(900);
    for (const host of hosts) expect(Object.values(affinity).filter((h) => h === host).length, host).toBeGreaterThanOrEqual(1);

    // The rest by borrowing; then the pool is exhausted.
    const rest = await Promise.all(Array.from({ length: 22 }, (_, i) => services[i % 5]!.requestAddress({ poolId, kind: 'endpoint' })));
    expect(new Set([...got.map((g) => g.address), ...rest.map((r) => r.address)]).size).toBe(1022);
    expect((await rejection(services[4]!.requestAddress({ poolId, kind: 'endpoint' }))).code).toBe(ErrorCodes.POOL_EXHAUSTED);

    await Promise.all([...got.map((g) => g.address), ...rest.map((r) => r.address)].map((a, i) => services[(i + 3) % 5]!.releaseAddress(poolId, a)));
    expect((await services[0]!.usage(poolId)).used).toBe(0);
    await services[0]!.releasePool(poolId);
    console.log(`[cluster-etcd] 1,000 concurrent global allocations from 5 hosts in ${Math.round(ms)} ms; ${own} in the allocating host's own blocks`);
  });

  it('global IPAM: a pool that is one block (/26), five hosts at once: 62 distinct, then exhausted, all released', async () => {
    const prefix = freshPrefix();
    const services: IpamService[] = [];
    for (const hostId of ['h1', 'h2', 'h3', 'h4', 'h5']) services.push(new IpamService(await open(prefix), async () => [], { hostId }));
    const poolId = (await services[0]!.requestPool({ addressSpace: 'global', pool: '10.91.0.0/26', v6: false })).poolId;
    const got = await Promise.all(Array.from({ length: 62 }, (_, i) => services[i % 5]!.requestAddress({ poolId, kind: 'endpoint' })));
    expect(new Set(got.map((g) => g.address)).size).toBe(62);
    expect((await rejection(services[1]!.requestAddress({ poolId, kind: 'endpoint' }))).message).toBe(
      'pool 10.91.0.0/26 is exhausted: 62 of 62 usable addresses in use',
    );
    await Promise.all(got.map((g, i) => services[i % 5]!.releaseAddress(poolId, g.address)));
    expect((await services[0]!.usage(poolId)).used).toBe(0);
  });
});
