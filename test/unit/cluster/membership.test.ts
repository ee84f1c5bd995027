// Cluster membership on the real embedded store (leases included), three "hosts" in one process
// with a 1 s TTL. The same scenarios run on a real etcd in test/e2e/cluster-etcd.test.ts.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hostInfoKey, hostKey } from '../../../src/cluster/host-records.js';
import { Membership } from '../../../src/cluster/membership.js';
import { IpamService } from '../../../src/ipam/ipam-service.js';
import { ErrorCodes, WeftError } from '../../../src/model/errors.js';
import { type LocalStore, openLocalStore } from '../../../src/store/local-store.js';
import { FakeProber, TestCluster, waitFor } from './fixture.js';

const TTL = 1;
const DEAD_AFTER = 2;

let dir: string;
let store: LocalStore;
let prober: FakeProber;
let cluster: TestCluster;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-cluster-'));
  store = await openLocalStore({ path: join(dir, 'store') });
  prober = new FakeProber();
});

afterEach(async () => {
  await cluster?.stopAll();
  await store.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

function newCluster(extra: { fencing?: IpamService } = {}): TestCluster {
  cluster = new TestCluster(() => store, {
    ttlSeconds: TTL,
    deadAfterSeconds: DEAD_AFTER,
    prober,
    probeIntervalMs: 200,
    resyncIntervalMs: 2_000,
    ...extra,
  });
  return cluster;
}

async function rejection(p: Promise<unknown>): Promise<WeftError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof WeftError) return e;
    throw e;
  }
  throw new Error('expected a WeftError');
}

async function startThree(c: TestCluster): Promise<void> {
  for (const id of ['h1', 'h2', 'h3']) await c.start(id);
  await waitFor('every host sees three hosts up', () => c.hosts.every((o) => ['h1', 'h2', 'h3'].every((id) => c.seen(o.id, id) === 'up')), 5_000);
}

