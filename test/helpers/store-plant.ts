// Writes (or deletes) records straight into a STOPPED weftd's embedded store, with the same store
// code weftd runs (dist/), in a child process: the only way to plant a record that no API would
// write, for tests of `weft check --repair`. Keys are the store's own (src/controller/records.ts).

import path from 'node:path';
import { run } from './process.js';
import { WEFTD_JS, type WeftdHandle } from './weftd.js';

/** `[key, value]` puts, `[key, null]` deletes. weftd must be stopped (its in-memory state would not see them). */
export async function plantRecords(weftd: WeftdHandle, ops: [string, unknown][]): Promise<void> {
  if (weftd.proc) throw new Error('plantRecords: stop weftd first');
  const storeJs = path.join(path.dirname(WEFTD_JS), '../store/local-store.js');
  const code = `
    const { openLocalStore } = await import(${JSON.stringify(storeJs)});
    const store = await openLocalStore({ path: process.argv[1] });
    for (const [k, v] of JSON.parse(process.argv[2])) {
      if (v === null) await store.delete(k);
      else await store.put(k, v);
    }
    await store.close();`;
  const r = await run([process.execPath, '--input-type=module', '-e', code, path.join(weftd.stateDir, 'store'), JSON.stringify(ops)], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`planting records failed: ${r.stderr}`);
}
