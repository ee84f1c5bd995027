// LocalStore: the shared Store contract, plus what only the embedded store promises: data and the
// revision counter survive close/reopen and SIGKILL, opening errors, read-only mode, and the
// bounded watch history.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isWeftError } from '../../../src/model/errors.js';
import { openLocalStore, type LocalStore } from '../../../src/store/local-store.js';
import type { WatchEvent } from '../../../src/store/store.js';
import { storeContract } from '../../contract/store-contract.js';
import { runAckingChild } from '../../helpers/acking-child.js';

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'weft-store-'));
  tempDirs.push(d);
  return d;
}

storeContract('LocalStore', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'weft-store-'));
  const store = await openLocalStore({ path: path.join(dir, 'store') });
  return {
    store,
    teardown: async () => {
      try {
        await store.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
});

async function codeOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (isWeftError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a WeftError, but the call succeeded');
}

async function errorOf(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, but the call succeeded');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('LocalStore', () => {
  const open: LocalStore[] = [];
  async function openStore(dir: string, opts: { readOnly?: boolean; historyLimit?: number; onWatchError?: (e: unknown) => void } = {}) {
    const s = await openLocalStore({ path: dir, ...opts });
    open.push(s);
    return s;
  }

  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    for (const d of tempDirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  describe('persistence', () => {
    it('keeps values and the revision counter across close and reopen', async () => {
      const dir = path.join(await tempDir(), 'store');
      const a = await openStore(dir);
      const r1 = await a.put('net/1', { name: 'one', subnets: ['10.0.0.0/24'] });
      const r2 = await a.put('net/2', 'two');
      await a.put('tmp', 1);
      await a.delete('tmp');
      const last = await a.revision();
      await a.close();
      await expect(a.get('net/1')).rejects.toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE });

      const b = await openStore(dir);
      expect(await b.revision()).toBe(last);
      expect(await b.get('net/1')).toEqual({ key: 'net/1', value: { name: 'one', subnets: ['10.0.0.0/24'] }, createRevision: r1, modRevision: r1 });
      expect((await b.list('')).map((kv) => [kv.key, kv.modRevision])).toEqual([
        ['net/1', r1],
        ['net/2', r2],
      ]);
      // The counter goes on from where it was, never back.
      expect(await b.put('net/3', 3)).toBe(last + 1);
    });

    it('a transaction that changed nothing does not move the persisted counter', async () => {
      const dir = path.join(await tempDir(), 'store');
      const a = await openStore(dir);
      await a.put('k', 1);
      await a.txn({ compares: [{ key: 'k', revision: 0 }], success: [{ type: 'put', key: 'k', value: 2 }] });
      await a.close();
      const b = await openStore(dir);
      expect(await b.revision()).toBe(1);
    });

    it(
      'survives SIGKILL: every acknowledged write is there, and the revision never goes back',
      async () => {
        const dir = path.join(await tempDir(), 'store');
        let lastAcked = 0;
        for (let round = 1; round <= 3; round++) {
          // Kill after a random number of acknowledged writes; the child keeps writing until then,
          // so the kill usually lands in the middle of a write.
          const killAfter = 1 + Math.floor(Math.random() * 300);
          const { acks, ready } = await runCrashWriter(dir, round, killAfter);
          expect(ready, `round ${round}: revision at start`).toBeGreaterThanOrEqual(lastAcked);
          expect(acks.length).toBeGreaterThanOrEqual(killAfter);

          const s = await openStore(dir);
          const rev = await s.revision();
          const maxAck = Math.max(...acks.map((a) => a.revision));
          expect(rev, `round ${round}: revision after the crash`).toBeGreaterThanOrEqual(maxAck);
          let prev = ready;
          for (const a of acks) {
            // Each write has its own revision, and acks come in commit order.
            expect(a.revision).toBeGreaterThan(prev);
            prev = a.revision;
            for (const key of a.keys) {
              const kv = await s.get(key);
              expect(kv, `round ${round}: acknowledged key ${key} (rev ${a.revision}) is missing`).toBeDefined();
              expect(kv!.modRevision).toBeGreaterThanOrEqual(a.revision);
            }
          }
          lastAcked = rev;
          await s.close();
          open.splice(open.indexOf(s), 1);
        }
      },
      60_000,
    );
  });

  describe('opening', () => {
    it('a path that is a file fails with STORE_UNAVAILABLE, naming the path', async () => {
      const file = path.join(await tempDir(), 'not-a-dir');
      await writeFile(file, 'hello');
      const e = await errorOf(() => openLocalStore({ path: file }));
      expect(isWeftError(e, ErrorCodes.STORE_UNAVAILABLE)).toBe(true);
      expect(e.message).toContain(file);
    });

    it('a path below a file fails with STORE_UNAVAILABLE', async () => {
      const file = path.join(await tempDir(), 'file');
      await writeFile(file, 'x');
      expect(await codeOf(() => openLocalStore({ path: path.join(file, 'store') }))).toBe(ErrorCodes.STORE_UNAVAILABLE);
    });

    it('creates missing parent directories', async () => {
      const dir = path.join(await tempDir(), 'var', 'lib', 'weft', 'store.d');
      const s = await openStore(dir);
      await s.put('k', 1);
      expect((await s.get('k'))?.value).toBe(1);
    });

    it('an empty path is a BAD_REQUEST', async () => {
      expect(await codeOf(() => openLocalStore({ path: '' }))).toBe(ErrorCodes.BAD_REQUEST);
    });

    it('read-only: a missing store fails to open; an existing one reads but refuses writes', async () => {
      const dir = path.join(await tempDir(), 'store');
      expect(await codeOf(() => openLocalStore({ path: dir, readOnly: true }))).toBe(ErrorCodes.STORE_UNAVAILABLE);
      const w = await openStore(dir);
      await w.put('k', 'v');
      await w.close();
      const r = await openStore(dir, { readOnly: true });
      expect((await r.get('k'))?.value).toBe('v');
      expect(await r.revision()).toBe(1);
      expect(await codeOf(() => r.put('k', 'w'))).toBe(ErrorCodes.STORE_UNAVAILABLE);
      expect(await codeOf(() => r.delete('k'))).toBe(ErrorCodes.STORE_UNAVAILABLE);
      expect(await codeOf(() => r.txn({ compares: [], success: [] }))).toBe(ErrorCodes.STORE_UNAVAILABLE);
    });

    it('close is idempotent', async () => {
      const s = await openStore(path.join(await tempDir(), 'store'));
      await s.close();
      await s.close();
    });
  });

  describe('keys and values', () => {
    it('rejects keys over 1024 bytes and keys with lone surrogates', async () => {
      const s = await openStore(path.join(await tempDir(), 'store'));
      await s.put('k'.repeat(1024), 1);
      expect(await codeOf(() => s.put('k'.repeat(1025), 1))).toBe(ErrorCodes.BAD_REQUEST);
      expect(await codeOf(() => s.put('é'.repeat(513), 1))).toBe(ErrorCodes.BAD_REQUEST);
      expect(await codeOf(() => s.put('a\uD800b', 1))).toBe(ErrorCodes.BAD_REQUEST);
      await s.put('emoji/😀', 1);
      expect((await s.list('emoji/')).map((kv) => kv.key)).toEqual(['emoji/😀']);
    });

    it('lists in UTF-8 byte order, like etcd', async () => {
      const s = await openStore(path.join(await tempDir(), 'store'));
      const keys = ['k/😀', 'k/\uFFFD', 'k/é', 'k/Z', 'k/a', 'k/a b', 'k/10', 'k/9', 'k/\u0001'];
      for (const k of keys) await s.put(k, k);
      const bytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect((await s.list('k/')).map((kv) => kv.key)).toEqual(bytes);
    });

    it('a transaction that changed nothing costs no revision, even with a failing compare', async () => {
      const s = await openStore(path.join(await tempDir(), 'store'));
      const r = await s.txn({ compares: [{ key: 'x', revision: 7 }], success: [{ type: 'put', key: 'x', value: 1 }] });
      expect(r).toEqual({ succeeded: false, revision: 0 });
    });
  });

  describe('leases', () => {
    it('on open, keys of leases from an earlier run are deleted (their holder is gone); lease ids are not reused', async () => {
      const dir = path.join(await tempDir(), 'store');
      const a = await openStore(dir);
      const lease = await a.grantLease(600);
      await a.put('host/h1', { up: true }, { lease: lease.id });
      await a.put('host/h2', { up: true }, { lease: lease.id });
      await a.put('net/1', 'kept');
      const empty = await a.grantLease(600);
      const last = await a.revision();
      await a.close();

      // A reader changes nothing: the leased keys are still there.
      const r = await openStore(dir, { readOnly: true });
      expect((await r.list('host/')).map((kv) => kv.key)).toEqual(['host/h1', 'host/h2']);
      await r.close();

      const b = await openStore(dir);
      expect((await b.list('')).map((kv) => kv.key)).toEqual(['net/1']);
      // The deletes are one write, at the next revision.
      expect(await b.revision()).toBe(last + 1);
      expect(await codeOf(() => b.put('host/h1', 1, { lease: lease.id }))).toBe(ErrorCodes.STORE_LEASE_EXPIRED);
      expect(await codeOf(() => b.put('host/h1', 1, { lease: empty.id }))).toBe(ErrorCodes.STORE_LEASE_EXPIRED);
      const next = await b.grantLease(600);
      expect(BigInt(next.id)).toBeGreaterThan(BigInt(empty.id));
      await b.close();

      // Nothing is left over for the open after that.
      const c = await openStore(dir);
      expect(await c.revision()).toBe(last + 1);
    });

    it('a store with no leases opens without a write', async () => {
      const dir = path.join(await tempDir(), 'store');
      const a = await openStore(dir);
      const lease = await a.grantLease(600);
      await a.put('k', 1, { lease: lease.id });
      await lease.revoke();
      const rev = await a.revision();
      await a.close();
      const b = await openStore(dir);
      expect(await b.revision()).toBe(rev);
    });

    it('read-only: leases are refused', async () => {
      const dir = path.join(await tempDir(), 'store');
      await (await openStore(dir)).close();
      const r = await openStore(dir, { readOnly: true });
      expect(await codeOf(() => r.grantLease(5))).toBe(ErrorCodes.STORE_UNAVAILABLE);
    });

    it('close stops the expiry timers: a lease that would have run out does not write after close', async () => {
      const dir = path.join(await tempDir(), 'store');
      const a = await openStore(dir);
      const lease = await a.grantLease(1);
      await a.put('k', 1, { lease: lease.id });
      const rev = await a.revision();
      await a.close();
      await sleep(1_300);
      const r = await openStore(dir, { readOnly: true });
      expect(await r.revision()).toBe(rev);
      expect((await r.get('k'))?.value).toBe(1);
    });
  });

  describe('watch', () => {
    it('a delete event carries the last value', async () => {
      const s = await openStore(path.join(await tempDir(), 'store'));
      const events: WatchEvent[] = [];
      await s.watch('', (e) => events.push(e));
      await s.put('a', { n: 1 });
      await s.put('a', { n: 2 });
      await s.delete('a');
      await s.put('p/1', 'one');
      await s.txn({ compares: [], success: [{ type: 'deletePrefix', prefix: 'p/' }] });
      await sleep(10);
      expect(events.map((e) => [e.type, e.key, e.value])).toEqual([
        ['put', 'a', { n: 1 }],
        ['put', 'a', { n: 2 }],
        ['delete', 'a', { n: 2 }],
        ['put', 'p/1', 'one'],
        ['delete', 'p/1', 'one'],
      ]);
    });

    it('each watcher gets its own copy of a value', async () => {
      const s = await openStore(path.join(await tempDir(), 'store'));
      const seen: unknown[] = [];
      await s.watch('', (e) => {
        (e.value as { n: number }).n = 99;
      });
      await s.watch('', (e) => seen.push(e.value));
      await s.put('a', { n: 1 });
      await sleep(10);
      expect(seen).toEqual([{ n: 1 }]);
    });

    it('resuming from before the history limit fails with STORE_COMPACTED; inside it works', async () => {
      const s = await openStore(path.join(await tempDir(), 'store'), { historyLimit: 5 });
      for (let i = 1; i <= 12; i++) await s.put(`h/${i}`, i);
      // History holds revisions 8..12, so it can resume after 7 or later.
      expect(s.oldestResumableRevision).toBe(7);
      const e = await errorOf(() => s.watch('h/', () => {}, { afterRevision: 6 }));
      expect(isWeftError(e, ErrorCodes.STORE_COMPACTED)).toBe(true);
      expect(e.message).toMatch(/revision 6/);
      const events: WatchEvent[] = [];
      await s.watch('h/', (ev) => events.push(ev), { afterRevision: 7 });
      await sleep(10);
      expect(events.map((ev) => ev.revision)).toEqual([8, 9, 10, 11, 12]);
    });

    it('after a reopen, history starts at the revision the store opened with', async () => {
      const dir = path.join(await tempDir(), 'store');
      const a = await openStore(dir);
      await a.put('x', 1);
      await a.put('x', 2);
      await a.close();
      const b = await openStore(dir);
      expect(await codeOf(() => b.watch('', () => {}, { afterRevision: 1 }))).toBe(ErrorCodes.STORE_COMPACTED);
      const events: WatchEvent[] = [];
      await b.watch('', (ev) => events.push(ev), { afterRevision: 2 });
      await b.put('x', 3);
      await sleep(10);
      expect(events.map((ev) => ev.revision)).toEqual([3]);
    });

    it('resuming ahead of the current revision skips changes up to it', async () => {
      const s = await openStore(path.join(await tempDir(), 'store'));
      const events: WatchEvent[] = [];
      await s.watch('', (ev) => events.push(ev), { afterRevision: 2 });
      await s.put('a', 1);
      await s.put('b', 2);
      await s.put('c', 3);
      await sleep(10);
      expect(events.map((ev) => ev.key)).toEqual(['c']);
    });

    it('a callback that throws is reported and does not stop delivery', async () => {
      const errors: unknown[] = [];
      const s = await openStore(path.join(await tempDir(), 'store'), { onWatchError: (e) => errors.push(e) });
      const got: string[] = [];
      await s.watch('', (ev) => {
        got.push(ev.key);
        if (ev.key === 'boom') throw new Error('callback failed');
      });
      await s.put('boom', 1);
      await s.put('after', 1);
      await sleep(10);
      expect(got).toEqual(['boom', 'after']);
      expect(errors).toHaveLength(1);
    });

    it('a callback may write to the store; its own write arrives as a later event', async () => {
      const s = await openStore(path.join(await tempDir(), 'store'));
      const got: string[] = [];
      await s.watch('q/', (ev) => {
        got.push(`${ev.type} ${ev.key}`);
        if (ev.key === 'q/in') void s.put('q/out', 1);
      });
      await s.put('q/in', 1);
      await sleep(20);
      expect(got).toEqual(['put q/in', 'put q/out']);
    });

    it('close stops watchers', async () => {
      const dir = path.join(await tempDir(), 'store');
      const s = await openStore(dir);
      const got: string[] = [];
      await s.watch('', (ev) => got.push(ev.key));
      await s.put('a', 1);
      await s.close();
      await sleep(10);
      expect(got).toEqual(['a']);
    });
  });
});

interface Ack {
  revision: number;
  keys: string[];
}

/** Runs test/helpers/crash-writer.ts until it has acknowledged `killAfter` writes, then SIGKILLs it. */
async function runCrashWriter(dir: string, round: number, killAfter: number): Promise<{ ready: number; acks: Ack[] }> {
  const r = await runAckingChild('test/helpers/crash-writer.ts', [dir, String(round)], { killAfterAcks: killAfter, timeoutMs: 30_000 });
  if (r.signal !== 'SIGKILL') throw new Error(`crash writer exited by itself (code ${r.code}); stderr: ${r.stderr}`);
  const readyLine = r.lines.find((l) => l.startsWith('ready '));
  if (!readyLine) throw new Error(`crash writer never got ready; stderr: ${r.stderr}`);
  const acks = r.lines
    .filter((l) => l.startsWith('ack '))
    .map((l) => {
      const [, rev, ...keys] = l.split(' ');
      return { revision: Number(rev), keys };
    });
  return { ready: Number(readyLine.split(' ')[1]), acks };
}
