import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isWeftError } from '../../../src/model/errors.js';
import { LocalStore } from '../../../src/store/local-store.js';
import { openStore } from '../../../src/store/open-store.js';

async function codeOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (isWeftError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a WeftError');
}

describe('openStore', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('"local" opens the embedded store in <stateDir>/store', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'weft-open-'));
    dirs.push(dir);
    const s = await openStore({ store: 'local', stateDir: dir });
    try {
      expect(s).toBeInstanceOf(LocalStore);
      expect(s.scope).toBe('local');
      expect((s as LocalStore).path).toBe(path.join(dir, 'store'));
    } finally {
      await s.close();
    }
  });

  it('refuses an unknown store, a bad etcd URL, a bad prefix and a relative state dir before connecting', async () => {
    expect(await codeOf(() => openStore({ store: 'consul://x', stateDir: '/tmp' }))).toBe(ErrorCodes.INVALID_OPTION);
    expect(await codeOf(() => openStore({ store: 'etcd://::1', stateDir: '/tmp' }))).toBe(ErrorCodes.INVALID_OPTION);
    expect(await codeOf(() => openStore({ store: 'etcd://127.0.0.1:2379', stateDir: '/tmp', etcdPrefix: 'weft' }))).toBe(ErrorCodes.INVALID_OPTION);
    expect(await codeOf(() => openStore({ store: 'local', stateDir: 'relative' }))).toBe(ErrorCodes.INVALID_OPTION);
  });
});
