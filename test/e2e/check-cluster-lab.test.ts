// weft check across hosts, and VXLAN self-repair, on the netns lab (2 hosts, real etcd, real
// weftds from dist/; `npm run build` first). An address held on two hosts is planted the way it
// could happen (the IPAM lost it, and another host was handed it): both hosts report it, --repair
// leaves two live holders alone, and once one holder is stale --repair on each host makes the
// cluster clean again. A VXLAN device deleted by hand comes back by the link event alone.

import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, sleep, type RunResult } from '../helpers/process.js';

const LAB = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'scripts/lab');
const NAME = 'wt-chk';
const DIR = path.join(tmpdir(), `weft-lab-test-${NAME}`);

const lab = (args: string[], timeoutMs = 120_000): Promise<RunResult> => run([LAB, '--name', NAME, '--dir', DIR, ...args], { timeoutMs });
async function labOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await lab(args, timeoutMs);
  if (r.code !== 0) throw new Error(`lab ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}
const onHost = (h: string, cmd: string[]) => lab(['exec', h, '--', ...cmd]);
const onHostOk = (h: string, cmd: string[]) => labOk(['exec', h, '--', ...cmd]);

interface Finding {
  kind: string;
  object: string;
  details?: Record<string, unknown>;
}
const check = async (h: string) => {
  const r = await onHost(h, ['weft', 'check', '--format', 'json']);
  return { code: r.code, findings: (JSON.parse(r.stdout) as { findings: Finding[] }).findings };
};
const repair = async (h: string) => {
  const r = await onHost(h, ['weft', 'check', '--repair', '--format', 'json']);
  return { code: r.code, ...(JSON.parse(r.stdout) as { repairs: { kind: string; object: string; outcome: string }[]; after: { findings: Finding[] } }) };
};

/** One call on a host's Docker IPAM plugin socket (a file in the lab dir). */
function ipam(h: string, method: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    const req = request({ socketPath: path.join(DIR, h, 'plugins', 'weft.sock'), method: 'POST', path: `/IpamDriver.${method}`, headers: { 'content-length': payload.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function until(what: string, fn: () => Promise<boolean>, limitMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < limitMs) {
    if (await fn()) return;
    await sleep(200);
  }
  throw new Error(`${what}: not within ${limitMs} ms`);
}

describe('weft check across hosts, on the lab', () => {
  let netId = '';
  let poolId = '';

  beforeAll(async () => {
    await lab(['down']);
    await labOk(['up', '--hosts', '2', '--weftd-arg=--reconcile-interval=3600'], 240_000);
    netId = (await onHostOk('h1', ['weft', 'network', 'create', '-d', 'overlay', 'ovchk', '--subnet', '10.63.0.0/24'])).trim();
    const [net] = JSON.parse(await onHostOk('h1', ['weft', 'network', 'inspect', 'ovchk'])) as { ipam: { poolId: string }[] }[];
    poolId = net!.ipam[0]!.poolId;
    for (const [h, ns] of [['h1', 'c1'], ['h2', 'c2'], ['h2', 'c3']] as const) await onHostOk(h, ['ip', 'netns', 'add', ns]);
  }, 300_000);
  afterAll(async () => {
    await lab(['down']);
  });

  it('an address held on two hosts: reported on both, left alone while both live, repaired once one is stale', async () => {
    const c1 = JSON.parse(await onHostOk('h1', ['weft', 'network', 'connect', '--format', 'json', 'ovchk', 'c1'])) as { ipv4: string };
    const ip = c1.ipv4.split('/')[0]!;
    // The global IPAM loses c1's address (through h2), and h2 is handed it for c2.
    expect(await ipam('h2', 'ReleaseAddress', { PoolID: poolId, Address: ip })).toBe(200);
    await onHostOk('h2', ['weft', 'network', 'connect', '--ip', ip, 'ovchk', 'c2']);

    for (const h of ['h1', 'h2']) {
      const r = await check(h);
      expect(r.code).toBe(1);
      expect(r.findings.map((f) => `${f.kind} ${f.object}`)).toEqual([`duplicate-address address ${ip}`]);
      expect(r.findings[0]!.details).toMatchObject({ crossHost: true });
    }
    const live = await repair('h2');
    expect(live.code).toBe(1);
    expect(live.repairs).toEqual([expect.objectContaining({ kind: 'duplicate-address', outcome: 'skipped' })]);

    // c2's container goes away without a disconnect: h2 drops the stale endpoint (and the
    // address, which the IPAM held for it); h1's endpoint then lacks its allocation, which h1's
    // repair takes back.
    await onHostOk('h2', ['ip', 'netns', 'del', 'c2']);
    const h2 = await repair('h2');
    expect(h2.repairs.map((a) => `${a.kind} ${a.outcome}`)).toContain('stale-endpoint repaired');
    expect(h2.after.findings).toEqual([]);
    expect(h2.code).toBe(0);
    const before = await check('h1');
    expect(before.findings.map((f) => `${f.kind} ${f.object}`)).toEqual([`unallocated-address address ${ip}`]);
    const h1 = await repair('h1');
    expect(h1.code).toBe(0);
    for (const h of ['h1', 'h2']) expect(await check(h)).toEqual({ code: 0, findings: [] });
    // The address is c1's again: nobody else can have it.
    expect((await onHost('h2', ['weft', 'network', 'connect', '--ip', ip, 'ovchk', 'c3'])).code).not.toBe(0);
  });

  it('a VXLAN device deleted by hand is re-created by the link event, and traffic across hosts comes back', async () => {
    const c3 = JSON.parse(await onHostOk('h2', ['weft', 'network', 'connect', '--format', 'json', 'ovchk', 'c3'])) as { ipv4: string };
    const ip3 = c3.ipv4.split('/')[0]!;
    const ping = () => onHost('h1', ['ip', 'netns', 'exec', 'c1', 'busybox', 'ping', '-c', '1', '-W', '1', ip3]);
    await until('c1 -> c3 across hosts', async () => (await ping()).code === 0);
    const vxlan = `wfx${netId.slice(0, 12)}`;
    await onHostOk('h1', ['ip', 'link', 'del', vxlan]);
    await until('c1 -> c3 after the VXLAN device was deleted', async () => (await ping()).code === 0);
    expect(await onHostOk('h1', ['ip', '-br', 'link', 'show', vxlan])).toContain(vxlan);
    expect((await check('h1')).code).toBe(0);
  });
});
