// The Store contract suite (src/store/store.ts). Every Store implementation calls
// storeContract() from its own test file, e.g.
//
//   storeContract('LocalStore', async () => { const store = await openLocalStore(...); return { store, teardown } });
//
// It tests only what store.ts promises, nothing specific to one backend, so that the embedded
// store and etcd behave the same for every caller. Assumptions about `setup`:
// - each call gives a store that is empty (no keys; its revision counter may be anywhere) and
//   that nobody else writes to while the test runs;
// - `teardown` closes it and removes whatever setup created.
// Watch events may arrive asynchronously, so tests wait for them (with a time limit).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isWeftError } from '../../src/model/errors.js';
import type { Lease, Store, WatchEvent, Watcher } from '../../src/store/store.js';

export interface StoreTestSetup {
  store: Store;
  teardown: () => Promise<void>;
}

const WAIT_MS = 5_000;
/** How long to wait to be confident an event is NOT coming. */
const QUIET_MS = 300;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Like waitFor, for a condition that needs the store (polled every 50 ms). */
async function waitUntil(cond: () => Promise<boolean>, what: string, ms = WAIT_MS): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * How long a lease may take to run out once nobody refreshes it: its TTL (the one granted, which
 * a store may round up; etcd has a minimum) plus slack for the store's expiry sweep.
 */
const expiryWaitMs = (lease: Lease) => lease.ttlSeconds * 1000 + 4_000;

/** Runs `fn` and returns the WeftError code it throws (failing the test if it does not throw). */
async function codeOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (isWeftError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a WeftError, but the call succeeded');
}

/** Strips events to what the contract fixes (delete values are optional: "when known"). */
const brief = (evs: WatchEvent[]) => evs.map((e) => ({ type: e.type, key: e.key, revision: e.revision }));

