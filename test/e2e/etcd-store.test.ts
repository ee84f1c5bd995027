// EtcdStore against a real etcd (Debian's etcd-server, started by test/helpers/etcd.ts on
// 127.0.0.1): the shared Store contract, then what only etcd brings: watch resume across an etcd
// restart and across a cut connection, compaction, a three-member cluster losing and regaining
// members, and the errors of opening.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type Server } from 'node:net';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, WeftError, isWeftError } from '../../src/model/errors.js';
import { openEtcdStore, type EtcdStore } from '../../src/store/etcd-store.js';
import { openStore } from '../../src/store/open-store.js';
import type { WatchEvent } from '../../src/store/store.js';
import { storeContract } from '../contract/store-contract.js';
import { freePort, makeTestPki, startEtcd, TcpProxy, type EtcdCluster } from '../helpers/etcd.js';
import { sleep } from '../helpers/process.js';

/** A prefix of its own for every test: the contract wants an empty store per test. */
const freshPrefix = () => `/weft-test/${randomBytes(6).toString('hex')}`;

async function waitFor(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

async function errorOf(fn: () => Promise<unknown>): Promise<WeftError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof WeftError) return e;
    throw e;
  }
  throw new Error('expected a WeftError, but the call succeeded');
}

/** Retries a store call until it succeeds (after an outage the client needs a moment). */
async function eventually<T>(fn: () => Promise<T>, what: string, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!isWeftError(e, ErrorCodes.STORE_UNAVAILABLE) || Date.now() > until) throw new Error(`${what} never succeeded: ${(e as Error).message}`);
      await sleep(200);
    }
  }
}

const keysOf = (evs: WatchEvent[]) => evs.map((e) => `${e.type} ${e.key}`);

