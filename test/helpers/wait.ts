// Polling with a deadline: tests wait for a condition, never for a fixed time.

import { sleep } from './process.js';

/** Calls `fn` every 200 ms until it returns true; resolves how long that took, or throws
 *  "`what`: not within `limitMs` ms". */
export async function waitUntil(what: string, fn: () => Promise<boolean>, limitMs = 20_000): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < limitMs) {
    if (await fn()) return Date.now() - t0;
    await sleep(200);
  }
  throw new Error(`${what}: not within ${limitMs} ms`);
}
