import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isWeftError } from '../../../src/model/errors.js';
import { openLocalStore, type LocalStore } from '../../../src/store/local-store.js';
import { SCHEMA_KEY, ensureSchema, type Migrations } from '../../../src/store/schema.js';
import type { Store } from '../../../src/store/store.js';

let dir: string;
let store: LocalStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'weft-schema-'));
  store = await openLocalStore({ path: path.join(dir, 'store') });
});

afterEach(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

async function errorOf(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, but the call succeeded');
}

describe('ensureSchema', () => {
  it('writes the current version into an empty store', async () => {
    const r = await ensureSchema(store, 1, {}, { writtenBy: 'weft 0.1.0' });
    expect(r).toEqual({ previous: undefined, current: 1, migrated: [] });
    expect((await store.get(SCHEMA_KEY))?.value).toEqual({ version: 1, writtenBy: 'weft 0.1.0' });
  });

  it('leaves a store at the current version alone', async () => {
    await ensureSchema(store, 1);
    const rev = await store.revision();
    const r = await ensureSchema(store, 1);
    expect(r).toEqual({ previous: 1, current: 1, migrated: [] });
    expect(await store.revision()).toBe(rev);
  });

  it('runs the migrations of an older store in order, recording each step', async () => {
    await ensureSchema(store, 1);
    await store.put('old/a', 'v1-format');
    const ran: string[] = [];
    const migrations: Migrations = {
      3: async (s: Store) => {
        ran.push(`3 sees schema ${((await s.get(SCHEMA_KEY))?.value as { version: number }).version}`);
        await s.put('new/c', true);
      },
      2: async (s: Store) => {
        ran.push(`2 sees schema ${((await s.get(SCHEMA_KEY))?.value as { version: number }).version}`);
        const old = await s.get<string>('old/a');
        await s.txn({ compares: [], success: [{ type: 'put', key: 'new/a', value: { was: old!.value } }, { type: 'delete', key: 'old/a' }] });
      },
    };
    const r = await ensureSchema(store, 3, migrations, { writtenBy: 'weft 0.3.0' });
    expect(r).toEqual({ previous: 1, current: 3, migrated: [2, 3] });
    expect(ran).toEqual(['2 sees schema 1', '3 sees schema 2']);
    expect((await store.get(SCHEMA_KEY))?.value).toEqual({ version: 3, writtenBy: 'weft 0.3.0' });
    expect((await store.get('new/a'))?.value).toEqual({ was: 'v1-format' });
    expect(await store.get('old/a')).toBeUndefined();
  });

  it('a failed migration leaves the version of the last finished step, and a rerun resumes there', async () => {
    await ensureSchema(store, 1);
    let fail = true;
    const ran: number[] = [];
    const migrations: Migrations = {
      2: async () => {
        ran.push(2);
      },
      3: async () => {
        ran.push(3);
        if (fail) throw new Error('disk on fire');
      },
    };
    const e = await errorOf(() => ensureSchema(store, 3, migrations));
    expect(isWeftError(e, ErrorCodes.STORE_SCHEMA)).toBe(true);
    expect(e.message).toContain('schema 3');
    expect(e.message).toContain('disk on fire');
    expect(((await store.get(SCHEMA_KEY))?.value as { version: number }).version).toBe(2);

    fail = false;
    const r = await ensureSchema(store, 3, migrations);
    expect(r.migrated).toEqual([3]);
    expect(ran).toEqual([2, 3, 3]);
  });

  it('refuses a newer store with STORE_SCHEMA and changes nothing', async () => {
    await store.put(SCHEMA_KEY, { version: 4, writtenBy: 'weft 9.0.0' });
    const rev = await store.revision();
    const e = await errorOf(() => ensureSchema(store, 1));
    expect(isWeftError(e, ErrorCodes.STORE_SCHEMA)).toBe(true);
    expect(e.message).toBe('store schema 4 is newer than this weft supports (1): upgrade weft');
    expect(await store.revision()).toBe(rev);
  });

  it('refuses an upgrade with a missing migration before running any', async () => {
    await ensureSchema(store, 1);
    let ran = false;
    const e = await errorOf(() =>
      ensureSchema(store, 3, {
        2: async () => {
          ran = true;
        },
      }),
    );
    expect(isWeftError(e, ErrorCodes.STORE_SCHEMA)).toBe(true);
    expect(e.message).toContain('no migration to schema 3');
    expect(ran).toBe(false);
    expect(((await store.get(SCHEMA_KEY))?.value as { version: number }).version).toBe(1);
  });

  it('refuses an unreadable schema record', async () => {
    await store.put(SCHEMA_KEY, 'version one');
    const e = await errorOf(() => ensureSchema(store));
    expect(isWeftError(e, ErrorCodes.STORE_SCHEMA)).toBe(true);
    expect(e.message).toContain(SCHEMA_KEY);
  });

  it('two concurrent first starts: one writes, the other sees a conflict rather than clobbering', async () => {
    const results = await Promise.allSettled([ensureSchema(store, 1, {}, { writtenBy: 'a' }), ensureSchema(store, 1, {}, { writtenBy: 'b' })]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(isWeftError(r.reason, ErrorCodes.STORE_CONFLICT)).toBe(true);
    }
    expect(((await store.get(SCHEMA_KEY))?.value as { version: number }).version).toBe(1);
  });
});
