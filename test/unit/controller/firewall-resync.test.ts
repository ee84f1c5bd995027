// FirewallResync (src/controller/firewall-resync.ts): a trigger schedules checks at the settle
// delays, a new trigger restarts the schedule instead of adding to it, checks never overlap, a
// failing check is logged and the next one still runs, and stop() ends it all.

import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FirewallResync } from '../../../src/controller/firewall-resync.js';

const silent = pino({ level: 'silent' });

describe('FirewallResync', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('checks at once and at each settle delay after a trigger', async () => {
    const at: number[] = [];
    const t0 = Date.now();
    const r = new FirewallResync({ check: async () => (at.push(Date.now() - t0), 0), logger: silent, settleMs: [0, 100, 500] });
    r.request('test');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(at).toEqual([0, 100, 500]);
    expect(r.checks).toBe(3);
  });

  it('a burst of triggers restarts the schedule: one set of checks, counted from the last trigger', async () => {
    let checks = 0;
    const r = new FirewallResync({ check: async () => (checks++, 0), logger: silent, settleMs: [50, 200] });
    for (let i = 0; i < 6; i++) r.request('Plugin.Activate'); // `docker volume ls`: every socket
    await vi.advanceTimersByTimeAsync(40);
    r.request('Plugin.Activate');
    await vi.advanceTimersByTimeAsync(40);
    expect(checks).toBe(0); // at 80 ms: the first set (due at 50) was cancelled; the new one starts at 90
    await vi.advanceTimersByTimeAsync(1_000);
    expect(checks).toBe(2);
  });

  it('never runs two checks at once: a check due while one runs follows it', async () => {
    let running = 0;
    let maxRunning = 0;
    let checks = 0;
    const r = new FirewallResync({
      check: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((resolve) => setTimeout(resolve, 300));
        running--;
        checks++;
        return 0;
      },
      logger: silent,
      settleMs: [0, 100],
    });
    r.request('test');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(maxRunning).toBe(1);
    expect(checks).toBe(2);
  });

  it('counts repairs; a failing check does not stop the next; stop() cancels what is scheduled', async () => {
    const results: Array<number | Error> = [new Error('nft failed'), 1, 0];
    const r = new FirewallResync({
      check: async () => {
        const v = results.shift()!;
        if (v instanceof Error) throw v;
        return v;
      },
      logger: silent,
      settleMs: [0, 10, 20],
    });
    r.request('test');
    await vi.advanceTimersByTimeAsync(100);
    expect(r.checks).toBe(2);
    expect(r.repairs).toBe(1);
    let after = 0;
    const s = new FirewallResync({ check: async () => (after++, 0), logger: silent, settleMs: [10] });
    s.request('test');
    s.stop();
    s.request('after stop');
    await vi.advanceTimersByTimeAsync(100);
    expect(after).toBe(0);
  });
});
