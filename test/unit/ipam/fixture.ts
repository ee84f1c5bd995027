// Shared set-up for the IpamService tests: a real embedded store in a temp dir, removed after.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLocalStore } from '../../../src/store/local-store.js';
import type { Store } from '../../../src/store/store.js';
import { IpamService, type IpamOptions } from '../../../src/ipam/ipam-service.js';
import { WeftError } from '../../../src/model/errors.js';

export interface Fixture {
  dir: string;
  store: Store;
  /** Routes the next default-pool choice will see. */
  routes: string[];
  ipam(opts?: IpamOptions): IpamService;
  /** Closes the store and opens it again (a daemon restart). */
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

export async function makeFixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-ipam-'));
  const path = join(dir, 'store');
  const fx: Fixture = {
    dir,
    store: await openLocalStore({ path }),
    routes: [],
    ipam: (opts = {}) => new IpamService(fx.store, async () => fx.routes, opts),
    reopen: async () => {
      await fx.store.close();
      fx.store = await openLocalStore({ path });
      return fx.store;
    },
    cleanup: async () => {
      await fx.store.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fx;
}

/** Everything in the store, for "a refused request changes nothing". */
export async function dump(store: Store): Promise<unknown> {
  const all = await store.list('');
  return { revision: await store.revision(), all: all.map((kv) => [kv.key, kv.modRevision, kv.value]) };
}

export async function rejection(p: Promise<unknown>): Promise<WeftError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof WeftError) return e;
    throw e;
  }
  throw new Error('expected the promise to reject with a WeftError');
}
