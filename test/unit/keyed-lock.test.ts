import { describe, expect, it } from 'vitest';
import { KeyedLock } from '../../src/model/keyed-lock.js';

/** A promise with its resolve, to hold a lock open until the test lets go. */
function gate(): { open: () => void; wait: Promise<void> } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { open, wait };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('KeyedLock', () => {
  it('runs exclusive holders of one key one at a time, in arrival order', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    let inside = 0;
    let most = 0;
    await Promise.all(
      [1, 2, 3, 4].map((i) =>
        lock.run('k', async () => {
          inside++;
          most = Math.max(most, inside);
          log.push(`in${i}`);
          await tick();
          log.push(`out${i}`);
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(log).toEqual(['in1', 'out1', 'in2', 'out2', 'in3', 'out3', 'in4', 'out4']);
  });

  it('lets shared holders run together', async () => {
    const lock = new KeyedLock();
    const g = gate();
    let inside = 0;
    const holders = [1, 2, 3].map(() =>
      lock.runShared('k', async () => {
        inside++;
        await g.wait;
      }),
    );
    await tick();
    expect(inside).toBe(3);
    g.open();
    await Promise.all(holders);
  });

  it('keeps an exclusive holder away from shared ones, both ways', async () => {
    const lock = new KeyedLock();
    const g1 = gate();
    const log: string[] = [];
    const s1 = lock.runShared('k', async () => {
      log.push('s1');
      await g1.wait;
      log.push('s1 done');
    });
    const g2 = gate();
    const x = lock.run('k', async () => {
      log.push('x');
      await g2.wait;
      log.push('x done');
    });
    // Arrives after the exclusive waiter: must not overtake it (no starvation of exclusive holders).
    const s2 = lock.runShared('k', async () => void log.push('s2'));
    await tick();
    expect(log).toEqual(['s1']);
    g1.open();
    await s1;
    await tick();
    expect(log).toEqual(['s1', 's1 done', 'x']);
    g2.open();
    await Promise.all([x, s2]);
    expect(log).toEqual(['s1', 's1 done', 'x', 'x done', 's2']);
  });

  it('releases the key when the holder throws, and forgets idle keys', async () => {
    const lock = new KeyedLock();
    await expect(lock.run('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock.runShared('k', async () => Promise.reject(new Error('boom2')))).rejects.toThrow('boom2');
    expect(await lock.run('k', async () => 'after')).toBe('after');
    expect((lock as unknown as { keys: Map<string, unknown> }).keys.size).toBe(0);
  });

  it('does not hold different keys against each other', async () => {
    const lock = new KeyedLock();
    const g = gate();
    const a = lock.run('a', () => g.wait);
    expect(await lock.run('b', async () => 'b ran')).toBe('b ran');
    g.open();
    await a;
  });
});