describe('membership', () => {
  it('every host sees every host up, with identity and last-seen time', async () => {
    const c = newCluster();
    await startThree(c);
    const hosts = await c.get('h2').m.hosts();
    expect(hosts.map((h) => [h.id, h.hostname, h.state])).toEqual([
      ['h1', 'node-h1', 'up'],
      ['h2', 'node-h2', 'up'],
      ['h3', 'node-h3', 'up'],
    ]);
    for (const h of hosts) {
      expect(h.advertiseAddr).toMatch(/^192\.0\.2\.\d+$/);
      expect(h.version).toBe('0.0.0-test');
      expect(Date.now() - Date.parse(h.lastSeen!)).toBeLessThan(3_000);
    }
    // lastSeen moves with the refreshes (every ttl/3).
    const before = hosts[0]!.lastSeen!;
    await waitFor('h1 refreshes', async () => (await c.get('h3').m.hosts())[0]!.lastSeen !== before, 3_000);
  });

  it('a host whose refresh stops (a crash) is lost on the others within the TTL, and comes back with the same identity', async () => {
    const c = newCluster();
    await startThree(c);
    const firstSeen = (await c.get('h1').m.find('h3')).firstSeen;
    const stoppedAt = performance.now();
    await c.get('h3').m.stop({ revoke: false });
    await waitFor('h1 and h2 see h3 lost', () => c.seen('h1', 'h3') === 'lost' && c.seen('h2', 'h3') === 'lost', (TTL + 5) * 1000);
    expect(performance.now() - stoppedAt).toBeLessThan((TTL + 5) * 1000);
    const lost = await c.get('h1').m.find('h3');
    expect(lost).toMatchObject({ id: 'h3', hostname: 'node-h3', state: 'lost' });
    expect(lost.lastSeen).toBeDefined();

    // Its VTEP answers: weftd is only restarting, so it stays lost however long it takes.
    prober.answering.add(c.get('h3').addr);
    await new Promise((r) => setTimeout(r, (DEAD_AFTER + 1) * 1000));
    expect(c.seen('h1', 'h3')).toBe('lost');

    await c.start('h3');
    await waitFor('h1 and h2 see h3 up again', () => c.seen('h1', 'h3') === 'up' && c.seen('h2', 'h3') === 'up', 5_000);
    expect((await c.get('h1').m.find('h3')).firstSeen).toBe(firstSeen);
    const onH1 = c.get('h1').events.filter((e) => e.host === 'h3').map((e) => e.state);
    expect(onH1).toEqual(['up', 'lost', 'up']);
  });

  it('a clean stop ends the lease at once: lost immediately, not after the TTL', async () => {
    const c = newCluster();
    await startThree(c);
    await c.get('h2').m.stop();
    const ms = await waitFor('h1 sees h2 lost', () => c.seen('h1', 'h2') === 'lost', 5_000);
    expect(ms).toBeLessThan(TTL * 1000);
  });

  it('a lost host whose VTEP stays silent is gone after dead-after; its block affinities are released; it can come back', async () => {
    // The IPAM of h1 does the fencing; h3 holds a block of a global pool.
    const ipamH1 = new IpamService(store, async () => [], { hostId: 'h1' });
    const ipamH3 = new IpamService(store, async () => [], { hostId: 'h3' });
    const poolId = (await ipamH1.requestPool({ addressSpace: 'global', pool: '10.80.0.0/24', v6: false })).poolId;
    const addr = (await ipamH3.requestAddress({ poolId, kind: 'endpoint', owner: 'c1' })).address;
    expect(Object.values(await ipamH1.blockAffinities(poolId))).toEqual(['h3']);

    const c = newCluster({ fencing: ipamH1 });
    await startThree(c);
    await c.get('h3').m.stop({ revoke: false });
    await waitFor('h1 sees h3 lost', () => c.seen('h1', 'h3') === 'lost', (TTL + 5) * 1000);
    const lostAt = performance.now();
    expect(prober.answering.has(c.get('h3').addr)).toBe(false);
    await waitFor('h1 and h2 see h3 gone', () => c.seen('h1', 'h3') === 'gone' && c.seen('h2', 'h3') === 'gone', (DEAD_AFTER + 5) * 1000);
    expect(performance.now() - lostAt).toBeGreaterThanOrEqual(DEAD_AFTER * 1000 - 300);
    expect(prober.probed).toContain(c.get('h3').addr);
    const gone = await c.get('h2').m.find('h3');
    expect(gone.state).toBe('gone');
    expect(gone.gone).toMatchObject({ reason: 'probe' });

    // Fencing: the block is no longer h3's, but h3's address stays held.
    await waitFor('affinity released', async () => Object.keys(await ipamH1.blockAffinities(poolId)).length === 0, 3_000);
    expect((await ipamH1.allocations(poolId)).map((a) => `${a.address}/24`)).toEqual([addr]);

    // Back (link restored, weftd restarted): up again, the gone mark cleared.
    await c.start('h3');
    await waitFor('h1 sees h3 up', () => c.seen('h1', 'h3') === 'up', 5_000);
    expect((await c.get('h1').m.find('h3')).gone).toBeUndefined();
    expect(c.get('h2').events.filter((e) => e.host === 'h3').map((e) => e.state)).toEqual(['up', 'lost', 'gone', 'up']);
  });

  it('a host that lost its lease behind its back registers again', async () => {
    const c = newCluster();
    await startThree(c);
    // What an etcd outage longer than the TTL does: the lease is over when the store returns.
    await (c.get('h2').m as unknown as { lease: { revoke(): Promise<void> } }).lease.revoke();
    await waitFor('h1 sees h2 lost', () => c.seen('h1', 'h2') === 'lost', 3_000);
    await waitFor('h1 sees h2 up again', () => c.seen('h1', 'h2') === 'up', 3_000);
  });
});

