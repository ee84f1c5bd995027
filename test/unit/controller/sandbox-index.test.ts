import { describe, expect, it } from 'vitest';
import { SandboxIndex } from '../../../src/controller/sandbox-index.js';
import type { EndpointRecord } from '../../../src/model/network.js';

const ep = (id: string, path?: string): EndpointRecord => ({ id, networkId: 'n1', origin: 'weft', createdAt: '', ...(path ? { sandbox: { path } } : {}) }) as EndpointRecord;

describe('SandboxIndex', () => {
  it('builds a network from one list and follows writes and deletes after that', async () => {
    let lists = 0;
    const idx = new SandboxIndex(async () => (lists++, [ep('a', '/ns/a'), ep('b')]));
    expect(await idx.lookup('n1', '/ns/a')).toBe('a');
    expect(await idx.lookup('n1', '/ns/b')).toBeUndefined();
    idx.written(ep('b', '/ns/b'));
    expect(await idx.lookup('n1', '/ns/b')).toBe('b');
    idx.written(ep('b', '/ns/c'), ep('b', '/ns/b'));
    expect(await idx.lookup('n1', '/ns/b')).toBeUndefined();
    expect(await idx.lookup('n1', '/ns/c')).toBe('b');
    idx.deleted('n1', 'a');
    expect(await idx.lookup('n1', '/ns/a')).toBeUndefined();
    expect(lists).toBe(1);
    idx.networkDeleted('n1');
    expect(await idx.lookup('n1', '/ns/a')).toBe('a'); // built again from the (fake) store
    expect(lists).toBe(2);
  });

  it('builds again when a write lands while the list is read, and shares one build among callers', async () => {
    let store = [ep('a', '/ns/a')];
    let release!: () => void;
    let lists = 0;
    const idx = new SandboxIndex(async () => {
      lists++;
      const snapshot = store;
      if (lists === 1) await new Promise<void>((r) => (release = r));
      return snapshot;
    });
    const first = idx.lookup('n1', '/ns/b');
    const second = idx.lookup('n1', '/ns/a');
    await new Promise((r) => setTimeout(r, 0));
    // The write reaches the store after the first list took its snapshot.
    store = [...store, ep('b', '/ns/b')];
    idx.written(ep('b', '/ns/b'));
    release();
    expect(await first).toBe('b');
    expect(await second).toBe('a');
    expect(lists).toBe(2);
  });
});
