import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, WeftError, isWeftError } from '../../../src/model/errors.js';
import { openLocalStore, type LocalStore } from '../../../src/store/local-store.js';
import { KEEP, REMOVE, updateKey } from '../../../src/store/update.js';

let dir: string;
let store: LocalStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'weft-update-'));
  store = await openLocalStore({ path: path.join(dir, 'store') });
});

afterEach(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('updateKey', () => {
  it('creates a missing key and updates an existing one', async () => {
    const r1 = await updateKey<number>(store, 'n', (cur) => (cur ?? 0) + 1);
    expect(r1).toMatchObject({ value: 1, changed: true, attempts: 1 });
    const r2 = await updateKey<number>(store, 'n', (cur) => (cur ?? 0) + 1);
    expect(r2.value).toBe(2);
    expect(await store.get('n')).toMatchObject({ value: 2, modRevision: r2.revision });
  });

  it('KEEP writes nothing; REMOVE deletes', async () => {
    await store.put('k', 'v');
    const rev = await store.revision();
    expect(await updateKey(store, 'k', () => KEEP)).toMatchObject({ value: 'v', changed: false, revision: rev });
    expect(await store.revision()).toBe(rev);
    expect(await updateKey(store, 'k', () => REMOVE)).toMatchObject({ value: undefined, changed: true });
    expect(await store.get('k')).toBeUndefined();
    expect(await updateKey(store, 'k', () => REMOVE)).toMatchObject({ changed: false });
  });

  it('50 concurrent increments all land', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, () => updateKey<number>(store, 'counter', (cur) => (cur ?? 0) + 1, { retries: 200 })),
    );
    expect((await store.get('counter'))?.value).toBe(50);
    expect(results.map((r) => r.value).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(results.some((r) => r.attempts > 1)).toBe(true);
  });

  it('gives up with STORE_CONFLICT after the retries', async () => {
    let calls = 0;
    const e = await updateKey<number>(
      store,
      'hot',
      async (cur) => {
        calls++;
        // Somebody else writes between our read and our write, every time.
        await store.put('hot', (cur ?? 0) + 100);
        return (cur ?? 0) + 1;
      },
      { retries: 3, maxBackoffMs: 1 },
    ).catch((err: unknown) => err);
    expect(isWeftError(e, ErrorCodes.STORE_CONFLICT)).toBe(true);
    expect((e as Error).message).toContain('after 4 attempts');
    expect(calls).toBe(4);
  });

  it('an error from the update function passes through without retry', async () => {
    let calls = 0;
    const boom = new WeftError(ErrorCodes.POOL_EXHAUSTED, 'pool is full');
    await expect(
      updateKey(store, 'k', () => {
        calls++;
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(calls).toBe(1);
  });
});