export function storeContract(name: string, setup: () => Promise<StoreTestSetup>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let teardown: (() => Promise<void>) | undefined;
    const watchers: Watcher[] = [];

    beforeEach(async () => {
      ({ store, teardown } = await setup());
    });

    afterEach(async () => {
      for (const w of watchers.splice(0)) await w.cancel();
      await teardown?.();
      teardown = undefined;
    });

    /** Starts a watcher that records its events; cancelled after the test. */
    async function record(prefix: string, afterRevision?: number) {
      const events: WatchEvent[] = [];
      const w = await store.watch(prefix, (ev) => events.push(ev), afterRevision === undefined ? {} : { afterRevision });
      watchers.push(w);
      return { events, watcher: w };
    }

    describe('get / put / delete', () => {
      it('get of a missing key is undefined', async () => {
        expect(await store.get('nope')).toBeUndefined();
      });

      it('put then get returns the value and its revisions', async () => {
        const rev = await store.put('a/one', { x: 1 });
        expect(rev).toBeGreaterThan(0);
        expect(await store.get('a/one')).toEqual({ key: 'a/one', value: { x: 1 }, createRevision: rev, modRevision: rev });
      });

      it('an update keeps createRevision and moves modRevision', async () => {
        const r1 = await store.put('k', 'first');
        const r2 = await store.put('k', 'second');
        expect(r2).toBeGreaterThan(r1);
        expect(await store.get('k')).toEqual({ key: 'k', value: 'second', createRevision: r1, modRevision: r2 });
      });

      it('delete removes the key and reports whether it existed', async () => {
        await store.put('k', 1);
        expect(await store.delete('k')).toBe(true);
        expect(await store.get('k')).toBeUndefined();
        expect(await store.delete('k')).toBe(false);
      });

      it('a key created again after a delete gets a new createRevision', async () => {
        const r1 = await store.put('k', 1);
        await store.delete('k');
        const r3 = await store.put('k', 2);
        const kv = await store.get('k');
        expect(kv?.createRevision).toBe(r3);
        expect(kv?.createRevision).toBeGreaterThan(r1);
      });

      it('values round-trip as JSON, nested and of every JSON type', async () => {
        const value = {
          s: 'héllo wörld ✓ 😀',
          n: -12.5,
          big: 2 ** 53 - 1,
          t: true,
          f: false,
          nil: null,
          arr: [1, 'two', [3, { four: 4 }], [], {}],
          deep: { a: { b: { c: { d: ['e'] } } } },
        };
        for (const [k, v] of Object.entries({ obj: value, str: 'plain', num: 0, no: false, nul: null, arr: [] as unknown[] })) {
          await store.put(`v/${k}`, v);
          expect((await store.get(`v/${k}`))?.value, k).toEqual(v);
        }
        // What comes back is a copy, not the object that was written.
        const got = await store.get<typeof value>('v/obj');
        expect(got?.value).not.toBe(value);
      });

      it('a value that JSON cannot represent is rejected and nothing is written', async () => {
        const rev = await store.revision();
        expect(await codeOf(() => store.put('bad', undefined))).toBe(ErrorCodes.BAD_REQUEST);
        expect(await codeOf(() => store.put('bad', () => 1))).toBe(ErrorCodes.BAD_REQUEST);
        expect(await codeOf(() => store.put('bad', { n: 1n }))).toBe(ErrorCodes.BAD_REQUEST);
        expect(await store.get('bad')).toBeUndefined();
        expect(await store.revision()).toBe(rev);
      });

      it('bad keys are rejected with BAD_REQUEST', async () => {
        expect(await codeOf(() => store.put('', 1))).toBe(ErrorCodes.BAD_REQUEST);
        expect(await codeOf(() => store.put('a\0b', 1))).toBe(ErrorCodes.BAD_REQUEST);
        expect(await codeOf(() => store.get(''))).toBe(ErrorCodes.BAD_REQUEST);
        expect(await codeOf(() => store.delete('x\0'))).toBe(ErrorCodes.BAD_REQUEST);
        expect(await codeOf(() => store.put(42 as unknown as string, 1))).toBe(ErrorCodes.BAD_REQUEST);
        expect(await store.list('')).toEqual([]);
      });
    });

    describe('revisions', () => {
      it('every write bumps one store-wide counter, across keys', async () => {
        const start = await store.revision();
        const r1 = await store.put('x', 1);
        const r2 = await store.put('y', 1);
        const r3 = await store.put('x', 2);
        await store.delete('y');
        const r5 = await store.revision();
        expect(r1).toBeGreaterThan(start);
        expect(r2).toBeGreaterThan(r1);
        expect(r3).toBeGreaterThan(r2);
        expect(r5).toBeGreaterThan(r3);
        expect(await store.revision()).toBe(r5);
      });

      it('revision() reports the last write', async () => {
        const r = await store.put('x', 1);
        expect(await store.revision()).toBe(r);
      });

      it('deleting a missing key does not change the revision', async () => {
        const before = await store.revision();
        expect(await store.delete('ghost')).toBe(false);
        expect(await store.revision()).toBe(before);
      });
    });

    describe('compare-and-swap', () => {
      it('expectRevision 0 creates a missing key and fails on an existing one', async () => {
        const r1 = await store.put('k', 'a', { expectRevision: 0 });
        expect((await store.get('k'))?.value).toBe('a');
        expect(await codeOf(() => store.put('k', 'b', { expectRevision: 0 }))).toBe(ErrorCodes.STORE_CONFLICT);
        expect(await store.get('k')).toMatchObject({ value: 'a', modRevision: r1 });
      });

      it('the current modRevision succeeds, a stale one fails', async () => {
        const r1 = await store.put('k', 1);
        const r2 = await store.put('k', 2, { expectRevision: r1 });
        expect(r2).toBeGreaterThan(r1);
        expect(await codeOf(() => store.put('k', 3, { expectRevision: r1 }))).toBe(ErrorCodes.STORE_CONFLICT);
        expect(await store.get('k')).toMatchObject({ value: 2, modRevision: r2 });
      });

      it('a revision on a missing key fails', async () => {
        expect(await codeOf(() => store.put('k', 1, { expectRevision: 5 }))).toBe(ErrorCodes.STORE_CONFLICT);
        expect(await store.get('k')).toBeUndefined();
      });

      it('a conflict names the key and both revisions', async () => {
        const r1 = await store.put('net/a', 1);
        await store.put('net/a', 2);
        try {
          await store.put('net/a', 3, { expectRevision: r1 });
          expect.unreachable('put with a stale revision succeeded');
        } catch (e) {
          expect(isWeftError(e, ErrorCodes.STORE_CONFLICT)).toBe(true);
          expect((e as Error).message).toContain('net/a');
          expect((e as Error).message).toContain(String(r1));
        }
      });

      it('a failed compare writes nothing and keeps the revision', async () => {
        await store.put('k', 1);
        const before = await store.revision();
        await codeOf(() => store.put('k', 2, { expectRevision: 0 }));
        expect(await store.revision()).toBe(before);
      });

      it('delete with the current revision succeeds, with a stale one fails', async () => {
        const r1 = await store.put('k', 1);
        const r2 = await store.put('k', 2);
        expect(await codeOf(() => store.delete('k', { expectRevision: r1 }))).toBe(ErrorCodes.STORE_CONFLICT);
        expect((await store.get('k'))?.value).toBe(2);
        expect(await store.delete('k', { expectRevision: r2 })).toBe(true);
        expect(await store.get('k')).toBeUndefined();
      });

      it('delete of a missing key: expectRevision 0 holds, any other fails', async () => {
        expect(await store.delete('ghost', { expectRevision: 0 })).toBe(false);
        expect(await codeOf(() => store.delete('ghost', { expectRevision: 3 }))).toBe(ErrorCodes.STORE_CONFLICT);
      });

      it('delete with expectRevision 0 on an existing key fails', async () => {
        await store.put('k', 1);
        expect(await codeOf(() => store.delete('k', { expectRevision: 0 }))).toBe(ErrorCodes.STORE_CONFLICT);
        expect((await store.get('k'))?.value).toBe(1);
      });

      it('50 concurrent read-increment-CAS loops never lose an update', async () => {
        await store.put('counter', 0);
        let conflicts = 0;
        const increment = async () => {
          for (let attempt = 0; attempt < 1_000; attempt++) {
            const kv = await store.get<number>('counter');
            try {
              await store.put('counter', kv!.value + 1, { expectRevision: kv!.modRevision });
              return;
            } catch (e) {
              if (!isWeftError(e, ErrorCodes.STORE_CONFLICT)) throw e;
              conflicts++;
              await sleep(Math.random() * 3);
            }
          }
          throw new Error('increment never won');
        };
        await Promise.all(Array.from({ length: 50 }, increment));
        expect((await store.get('counter'))?.value).toBe(50);
        // They really raced: most callers read the same value at first.
        expect(conflicts).toBeGreaterThan(0);
      });
    });

    describe('transactions', () => {
      it('all compares hold: every success op is applied at one revision', async () => {
        const rA = await store.put('t/a', 'old');
        await store.put('t/gone', 1);
        const res = await store.txn({
          compares: [
            { key: 't/a', revision: rA },
            { key: 't/new', revision: 0 },
          ],
          success: [
            { type: 'put', key: 't/a', value: 'new' },
            { type: 'put', key: 't/new', value: { n: 1 } },
            { type: 'delete', key: 't/gone' },
          ],
          failure: [{ type: 'put', key: 't/failed', value: true }],
        });
        expect(res.succeeded).toBe(true);
        expect(res.revision).toBe(await store.revision());
        expect(await store.get('t/a')).toMatchObject({ value: 'new', createRevision: rA, modRevision: res.revision });
        expect(await store.get('t/new')).toMatchObject({ value: { n: 1 }, createRevision: res.revision, modRevision: res.revision });
        expect(await store.get('t/gone')).toBeUndefined();
        expect(await store.get('t/failed')).toBeUndefined();
      });

      it('one failing compare applies none of the success ops, and the failure ops instead', async () => {
        const rA = await store.put('t/a', 1);
        await store.put('t/a', 2);
        const res = await store.txn({
          compares: [
            { key: 't/b', revision: 0 },
            { key: 't/a', revision: rA },
          ],
          success: [
            { type: 'put', key: 't/b', value: 'should not exist' },
            { type: 'delete', key: 't/a' },
          ],
          failure: [{ type: 'put', key: 't/lost', value: 'yes' }],
        });
        expect(res.succeeded).toBe(false);
        expect(await store.get('t/b')).toBeUndefined();
        expect((await store.get('t/a'))?.value).toBe(2);
        expect(await store.get('t/lost')).toMatchObject({ value: 'yes', modRevision: res.revision });
      });

      it('a transaction that writes nothing leaves the revision unchanged', async () => {
        await store.put('t/a', 1);
        const before = await store.revision();
        const res = await store.txn({ compares: [{ key: 't/a', revision: 0 }], success: [{ type: 'delete', key: 't/a' }] });
        expect(res).toEqual({ succeeded: false, revision: before });
        const res2 = await store.txn({ compares: [], success: [{ type: 'delete', key: 't/missing' }] });
        expect(res2).toEqual({ succeeded: true, revision: before });
        expect(await store.revision()).toBe(before);
      });

      it('deletePrefix removes exactly the keys under the prefix', async () => {
        for (const k of ['d/a', 'd/a/1', 'd/a/2', 'd/ab', 'd/b', 'e/a']) await store.put(k, k);
        const res = await store.txn({ compares: [], success: [{ type: 'deletePrefix', prefix: 'd/a/' }] });
        expect(res.succeeded).toBe(true);
        expect((await store.list('')).map((kv) => kv.key)).toEqual(['d/a', 'd/ab', 'd/b', 'e/a']);
      });

      it('a rejected op (bad key) fails the whole transaction and writes nothing', async () => {
        const before = await store.revision();
        const code = await codeOf(() =>
          store.txn({
            compares: [],
            success: [
              { type: 'put', key: 'ok', value: 1 },
              { type: 'put', key: '', value: 2 },
            ],
          }),
        );
        expect(code).toBe(ErrorCodes.BAD_REQUEST);
        expect(await store.get('ok')).toBeUndefined();
        expect(await store.revision()).toBe(before);
      });

      it('like etcd, a branch may not write one key twice, nor put a key it deletes', async () => {
        const before = await store.revision();
        const twice = await codeOf(() =>
          store.txn({
            compares: [],
            success: [
              { type: 'put', key: 'd', value: 1 },
              { type: 'put', key: 'd', value: 2 },
            ],
          }),
        );
        const putAndDelete = await codeOf(() =>
          store.txn({
            compares: [],
            success: [
              { type: 'deletePrefix', prefix: 'p/' },
              { type: 'put', key: 'p/x', value: 1 },
            ],
          }),
        );
        expect([twice, putAndDelete]).toEqual([ErrorCodes.BAD_REQUEST, ErrorCodes.BAD_REQUEST]);
        expect(await store.revision()).toBe(before);
      });

      it('compares see the store as it is, not as the ops leave it', async () => {
        // Two transactions racing for the same absent key: exactly one wins.
        const claim = (who: string) =>
          store.txn({ compares: [{ key: 'lock', revision: 0 }], success: [{ type: 'put', key: 'lock', value: who }] });
        const results = await Promise.all([claim('a'), claim('b'), claim('c')]);
        expect(results.filter((r) => r.succeeded)).toHaveLength(1);
        const winner = ['a', 'b', 'c'][results.findIndex((r) => r.succeeded)];
        expect((await store.get('lock'))?.value).toBe(winner);
      });
    });

    describe('list', () => {
      it('returns every key under the prefix, sorted by key', async () => {
        for (const k of ['n/c', 'n/a', 'n/b/2', 'n/b/1', 'm/z', 'o/a']) await store.put(k, k.toUpperCase());
        const got = await store.list('n/');
        expect(got.map((kv) => kv.key)).toEqual(['n/a', 'n/b/1', 'n/b/2', 'n/c']);
        expect(got.map((kv) => kv.value)).toEqual(['N/A', 'N/B/1', 'N/B/2', 'N/C']);
        for (const kv of got) {
          expect(kv.createRevision).toBeGreaterThan(0);
          expect(kv.modRevision).toBeGreaterThanOrEqual(kv.createRevision);
        }
      });

      it('does not leak keys of a sibling prefix (a/b vs a/bc)', async () => {
        await store.put('a/b', 1);
        await store.put('a/b/x', 2);
        await store.put('a/bc', 3);
        await store.put('a/a', 4);
        expect((await store.list('a/b/')).map((kv) => kv.key)).toEqual(['a/b/x']);
        expect((await store.list('a/b')).map((kv) => kv.key)).toEqual(['a/b', 'a/b/x', 'a/bc']);
        expect((await store.list('a/bc/')).map((kv) => kv.key)).toEqual([]);
      });

      it('an empty prefix lists everything; an unknown prefix lists nothing', async () => {
        await store.put('x/1', 1);
        await store.put('y/1', 1);
        expect((await store.list('')).map((kv) => kv.key)).toEqual(['x/1', 'y/1']);
        expect(await store.list('z/')).toEqual([]);
      });
    });

    describe('watch', () => {
      it('delivers puts and deletes under the prefix, in revision order, and nothing else', async () => {
        const { events } = await record('w/');
        const r1 = await store.put('w/a', 1);
        await store.put('other/a', 1);
        await store.put('wx', 1);
        const r2 = await store.put('w/b', { two: 2 });
        const r3 = await store.put('w/a', 3);
        await store.delete('w/b');
        const r4 = await store.revision();
        await waitFor(() => events.length >= 4, '4 events');
        await sleep(50);
        expect(brief(events)).toEqual([
          { type: 'put', key: 'w/a', revision: r1 },
          { type: 'put', key: 'w/b', revision: r2 },
          { type: 'put', key: 'w/a', revision: r3 },
          { type: 'delete', key: 'w/b', revision: r4 },
        ]);
        expect(events[1]!.value).toEqual({ two: 2 });
        expect(events[2]!.value).toBe(3);
      });

      it('a transaction shows up as events sharing its revision', async () => {
        await store.put('w/old/1', 1);
        await store.put('w/old/2', 2);
        const { events } = await record('w/');
        const res = await store.txn({
          compares: [],
          success: [
            { type: 'put', key: 'w/new', value: 'n' },
            { type: 'deletePrefix', prefix: 'w/old/' },
          ],
        });
        await waitFor(() => events.length >= 3, '3 events');
        expect(events.every((e) => e.revision === res.revision)).toBe(true);
        expect(events.map((e) => `${e.type} ${e.key}`).sort()).toEqual(['delete w/old/1', 'delete w/old/2', 'put w/new']);
      });

      it('resumes after a revision without missing or repeating an event', async () => {
        const r1 = await store.put('r/a', 1);
        const r2 = await store.put('r/b', 2);
        await store.put('rx/not-under-prefix', 0);
        const r3 = await store.put('r/a', 3);
        const { events } = await record('r/', r1);
        const r4 = await store.put('r/c', 4);
        await waitFor(() => events.length >= 3, '3 events');
        await sleep(50);
        expect(brief(events)).toEqual([
          { type: 'put', key: 'r/b', revision: r2 },
          { type: 'put', key: 'r/a', revision: r3 },
          { type: 'put', key: 'r/c', revision: r4 },
        ]);
        expect(events.map((e) => e.value)).toEqual([2, 3, 4]);
      });

      it('resuming at the current revision delivers only new changes', async () => {
        await store.put('r/a', 1);
        const now = await store.revision();
        const { events } = await record('r/', now);
        const r = await store.put('r/b', 2);
        await waitFor(() => events.length >= 1, '1 event');
        await sleep(50);
        expect(brief(events)).toEqual([{ type: 'put', key: 'r/b', revision: r }]);
      });

      it('cancel stops delivery and is idempotent', async () => {
        const { events, watcher } = await record('c/');
        await store.put('c/1', 1);
        await waitFor(() => events.length >= 1, 'first event');
        await watcher.cancel();
        await watcher.cancel();
        await store.put('c/2', 2);
        await store.delete('c/1');
        await sleep(QUIET_MS);
        expect(events.map((e) => e.key)).toEqual(['c/1']);
      });

      it('two watchers on overlapping prefixes each get their own events', async () => {
        const all = await record('');
        const some = await record('p/q/');
        await store.put('p/x', 1);
        await store.put('p/q/y', 2);
        await waitFor(() => all.events.length >= 2 && some.events.length >= 1, 'events on both watchers');
        await sleep(50);
        expect(all.events.map((e) => e.key)).toEqual(['p/x', 'p/q/y']);
        expect(some.events.map((e) => e.key)).toEqual(['p/q/y']);
      });
    });

    describe('leases', () => {
      it('grantLease returns a distinct id and at least the TTL asked for, and costs no revision', async () => {
        const before = await store.revision();
        const a = await store.grantLease(30);
        const b = await store.grantLease(30);
        expect(a.id).toMatch(/^[1-9][0-9]*$/);
        expect(b.id).not.toBe(a.id);
        expect(a.ttlSeconds).toBeGreaterThanOrEqual(30);
        await a.keepAlive();
        expect(await store.revision()).toBe(before);
        await a.revoke();
        await b.revoke();
      });

      it('a TTL that is not whole seconds from 1 up is rejected with BAD_REQUEST', async () => {
        for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e12, '5', undefined]) {
          expect(await codeOf(() => store.grantLease(bad as number)), String(bad)).toBe(ErrorCodes.BAD_REQUEST);
        }
      });

      it('revoke deletes every key of the lease at one revision, with watch events; it is idempotent', async () => {
        const lease = await store.grantLease(60);
        const { events } = await record('l/');
        const r1 = await store.put('l/a', 1, { lease: lease.id });
        await store.put('l/b', 2, { lease: lease.id, expectRevision: 0 });
        await store.put('l/c', 3);
        // Until then a leased key is an ordinary key.
        expect(await store.get('l/a')).toEqual({ key: 'l/a', value: 1, createRevision: r1, modRevision: r1 });
        await lease.revoke();
        const rev = await store.revision();
        expect((await store.list('l/')).map((kv) => kv.key)).toEqual(['l/c']);
        await waitFor(() => events.length >= 5, '3 puts and 2 deletes');
        const deletes = brief(events.filter((e) => e.type === 'delete')).sort((x, y) => x.key.localeCompare(y.key));
        expect(deletes).toEqual([
          { type: 'delete', key: 'l/a', revision: rev },
          { type: 'delete', key: 'l/b', revision: rev },
        ]);
        await lease.revoke();
        expect(await store.revision()).toBe(rev);
      });

      it('when the lease runs out its keys are deleted, not before its TTL, at one revision', async () => {
        const granted = Date.now();
        const lease = await store.grantLease(1);
        const { events } = await record('x/');
        await store.put('x/1', 'a', { lease: lease.id });
        await store.put('x/2', 'b', { lease: lease.id });
        await store.put('x/keep', 'c');
        const deletes = () => events.filter((e) => e.type === 'delete');
        await waitFor(() => deletes().length >= 2, 'the deletes of an expired lease', expiryWaitMs(lease));
        expect(Date.now() - granted).toBeGreaterThanOrEqual(lease.ttlSeconds * 1000 - 100);
        expect(deletes().map((e) => e.key).sort()).toEqual(['x/1', 'x/2']);
        expect(deletes()[0]!.revision).toBe(deletes()[1]!.revision);
        expect(deletes()[0]!.value).toBe('a');
        expect((await store.list('x/')).map((kv) => kv.key)).toEqual(['x/keep']);
        // The lease is over for good.
        expect(await codeOf(() => lease.keepAlive())).toBe(ErrorCodes.STORE_LEASE_EXPIRED);
        expect(await codeOf(() => store.put('x/3', 1, { lease: lease.id }))).toBe(ErrorCodes.STORE_LEASE_EXPIRED);
        expect(await store.get('x/3')).toBeUndefined();
      });

      it('keepAlive keeps a lease going past its TTL; once the refreshes stop, it runs out', async () => {
        const lease = await store.grantLease(1);
        await store.put('k/alive', 1, { lease: lease.id });
        const ttlMs = lease.ttlSeconds * 1000;
        const until = Date.now() + ttlMs * 2;
        while (Date.now() < until) {
          await sleep(ttlMs / 4);
          await lease.keepAlive();
        }
        expect((await store.get('k/alive'))?.value).toBe(1);
        const stopped = Date.now();
        await waitUntil(async () => (await store.get('k/alive')) === undefined, 'the key of the lease to go', expiryWaitMs(lease));
        expect(Date.now() - stopped).toBeGreaterThanOrEqual(ttlMs - 250);
      });

      it('a put without the lease detaches the key from it, and a put with another lease moves it (as in etcd)', async () => {
        const a = await store.grantLease(60);
        const b = await store.grantLease(60);
        await store.put('d/plain', 1, { lease: a.id });
        await store.put('d/plain', 2);
        await store.put('d/txn', 1, { lease: a.id });
        await store.txn({ compares: [], success: [{ type: 'put', key: 'd/txn', value: 2 }] });
        await store.put('d/moved', 1, { lease: a.id });
        await store.put('d/moved', 2, { lease: b.id });
        await store.put('d/recreated', 1, { lease: a.id });
        await store.delete('d/recreated');
        await store.put('d/recreated', 2);
        await a.revoke();
        expect((await store.list('d/')).map((kv) => [kv.key, kv.value])).toEqual([
          ['d/moved', 2],
          ['d/plain', 2],
          ['d/recreated', 2],
          ['d/txn', 2],
        ]);
        await b.revoke();
        expect((await store.list('d/')).map((kv) => kv.key)).toEqual(['d/plain', 'd/recreated', 'd/txn']);
      });

      it('a put with a malformed, revoked or unknown lease fails and writes nothing', async () => {
        const gone = await store.grantLease(60);
        await gone.revoke();
        await store.put('u/existing', 1);
        const before = await store.revision();
        for (const bad of ['abc', '0', '-1', '1.5', '99999999999999999999', 7]) {
          expect(await codeOf(() => store.put('u/k', 1, { lease: bad as string })), String(bad)).toBe(ErrorCodes.BAD_REQUEST);
        }
        expect(await codeOf(() => store.put('u/k', 1, { lease: gone.id }))).toBe(ErrorCodes.STORE_LEASE_EXPIRED);
        expect(await codeOf(() => store.put('u/k', 1, { lease: gone.id, expectRevision: 0 }))).toBe(ErrorCodes.STORE_LEASE_EXPIRED);
        expect(await codeOf(() => gone.keepAlive())).toBe(ErrorCodes.STORE_LEASE_EXPIRED);
        // A lost compare is a conflict, whatever the lease (the compare is checked first).
        expect(await codeOf(() => store.put('u/existing', 2, { lease: gone.id, expectRevision: 0 }))).toBe(ErrorCodes.STORE_CONFLICT);
        expect(await store.get('u/k')).toBeUndefined();
        expect((await store.get('u/existing'))?.value).toBe(1);
        expect(await store.revision()).toBe(before);
      });
    });

    describe('close', () => {
      it('every call after close fails with STORE_UNAVAILABLE', async () => {
        await store.put('k', 1);
        const lease = await store.grantLease(60);
        await store.close();
        expect(await codeOf(() => store.get('k'))).toBe(ErrorCodes.STORE_UNAVAILABLE);
        expect(await codeOf(() => store.put('k', 2))).toBe(ErrorCodes.STORE_UNAVAILABLE);
        expect(await codeOf(() => store.delete('k'))).toBe(ErrorCodes.STORE_UNAVAILABLE);
        expect(await codeOf(() => store.list(''))).toBe(ErrorCodes.STORE_UNAVAILABLE);
        expect(await codeOf(() => store.txn({ compares: [], success: [] }))).toBe(ErrorCodes.STORE_UNAVAILABLE);
        expect(await codeOf(() => store.revision())).toBe(ErrorCodes.STORE_UNAVAILABLE);
        expect(await codeOf(() => store.watch('', () => {}))).toBe(ErrorCodes.STORE_UNAVAILABLE);
        expect(await codeOf(() => store.grantLease(60))).toBe(ErrorCodes.STORE_UNAVAILABLE);
        expect(await codeOf(() => lease.keepAlive())).toBe(ErrorCodes.STORE_UNAVAILABLE);
        expect(await codeOf(() => lease.revoke())).toBe(ErrorCodes.STORE_UNAVAILABLE);
      });
    });
  });
}