describe('weft host rm (Membership.remove)', () => {
  it('refuses an up host without force, this host, and unknown names; removes a lost one and frees its addresses', async () => {
    const ipamH1 = new IpamService(store, async () => [], { hostId: 'h1' });
    const ipamH3 = new IpamService(store, async () => [], { hostId: 'h3' });
    const poolId = (await ipamH1.requestPool({ addressSpace: 'global', pool: '10.81.0.0/24', v6: false })).poolId;
    await ipamH1.requestAddress({ poolId, kind: 'gateway' });
    for (let i = 0; i < 5; i++) await ipamH3.requestAddress({ poolId, kind: 'endpoint', owner: `c${i}` });

    const c = newCluster({ fencing: ipamH1 });
    await startThree(c);
    const m1 = c.get('h1').m;

    const up = await rejection(m1.remove('h3'));
    expect(up.code).toBe(ErrorCodes.HOST_UP);
    expect(up.message).toMatch(/^host h3 \(node-h3\) is up: .*use --force/);
    expect((await rejection(m1.remove('h1'))).code).toBe(ErrorCodes.BAD_REQUEST);
    const nf = await rejection(m1.remove('nope'));
    expect(nf.code).toBe(ErrorCodes.HOST_NOT_FOUND);
    expect(nf.message).toBe('host "nope" not found: weft host ls lists the hosts of the cluster');
    expect((await ipamH1.usage(poolId)).used).toBe(6);

    await c.get('h3').m.stop();
    await waitFor('h1 sees h3 lost', () => c.seen('h1', 'h3') === 'lost', 3_000);
    // By hostname.
    const removed = await m1.remove('node-h3');
    expect(removed).toMatchObject({ id: 'h3', state: 'gone' });
    expect((await m1.hosts()).map((h) => h.id)).toEqual(['h1', 'h2']);
    expect(await store.get(hostInfoKey('h3'))).toBeUndefined();
    await waitFor('h2 sees h3 removed', () => c.get('h2').events.some((e) => e.host === 'h3' && e.state === 'gone' && e.removed), 3_000);
    expect(c.seen('h2', 'h3')).toBeUndefined();
    // Only h3's endpoint addresses were freed: the gateway stays.
    expect(await ipamH1.allocations(poolId)).toEqual([{ address: '10.81.0.1', kind: 'gateway', allocatedAt: expect.any(String) }]);
    expect(await ipamH1.blockAffinities(poolId)).toEqual({});
    expect((await rejection(m1.remove('h3'))).code).toBe(ErrorCodes.HOST_NOT_FOUND);
  });

  it('an ambiguous hostname is refused; --force removes an up host, whose running weftd then registers again', async () => {
    const c = newCluster();
    await c.start('h1');
    await c.start('h2', { self: { id: 'h2', hostname: 'twin', advertiseAddr: '192.0.2.50', version: 'x' } });
    await c.start('h3', { self: { id: 'h3', hostname: 'twin', advertiseAddr: '192.0.2.51', version: 'x' } });
    const m1 = c.get('h1').m;
    const amb = await rejection(m1.remove('twin'));
    expect(amb.code).toBe(ErrorCodes.BAD_REQUEST);
    expect(amb.message).toBe('hostname "twin" names 2 hosts (h2, h3): give the host id');

    const removed = await m1.remove('h2', { force: true });
    expect(removed.id).toBe('h2');
    expect(await store.get(hostKey('h2'))).toBeUndefined();
    await waitFor('h1 saw h2 removed', () => c.get('h1').events.some((e) => e.host === 'h2' && e.removed), 3_000);
    // h2's weftd is in fact running: it notices and registers again.
    await waitFor('h2 registered again', async () => (await m1.hosts()).some((h) => h.id === 'h2' && h.state === 'up'), 3_000);
  });
});

describe('Membership options', () => {
  it('refuses a bad host id or timer', () => {
    const base = { store: {} as never, self: { id: 'h1', hostname: 'a', advertiseAddr: '', version: '1' }, ttlSeconds: 1, deadAfterSeconds: 1 };
    expect(() => new Membership({ ...base, self: { ...base.self, id: 'a/b' } })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }));
    expect(() => new Membership({ ...base, ttlSeconds: 0 })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }));
    expect(() => new Membership({ ...base, deadAfterSeconds: Number.NaN })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }));
  });

  it('a single host on the local store shows itself, up', async () => {
    const c = newCluster();
    await c.start('solo');
    const hosts = await c.get('solo').m.hosts();
    expect(hosts).toHaveLength(1);
    expect(hosts[0]).toMatchObject({ id: 'solo', state: 'up' });
  });
});
