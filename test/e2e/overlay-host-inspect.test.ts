// `weft host inspect` on the netns lab (docs/cli.md, docs/overlay.md "Host health"): 3 hosts on
// etcd. The transmit-checksum self-test has run at start and says ok (and that it can detect bad
// checksums); the VTEP probes of h1 reach h2 and h3 with a round-trip time; overlay counters count
// what is programmed and the repair of an FDB entry deleted by hand; another host's inspect shows
// what that host reported about itself; a host whose underlay is cut shows unreachable from the
// others, and reachable again once its cable is back.
// Runs the built weft (`npm run build` first), as the lab does. One lab for the whole file.

import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostInspectView } from '../../src/api/types.js';
import { run, sleep, type RunResult } from '../helpers/process.js';

const LAB = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'scripts/lab');
const NAME = 'wt-ohi';
const DIR = path.join(tmpdir(), `weft-lab-test-${NAME}`);
const TTL = 3;
const DEAD_AFTER = 30;
const REPAIR = 2;

const lab = (args: string[], timeoutMs = 120_000): Promise<RunResult> => run([LAB, '--name', NAME, '--dir', DIR, ...args], { timeoutMs });
async function labOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await lab(args, timeoutMs);
  if (r.code !== 0) throw new Error(`lab ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}
const onHost = (h: string, cmd: string[]) => lab(['exec', h, '--', ...cmd]);
const onHostOk = (h: string, cmd: string[]) => labOk(['exec', h, '--', ...cmd]);
const inspect = async (from: string, host: string) => JSON.parse(await onHostOk(from, ['weft', 'host', 'inspect', '--format', 'json', host])) as HostInspectView;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, limitMs: number): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  while (Date.now() - t0 < limitMs) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new Error(`${what}: not within ${limitMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
}

describe('weft host inspect on the lab', () => {
  let netId = '';

  beforeAll(async () => {
    await labOk(['up', '--hosts', '3', '--host-ttl', String(TTL), '--host-dead-after', String(DEAD_AFTER), `--weftd-arg=--overlay-repair-interval=${REPAIR}`], 240_000);
    netId = (await onHostOk('h1', ['weft', 'network', 'create', '-d', 'overlay', 'ovi', '--subnet', '10.62.0.0/24'])).trim();
    for (const h of ['h1', 'h2']) {
      await onHostOk(h, ['ip', 'netns', 'add', 'c1']);
      await onHostOk(h, ['weft', 'network', 'connect', 'ovi', 'c1']);
    }
  }, 300_000);

  afterAll(async () => {
    await lab(['down'], 120_000);
  });

  it('shows the self-test result and the VTEP probes to every other host', async () => {
    const v = await waitFor(
      'self-test done and both peers probed',
      async () => {
        const x = await inspect('h1', 'h1');
        return x.txChecksum?.state !== 'pending' && x.probes.length === 2 ? x : undefined;
      },
      30_000,
    );
    expect(v).toMatchObject({ id: 'h1', self: true, state: 'up', advertiseAddr: '198.18.0.11', inspectedFrom: 'h1', lease: { ttlSeconds: TTL } });
    expect(Date.parse(v.lease.expiresBy!)).toBeGreaterThan(Date.parse(v.lastSeen!));
    expect(v.txChecksum).toMatchObject({ state: 'ok', detects: true, offload: 'kept', udp: { bad: 0 }, tcp: { bad: 0 } });
    expect(v.txChecksum!.udp!.seen).toBeGreaterThan(0);
    expect(v.txChecksum!.tcp!.seen).toBeGreaterThan(0);
    expect(v.probes.map((p) => [p.hostId, p.addr, p.reachable])).toEqual([
      ['h2', '198.18.0.12', true],
      ['h3', '198.18.0.13', true],
    ]);
    for (const p of v.probes) {
      expect(p.rttMs).toBeGreaterThan(0);
      expect(p.lastSuccess).toBeDefined();
    }
    // The table says the same to a person.
    const table = await onHostOk('h1', ['weft', 'host', 'inspect', 'h1']);
    expect(table).toMatch(/Tx checksum test:\s+ok \(UDP \d+\/\d+, TCP \d+\/\d+ good\); the test detects bad checksums here; offload left on/);
    expect(table).toMatch(/^h2\s+198\.18\.0\.12\s+yes\s+[0-9.]+ ms/m);
    expect(table).toMatch(/^h3\s+198\.18\.0\.13\s+yes\s+[0-9.]+ ms/m);
  });

  it('counts what the overlay programmed, and the repair of an FDB entry deleted by hand', async () => {
    const before = await waitFor(
      'h1 programmed h2 (1 peer: its MAC and the flood entry, one neighbour entry)',
      async () => {
        const o = (await inspect('h1', 'h1')).overlay;
        return o && o.peers === 1 && o.fdbEntries === 2 && o.neighEntries === 1 ? o : undefined;
      },
      20_000,
    );
    expect(before.networks).toBe(1);
    const dev = `wfx${netId.slice(0, 12)}`;
    const fdb = await onHostOk('h1', ['bridge', 'fdb', 'show', 'dev', dev]);
    const mac = /^([0-9a-f:]{17}) dst 198\.18\.0\.12/m.exec(fdb.split('\n').filter((l) => !l.startsWith('00:00:00:00:00:00')).join('\n'))?.[1];
    expect(mac, fdb).toBeDefined();
    await onHostOk('h1', ['bridge', 'fdb', 'del', mac!, 'dev', dev, 'dst', '198.18.0.12', 'self']);
    const after = await waitFor(
      'the anti-entropy pass repaired it',
      async () => {
        const o = (await inspect('h1', 'h1')).overlay;
        return o && o.repairs > before.repairs ? o : undefined;
      },
      REPAIR * 1000 * 5,
    );
    expect(after.lastRepairAt).toBeDefined();
    expect(after.fdbEntries).toBe(2);
    expect(await onHostOk('h1', ['bridge', 'fdb', 'show', 'dev', dev])).toContain(`${mac} dst 198.18.0.12`);
  });

  it('shows another host as it reported itself: its self-test, counters and probes', async () => {
    const v = await waitFor(
      'h2 has published a report with its self-test and its counters',
      async () => {
        const x = await inspect('h1', 'h2');
        return x.reported?.txChecksum?.state === 'ok' && x.reported.overlay?.peers === 1 ? x : undefined;
      },
      60_000,
    );
    // The answering weftd's own measurement of h2, and h2's own word, side by side.
    expect(v.inspectedFrom).toBe('h1');
    expect(v.txChecksum).toBeUndefined();
    expect(v.probes).toMatchObject([{ hostId: 'h2', reachable: true }]);
    expect(v.reported!.txChecksum).toMatchObject({ detects: true, offload: 'kept' });
    expect(v.reported!.overlay).toMatchObject({ networks: 1, fdbEntries: 2, neighEntries: 1 });
    expect(v.reported!.probes.map((p) => p.hostId)).toEqual(['h1', 'h3']);
    const table = await onHostOk('h1', ['weft', 'host', 'inspect', 'h2']);
    expect(table).toMatch(/Reported:\s+\S+ \(.*\), by h2 itself\n/);
    expect(table).toMatch(/Tx checksum test:\s+ok/);
    expect(table).toContain('VTEP probes from h2 to the others');
  });

  it('shows a host whose underlay is cut as unreachable, and reachable again once it is back', async () => {
    const up = await inspect('h2', 'h3');
    expect(up.probes).toMatchObject([{ hostId: 'h3', reachable: true }]);
    // Another host's view: only the probe from the answering host to it, no self-test of its own.
    expect(up.inspectedFrom).toBe('h2');
    expect(up.txChecksum).toBeUndefined();
    await labOk(['link', 'h3', 'down']);
    try {
      const cut = await waitFor(
        'h3 unreachable from h1 and h2',
        async () => {
          const [a, b] = await Promise.all([inspect('h1', 'h3'), inspect('h2', 'h3')]);
          return a.probes[0]?.reachable === false && b.probes[0]?.reachable === false ? [a, b] : undefined;
        },
        15_000,
      );
      for (const v of cut) {
        expect(v.probes[0]).toMatchObject({ hostId: 'h3', addr: '198.18.0.13', reachable: false });
        expect(v.probes[0]!.failures).toBeGreaterThan(0);
        expect(v.probes[0]!.rttMs).toBeUndefined();
        // The last success before the cut is kept.
        expect(Date.parse(v.probes[0]!.lastSuccess!)).toBeLessThan(Date.parse(v.probes[0]!.lastProbe));
      }
      const table = await onHostOk('h1', ['weft', 'host', 'inspect', 'h3']);
      expect(table).toMatch(/^h3\s+198\.18\.0\.13\s+no \(\d+ in a row\)\s+-/m);
      // h1's own view lists h3 unreachable too, h2 still reachable.
      const self = await inspect('h1', 'h1');
      expect(self.probes.map((p) => [p.hostId, p.reachable])).toEqual([
        ['h2', true],
        ['h3', false],
      ]);
    } finally {
      await labOk(['link', 'h3', 'up']);
    }
    await waitFor(
      'h3 reachable again',
      async () => ((await inspect('h1', 'h3')).probes[0]?.reachable === true ? true : undefined),
      15_000,
    );
  });

  it('refuses an unknown host with the host-not-found code', async () => {
    const r = await onHost('h1', ['weft', 'host', 'inspect', 'nosuchhost']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('WEFT_ERR_HOST_NOT_FOUND');
  });
});