describe('EtcdStore on one etcd member', () => {
  let etcd: EtcdCluster;
  const stores: EtcdStore[] = [];
  async function open(prefix = freshPrefix(), endpoints = etcd.endpoints, extra: { onWatchError?: (e: unknown) => void } = {}) {
    const s = await openEtcdStore({ endpoints, prefix, ...extra });
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
    for (const s of stores.splice(0)) await s.close();
  });

  storeContract('EtcdStore', async () => {
    const store = await openEtcdStore({ endpoints: etcd.endpoints, prefix: freshPrefix() });
    return { store, teardown: () => store.close() };
  });

  it('keys live under the prefix as JSON text, and list/watch never see a sibling prefix', async () => {
    const prefix = freshPrefix();
    const a = await open(prefix);
    const b = await open(`${prefix}x`);
    await a.put('net/1', { name: 'one' });
    await b.put('net/2', 2);
    const raw = new Etcd3({ hosts: etcd.endpoints });
    try {
      expect(await raw.get(`${prefix}/net/1`).string()).toBe('{"name":"one"}');
    } finally {
      raw.close();
    }
    expect((await a.list('')).map((kv) => kv.key)).toEqual(['net/1']);
    expect((await b.list('')).map((kv) => kv.key)).toEqual(['net/2']);
  });

  it('a value that is not JSON (another program under the prefix) is an error naming the prefix', async () => {
    const prefix = freshPrefix();
    const s = await open(prefix);
    const raw = new Etcd3({ hosts: etcd.endpoints });
    try {
      await raw.put(`${prefix}/foreign`).value('not json');
    } finally {
      raw.close();
    }
    const e = await errorOf(() => s.get('foreign'));
    expect(e.code).toBe(ErrorCodes.STORE_SCHEMA);
    expect(e.message).toContain(prefix);
  });

  it('watch from a revision etcd has compacted fails with STORE_COMPACTED', async () => {
    const s = await open();
    const r1 = await s.put('c/1', 1);
    await s.put('c/1', 2);
    const r3 = await s.put('c/1', 3);
    const raw = new Etcd3({ hosts: etcd.endpoints });
    try {
      await raw.kv.compact({ revision: r3, physical: true });
    } finally {
      raw.close();
    }
    const e = await errorOf(() => s.watch('c/', () => undefined, { afterRevision: r1 }));
    expect(e.code).toBe(ErrorCodes.STORE_COMPACTED);
    expect(e.message).toContain(String(r1));
    // From the compaction point on it works.
    const events: WatchEvent[] = [];
    await s.watch('c/', (ev) => events.push(ev), { afterRevision: r3 });
    const r4 = await s.put('c/2', 4);
    await waitFor(() => events.length >= 1, 'the event after the compaction point');
    expect(events.map((ev) => ev.revision)).toEqual([r4]);
  });

  describe('watch resume', () => {
    it('survives an etcd restart: a write after it arrives exactly once', async () => {
      const s = await open();
      const events: WatchEvent[] = [];
      await s.watch('w/', (ev) => events.push(ev));
      const r1 = await s.put('w/before', 1);
      await waitFor(() => events.length === 1, 'the first event');

      await etcd.stop(0);
      await sleep(500); // the stream notices, and retries against a dead port for a while
      await etcd.start(0);
      const r2 = await eventually(() => s.put('w/after', 2), 'a put after the restart');
      await waitFor(() => events.length >= 2, 'the event after the restart');
      await sleep(300);
      expect(events.map((e) => [e.key, e.revision])).toEqual([
        ['w/before', r1],
        ['w/after', r2],
      ]);
    });

    it('writes made while the watcher was cut off arrive after it reconnects, in order, once each', async () => {
      const proxy = await TcpProxy.start(etcd.members[0]!.clientPort);
      try {
        const watched = await open(freshPrefix(), [proxy.endpoint]);
        const writer = await open(watched.prefix);
        const events: WatchEvent[] = [];
        await watched.watch('m/', (ev) => events.push(ev));
        await writer.put('m/0', 0);
        await waitFor(() => events.length === 1, 'the first event');

        await proxy.cut();
        const revs: number[] = [];
        for (let i = 1; i <= 5; i++) revs.push(await writer.put(`m/${i}`, i));
        revs.push((await writer.txn({ compares: [], success: [{ type: 'delete', key: 'm/1' }, { type: 'put', key: 'm/6', value: 6 }] })).revision);
        await sleep(300);
        expect(events).toHaveLength(1);

        await proxy.restore();
        await waitFor(() => events.length >= 8, 'the missed events', 20_000);
        await sleep(300);
        expect(keysOf(events)).toEqual(['put m/0', 'put m/1', 'put m/2', 'put m/3', 'put m/4', 'put m/5', 'delete m/1', 'put m/6']);
        expect(events.slice(1).map((e) => e.revision)).toEqual([...revs.slice(0, 5), revs[5], revs[5]]);
        expect(events[6]!.value).toBe(1);
      } finally {
        await proxy.cut();
      }
    });

    it('a watcher resuming from an old revision and cut off right away still gets the whole replay, once', async () => {
      // etcd confirms a watch with its *current* revision; a client that took that as its resume
      // point (the etcd3 package's Watcher does) would skip a replay not yet received when cut.
      const proxy = await TcpProxy.start(etcd.members[0]!.clientPort);
      try {
        const writer = await open();
        const start = await writer.revision();
        for (let i = 0; i < 200; i++) await writer.put(`h/${String(i).padStart(3, '0')}`, i);
        const watched = await open(writer.prefix, [proxy.endpoint]);
        const events: WatchEvent[] = [];
        await watched.watch('h/', (ev) => events.push(ev), { afterRevision: start });
        await proxy.cut();
        await sleep(300);
        await proxy.restore();
        await writer.put('h/new', 'n');
        await waitFor(() => events.length >= 201, 'the whole replay and the new event', 20_000);
        await sleep(300);
        expect(events.map((e) => e.key)).toEqual([...Array.from({ length: 200 }, (_, i) => `h/${String(i).padStart(3, '0')}`), 'h/new']);
      } finally {
        await proxy.cut();
      }
    });

    it('a watcher cut off past a compaction reports STORE_COMPACTED and stops', async () => {
      const proxy = await TcpProxy.start(etcd.members[0]!.clientPort);
      try {
        const errors: unknown[] = [];
        const watched = await open(freshPrefix(), [proxy.endpoint], { onWatchError: (e) => errors.push(e) });
        const writer = await open(watched.prefix);
        const events: WatchEvent[] = [];
        await watched.watch('k/', (ev) => events.push(ev));
        await writer.put('k/1', 1);
        await waitFor(() => events.length === 1, 'the first event');
        await proxy.cut();
        await writer.put('k/2', 2);
        const r3 = await writer.put('k/3', 3);
        const raw = new Etcd3({ hosts: etcd.endpoints });
        try {
          await raw.kv.compact({ revision: r3, physical: true });
        } finally {
          raw.close();
        }
        await proxy.restore();
        await waitFor(() => errors.length >= 1, 'the compaction error', 20_000);
        expect(isWeftError(errors[0], ErrorCodes.STORE_COMPACTED)).toBe(true);
        await writer.put('k/4', 4);
        await sleep(500);
        expect(events.map((e) => e.key)).toEqual(['k/1']);
      } finally {
        await proxy.cut();
      }
    });
  });

  describe('opening', () => {
    it('an etcd that refuses connections is STORE_UNAVAILABLE naming the address, within the dial timeout', async () => {
      const port = await freePort();
      const t0 = Date.now();
      const e = await errorOf(() => openEtcdStore({ endpoints: [`127.0.0.1:${port}`], prefix: '/weft', dialTimeoutMs: 2_000 }));
      expect(Date.now() - t0).toBeLessThan(3_000);
      expect(e.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
      expect(e.message).toContain(`cannot reach etcd at 127.0.0.1:${port}`);
    });

    it('an endpoint that accepts but never answers fails after the dial timeout, not later', async () => {
      const sockets: import('node:net').Socket[] = [];
      const silent: Server = createServer((s) => sockets.push(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
      const port = (silent.address() as { port: number }).port;
      try {
        const t0 = Date.now();
        const e = await errorOf(() => openStore({ store: `etcd://127.0.0.1:${port}`, stateDir: '/nonexistent', etcdPrefix: '/weft' }, { dialTimeoutMs: 1_500 }));
        const took = Date.now() - t0;
        expect(took).toBeGreaterThanOrEqual(1_400);
        expect(took).toBeLessThan(3_000);
        expect(e.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
        expect(e.message).toContain(`127.0.0.1:${port}`);
        expect(e.message).toContain('1500 ms');
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => silent.close(() => r()));
      }
    });

    it('openStore with etcd:// opens an EtcdStore with the prefix', async () => {
      const prefix = freshPrefix();
      const s = await openStore({ store: `etcd://${etcd.endpoints.join(',')}`, stateDir: '/nonexistent', etcdPrefix: prefix });
      try {
        expect(s.scope).toBe('global');
        expect((s as EtcdStore).prefix).toBe(prefix);
        await s.put('x', 1);
        expect((await s.get('x'))?.value).toBe(1);
      } finally {
        await s.close();
      }
    });

    it('a TLS file that does not exist is named in the error, before any connection', async () => {
      const e = await errorOf(() =>
        openStore({ store: `etcd://${etcd.endpoints[0]}`, stateDir: '/x', etcdCacert: '/nonexistent/ca.pem' }),
      );
      expect(e.code).toBe(ErrorCodes.INVALID_OPTION);
      expect(e.message).toContain('/nonexistent/ca.pem');
      expect(e.message).toContain('--etcd-cacert');
    });
  });
});

describe('EtcdStore over TLS with client certificates', () => {
  let etcd: EtcdCluster;
  let otherCa: string;
  const dirs: string[] = [];
  beforeAll(async () => {
    etcd = await startEtcd({ tls: true });
    const dir = await mkdtemp(path.join(tmpdir(), 'weft-pki-'));
    dirs.push(dir);
    otherCa = (await makeTestPki(dir)).cacert;
  });
  afterAll(async () => {
    await etcd?.destroy();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('with the CA, certificate and key it works: put, get, watch, lease', async () => {
    const pki = etcd.pki!;
    const s = await openStore({
      store: `etcd://${etcd.endpoints[0]}`,
      stateDir: '/nonexistent',
      etcdPrefix: freshPrefix(),
      etcdCacert: pki.cacert,
      etcdCert: pki.clientCert,
      etcdKey: pki.clientKey,
    });
    try {
      const events: WatchEvent[] = [];
      await s.watch('', (ev) => events.push(ev));
      const lease = await s.grantLease(30);
      const rev = await s.put('tls/k', { ok: true }, { lease: lease.id });
      expect(await s.get('tls/k')).toMatchObject({ value: { ok: true }, modRevision: rev });
      await lease.keepAlive();
      await lease.revoke();
      await waitFor(() => events.length >= 2, 'put and delete events');
      expect(keysOf(events)).toEqual(['put tls/k', 'delete tls/k']);
    } finally {
      await s.close();
    }
  });

  it('without a client certificate, with another CA, or without TLS: STORE_UNAVAILABLE naming the endpoint', async () => {
    const pki = etcd.pki!;
    const ep = etcd.endpoints[0]!;
    const attempts = [
      { cacert: pki.cacert },
      { cacert: otherCa, cert: pki.clientCert, key: pki.clientKey },
      undefined,
    ];
    for (const tls of attempts) {
      const t0 = Date.now();
      const e = await errorOf(() => openEtcdStore({ endpoints: [ep], prefix: '/weft', dialTimeoutMs: 2_000, ...(tls ? { tls } : {}) }));
      expect(e.code, JSON.stringify(tls)).toBe(ErrorCodes.STORE_UNAVAILABLE);
      expect(e.message).toContain(ep);
      expect(Date.now() - t0).toBeLessThan(3_000);
    }
  });
});

describe('EtcdStore on a three-member cluster', () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcd({ size: 3 });
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('one member down: writes go on; quorum lost: calls fail fast with STORE_UNAVAILABLE; quorum back: nothing acknowledged is lost', async () => {
    const store = await openEtcdStore({ endpoints: cluster.endpoints, prefix: freshPrefix() });
    const events: WatchEvent[] = [];
    try {
      await store.watch('q/', (ev) => events.push(ev));
      const acked = new Map<string, number>();
      const write = async (key: string) => acked.set(key, await store.put(`q/${key}`, key));

      await write('all-up');
      await cluster.stop(0);
      for (let i = 0; i < 10; i++) await write(`one-down-${i}`);
      // New watchers start too, whichever member the client tries first.
      for (let i = 0; i < 6; i++) {
        const seen: WatchEvent[] = [];
        const w = await store.watch('q/', (ev) => seen.push(ev), { afterRevision: acked.get('all-up')! - 1 });
        await waitFor(() => seen.length >= 11, 'the replay on a new watcher');
        await w.cancel();
      }
      const res = await store.txn({ compares: [{ key: 'q/one-down-0', revision: acked.get('one-down-0')! }], success: [{ type: 'put', key: 'q/txn', value: 'txn' }] });
      expect(res.succeeded).toBe(true);
      acked.set('txn', res.revision);

      await cluster.stop(1);
      const t0 = Date.now();
      const e = await errorOf(() => store.put('q/no-quorum', 'maybe'));
      const took = Date.now() - t0;
      expect(e.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
      expect(took).toBeLessThan(6_500);
      for (const ep of cluster.endpoints) expect(e.message).toContain(ep);
      const t1 = Date.now();
      expect((await errorOf(() => store.get('q/all-up'))).code).toBe(ErrorCodes.STORE_UNAVAILABLE);
      expect(Date.now() - t1).toBeLessThan(6_500);
      // Opening fails the same way, within its dial timeout.
      const t2 = Date.now();
      expect((await errorOf(() => openEtcdStore({ endpoints: cluster.endpoints, prefix: '/weft', dialTimeoutMs: 2_000 }))).code).toBe(
        ErrorCodes.STORE_UNAVAILABLE,
      );
      expect(Date.now() - t2).toBeLessThan(3_000);

      await cluster.start(0, { wait: false });
      await cluster.start(1, { wait: false });
      await cluster.waitHealthy();
      acked.set('back', await eventually(() => store.put('q/back', 'back'), 'a put after quorum returned'));

      const stored = new Map((await store.list('q/')).map((kv) => [kv.key.slice(2), kv.modRevision]));
      for (const [key, rev] of acked) expect(stored.get(key), key).toBe(rev);
      // The put that timed out may or may not have been applied (etcd may commit it once a leader
      // is back): either way, it is never half there.
      expect([...stored.keys()].filter((k) => !acked.has(k))).toEqual(stored.has('no-quorum') ? ['no-quorum'] : []);

      // The watcher saw every acknowledged write once, in revision order, across the outage.
      await waitFor(() => acked.size <= events.length, 'every acknowledged write as an event', 20_000);
      await sleep(300);
      const seen = events.map((ev) => ev.key.slice(2));
      expect(seen.filter((k) => k !== 'no-quorum')).toEqual([...acked.keys()]);
      expect(new Set(seen).size).toBe(seen.length);
      const revs = events.map((ev) => ev.revision);
      expect(revs).toEqual([...revs].sort((x, y) => x - y));
    } finally {
      await store.close();
    }
  });
});
