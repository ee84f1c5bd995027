import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../src/model/semaphore.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('Semaphore', () => {
  it('lets at most `limit` run at once, the rest in arrival order, also when holders throw', async () => {
    const sem = new Semaphore(3);
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    const all = Array.from({ length: 20 }, (_, i) =>
      sem.run(async () => {
        inside++;
        most = Math.max(most, inside);
        order.push(i);
        await tick();
        inside--;
        if (i % 4 === 0) throw new Error(`boom ${i}`);
        return i;
      }),
    );
    const settled = await Promise.allSettled(all);
    expect(most).toBe(3);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(5);
    // Free again: a new holder runs at once.
    expect(await sem.run(async () => 'after')).toBe('after');
  });

  it('refuses a limit below 1', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
