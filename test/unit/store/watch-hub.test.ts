import { describe, expect, it } from 'vitest';
import { ErrorCodes, isWeftError } from '../../../src/model/errors.js';
import type { WatchEvent, Watcher } from '../../../src/store/store.js';
import { WatchHub, type ChangeRecord } from '../../../src/store/watch-hub.js';

const put = (key: string, revision: number, value: unknown = revision): ChangeRecord => ({ type: 'put', key, json: JSON.stringify(value), revision });
const tick = () => new Promise<void>((r) => setTimeout(r, 0));

describe('WatchHub', () => {
  it('forgets a whole revision once any of its changes leaves the ring', () => {
    const hub = new WatchHub({ startRevision: 0, historyLimit: 3 });
    hub.publish([put('a', 1), put('b', 1)]);
    expect(hub.oldestResumableRevision).toBe(0);
    hub.publish([put('c', 2), put('d', 2)]); // evicts 'a' (rev 1); 'b' of rev 1 is left alone
    expect(hub.oldestResumableRevision).toBe(1);
    expect(() => hub.subscribe('', () => {}, 0)).toThrow(expect.objectContaining({ code: ErrorCodes.STORE_COMPACTED }));
    hub.publish([put('e', 3)]); // evicts 'b'
    expect(hub.oldestResumableRevision).toBe(1);
  });

  it('bounds the history by the size of its keys and values too, keeping the newest change', async () => {
    // Each change below is 1 + 102 characters (key, and a JSON string of 100 x's).
    const hub = new WatchHub({ startRevision: 0, historyChars: 350 });
    const big = (key: string, rev: number) => put(key, rev, 'x'.repeat(100));
    hub.publish([big('a', 1), big('b', 2), big('c', 3)]);
    expect(hub.oldestResumableRevision).toBe(0);
    hub.publish([big('d', 4)]); // 412 characters: 'a' goes
    expect(hub.oldestResumableRevision).toBe(1);
    const got: string[] = [];
    hub.subscribe('', (e) => got.push(e.key), 1);
    await tick();
    expect(got).toEqual(['b', 'c', 'd']);
    // One change larger than the whole budget is still kept (a watcher that just listed can resume).
    hub.publish([put('e', 5, 'y'.repeat(1000))]);
    expect(hub.oldestResumableRevision).toBe(4);
    expect(() => hub.subscribe('', () => {}, 3)).toThrow(expect.objectContaining({ code: ErrorCodes.STORE_COMPACTED }));
    const late: string[] = [];
    hub.subscribe('', (e) => late.push(e.key), 4);
    await tick();
    expect(late).toEqual(['e']);
    expect(() => new WatchHub({ startRevision: 0, historyChars: 0 })).toThrow(RangeError);
  });

  it('replays only complete revisions after the resume point, then live ones, in order', async () => {
    const hub = new WatchHub({ startRevision: 10, historyLimit: 100 });
    hub.publish([put('x/1', 11), put('y/1', 12), put('x/2', 13), put('x/3', 13)]);
    const got: string[] = [];
    hub.subscribe('x/', (e) => got.push(`${e.key}@${e.revision}`), 11);
    hub.publish([put('x/4', 14)]);
    expect(got).toEqual([]); // nothing is delivered synchronously
    await tick();
    expect(got).toEqual(['x/2@13', 'x/3@13', 'x/4@14']);
  });

  it('a callback can cancel its own watcher; queued events then stop', async () => {
    const hub = new WatchHub({ startRevision: 0 });
    const got: number[] = [];
    let w: Watcher | undefined = undefined;
    w = hub.subscribe('', (e: WatchEvent) => {
      got.push(e.revision);
      if (e.revision === 2) void w!.cancel();
    });
    hub.publish([put('a', 1), put('a', 2), put('a', 3)]);
    await tick();
    expect(got).toEqual([1, 2]);
    expect(hub.watcherCount).toBe(0);
  });

  it('rejects a nonsensical history limit', () => {
    expect(() => new WatchHub({ startRevision: 0, historyLimit: 0 })).toThrow(RangeError);
    // and the compaction error is a WeftError with details
    const hub = new WatchHub({ startRevision: 5 });
    try {
      hub.subscribe('p/', () => {}, 4);
      expect.unreachable();
    } catch (e) {
      expect(isWeftError(e, ErrorCodes.STORE_COMPACTED)).toBe(true);
      expect((e as { details?: unknown }).details).toEqual({ prefix: 'p/', afterRevision: 4, oldestResumableRevision: 5 });
    }
  });
});
