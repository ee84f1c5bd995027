// LinkMonitor: the debouncing between the kernel's link events and the reconciler.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LinkEvent } from '../../../src/sys/link-ops.js';
import { LinkMonitor, weftLinkDeleted } from '../../../src/sys/netlink/link-monitor.js';

describe('LinkMonitor', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  const setup = () => {
    let emit: (e: LinkEvent) => void = () => undefined;
    let lost: () => void = () => undefined;
    let unsubscribed = false;
    const triggers: string[][] = [];
    const m = new LinkMonitor(
      {
        watchLinks: (on, onLost) => {
          emit = on;
          lost = onLost ?? (() => undefined);
          return () => void (unsubscribed = true);
        },
      },
      (names) => triggers.push(names),
      { quietMs: 100, maxDelayMs: 1000 },
    );
    expect(m.start()).toBe(true);
    return { m, triggers, emit: (e: LinkEvent) => emit(e), lost: () => lost(), unsubscribed: () => unsubscribed };
  };

  it('makes one call for a burst of deletions of weft links, once the burst is quiet', () => {
    const { triggers, emit } = setup();
    emit({ type: 'del', name: 'wf-abc', index: 4 });
    emit({ type: 'del', name: 'wfh123', index: 5 });
    emit({ type: 'del', name: 'eth0', index: 2 }); // not weft's
    emit({ type: 'add', name: 'wfh999', index: 6 }); // not a deletion
    vi.advanceTimersByTime(99);
    expect(triggers).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(triggers).toEqual([['wf-abc', 'wfh123']]);
  });

  it('does not wait longer than maxDelayMs under a steady stream, and a lost-events signal counts', () => {
    const { triggers, emit, lost } = setup();
    for (let t = 0; t < 1000; t += 50) {
      emit({ type: 'del', name: `wf${t}`, index: t });
      vi.advanceTimersByTime(50);
    }
    expect(triggers).toHaveLength(1);
    lost();
    vi.advanceTimersByTime(100);
    expect(triggers.at(-1)).toEqual(['(events lost)']);
  });

  it('stop() unsubscribes and drops a pending call', () => {
    const { m, triggers, emit, unsubscribed } = setup();
    emit({ type: 'del', name: 'wf-abc', index: 4 });
    m.stop();
    vi.advanceTimersByTime(2000);
    expect(triggers).toEqual([]);
    expect(unsubscribed()).toBe(true);
  });

  it('says so when the link backend has no events', () => {
    expect(new LinkMonitor({}, () => undefined).start()).toBe(false);
    expect(weftLinkDeleted({ type: 'del', name: 'wfx1', index: 1 })).toBe(true);
    expect(weftLinkDeleted({ type: 'change', name: 'wfx1', index: 1 })).toBe(false);
  });
});
