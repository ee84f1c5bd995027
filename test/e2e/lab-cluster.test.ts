// Cluster membership with real weftds on the netns lab, on a real etcd: every host sees every
// other; a killed weftd is "lost" (not gone) within TTL + 5 s and takes its identity back when it
// restarts; a host whose underlay link is cut is "gone" after --host-dead-after; `weft host rm`.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDriver } from '../helpers/lab.js';
import { sleep } from '../helpers/process.js';

const { lab, labOk } = labDriver('wt-labc');
const TTL = 3;
const DEAD_AFTER = 4;

interface HostRow {
  id: string;
  hostname: string;
  advertiseAddr?: string;
  state: 'up' | 'lost' | 'gone';
  self: boolean;
}

async function hosts(from: string): Promise<HostRow[]> {
  return JSON.parse(await labOk(['exec', from, '--', 'weft', 'host', 'ls', '--format', 'json'])) as HostRow[];
}
/** Polls until `pred` holds for what `from` sees; returns the seconds it took. */
async function waitFor(from: string, pred: (rows: HostRow[]) => boolean, limitS: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < limitS * 1000) {
    if (pred(await hosts(from))) return (Date.now() - t0) / 1000;
    await sleep(250);
  }
  throw new Error(`not within ${limitS} s; ${from} sees ${JSON.stringify(await hosts(from))}`);
}
const stateOf = (rows: HostRow[], id: string) => rows.find((r) => r.id === id)?.state;

describe('cluster membership on the lab', () => {
  beforeAll(async () => {
    await labOk(['up', '--hosts', '3', '--host-ttl', String(TTL), '--host-dead-after', String(DEAD_AFTER)], 240_000);
  });
  afterAll(async () => {
    await lab(['down']);
  });

  it('lists all three hosts as up on every host', async () => {
    for (const h of ['h1', 'h2', 'h3']) {
      await waitFor(h, (rows) => ['h1', 'h2', 'h3'].every((id) => stateOf(rows, id) === 'up'), 10);
      const rows = await hosts(h);
      expect(rows.find((r) => r.self)?.id).toBe(h);
    }
  });

  it('shows a killed weftd as lost within TTL + 5 s, and up again with its identity after restart', async () => {
    const before = (await hosts('h1')).find((r) => r.id === 'h2')!;
    await labOk(['stop', 'h2', '--kill']);
    // etcd raises short leases to its minimum (about 4 s with the lab's timers).
    await waitFor('h1', (rows) => stateOf(rows, 'h2') === 'lost', TTL + 1 + 5);
    // Lost is not gone: its VTEP still answers, so nothing of it is torn down.
    await sleep((DEAD_AFTER + 1) * 1000);
    expect(stateOf(await hosts('h3'), 'h2')).toBe('lost');
    await labOk(['start', 'h2']);
    await waitFor('h1', (rows) => stateOf(rows, 'h2') === 'up', 10);
    const after = (await hosts('h1')).find((r) => r.id === 'h2')!;
    expect(after.hostname).toBe(before.hostname);
    expect(after.advertiseAddr).toBe(before.advertiseAddr);
  });

  it('marks a host whose underlay link is cut gone after --host-dead-after, and host rm removes it', async () => {
    await labOk(['link', 'h3', 'down']);
    await waitFor('h1', (rows) => stateOf(rows, 'h3') === 'gone', TTL + 1 + DEAD_AFTER + 10);
    const rm = await lab(['exec', 'h1', '--', 'weft', 'host', 'rm', 'h3']);
    expect(rm.code, rm.stderr).toBe(0);
    expect((await hosts('h1')).map((r) => r.id)).not.toContain('h3');
    // An up host is not removed without --force.
    const refused = await lab(['exec', 'h1', '--', 'weft', 'host', 'rm', 'h2']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('WEFT_ERR_HOST_UP');
  });
});
