// The unit tests' set-up helper (test/helpers/unit-container.ts): what it builds is real (an lmdb
// store, the composition root whose commands go to the recording runner), and its clean-up closes
// the stores, removes the temp dirs, and keeps going when a step fails.

import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CleanupStack } from '../../helpers/cleanup-stack.js';
import { UnitScope } from '../../helpers/unit-container.js';

describe('UnitScope', () => {
  it('builds a store and the composition root on it, and removes both in cleanup', async () => {
    const scope = new UnitScope();
    try {
      const { dir, store, s, ran } = await scope.container('weft-unitscope-');
      await s.controller.createNetwork({ name: 'n', driver: 'none', origin: 'weft', options: {}, internal: false, enableIPv6: false, ipv4: [], ipv6: [] });
      expect((await store.list('')).length).toBeGreaterThan(0);
      expect(ran).toEqual([]); // a none network runs no command
      await s.runner.run(['ip', '-j', 'link', 'show']);
      expect(ran).toEqual([['ip', '-j', 'link', 'show']]);
      await writeFile(path.join(dir, 'extra'), 'x');
      await scope.cleanup();
      expect(existsSync(dir)).toBe(false);
      await expect(store.list('')).rejects.toThrow();
    } finally {
      await scope.cleanup();
    }
  });

  it('opens several stores in one dir and closes every one', async () => {
    const scope = new UnitScope();
    const dir = await scope.tempDir('weft-unitscope-');
    const a = await scope.openStore(dir, 'a');
    const b = await scope.openStore(dir, 'b');
    await a.put('k', 'a');
    expect(await b.get('k')).toBeUndefined();
    await scope.cleanup();
    expect(existsSync(dir)).toBe(false);
    await expect(a.get('k')).rejects.toThrow();
    await expect(b.get('k')).rejects.toThrow();
  });
});

describe('CleanupStack', () => {
  it('undoes newest first, runs every step when one fails, reports the failure, and empties', async () => {
    const stack = new CleanupStack();
    const order: number[] = [];
    stack.push(async () => void order.push(1));
    stack.push(async () => {
      order.push(2);
      throw new Error('step 2');
    });
    stack.push(async () => void order.push(3));
    const err = await stack.run('demo').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as AggregateError).message).toBe('demo clean-up failed');
    expect((err as AggregateError).errors.map((e: Error) => e.message)).toEqual(['step 2']);
    expect(order).toEqual([3, 2, 1]);
    await stack.run('demo');
    expect(order).toEqual([3, 2, 1]);
  });
});
