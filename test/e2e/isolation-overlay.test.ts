// The overlay row of the isolation matrix (the single-host rows are in
// test/integration/isolation-matrix.test.ts): two overlay networks on a two-host netns lab (one
// etcd, VXLAN between the hosts). Traffic on each network flows on one host and across hosts; traffic
// between the two networks is blocked, on one host and across hosts, both ways. The allowed
// traffic is checked in the same test, so a lab that carries nothing cannot pass as "isolated".
// Runs the built weft (`npm run build` first), as the lab does.

import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, type RunResult } from '../helpers/process.js';

const LAB = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'scripts/lab');
const NAME = 'wt-iso';
const DIR = path.join(tmpdir(), `weft-lab-test-${NAME}`);

const lab = (args: string[], timeoutMs = 120_000): Promise<RunResult> => run([LAB, '--name', NAME, '--dir', DIR, ...args], { timeoutMs });
async function labOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await lab(args, timeoutMs);
  if (r.code !== 0) throw new Error(`lab ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}
const onHostOk = (h: string, cmd: string[]) => labOk(['exec', h, '--', ...cmd]);
/** One echo from container namespace `ns` on host `h`; true when it came back. */
const reaches = async (h: string, ns: string, ip: string) =>
  (await lab(['exec', h, '--', 'ip', 'netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '1', ip])).code === 0;
/** Blocked: two tries fail (a first-packet ARP or FDB miss must not pass for a block). */
const blocked = async (h: string, ns: string, ip: string) => !(await reaches(h, ns, ip)) && !(await reaches(h, ns, ip));

async function connect(h: string, ns: string, net: string): Promise<string> {
  await onHostOk(h, ['ip', 'netns', 'add', ns]);
  const out = await onHostOk(h, ['weft', 'network', 'connect', net, ns]);
  const m = /eth\d+ ([0-9.]+)\/\d+/.exec(out);
  if (!m) throw new Error(`unexpected connect output: ${out}`);
  return m[1]!;
}

describe('two overlay networks on the lab', () => {
  const ip: Record<string, string> = {};

  beforeAll(async () => {
    await labOk(['up', '--hosts', '2'], 240_000);
    await onHostOk('h1', ['weft', 'network', 'create', '-d', 'overlay', 'iso-o1', '--subnet', '10.93.1.0/24']);
    await onHostOk('h2', ['weft', 'network', 'create', '-d', 'overlay', 'iso-o2', '--subnet', '10.93.2.0/24']);
    // On each host: x on the first overlay, y on the second.
    for (const h of ['h1', 'h2']) {
      ip[`${h}x`] = await connect(h, 'x', 'iso-o1');
      ip[`${h}y`] = await connect(h, 'y', 'iso-o2');
    }
  }, 300_000);

  afterAll(async () => {
    await lab(['down'], 120_000);
  });

  it('carries each network on one host and across hosts, and nothing between them', async () => {
    // Allowed: the same network, across hosts, both networks, both ways.
    expect(await reaches('h1', 'x', ip.h2x!)).toBe(true);
    expect(await reaches('h2', 'x', ip.h1x!)).toBe(true);
    expect(await reaches('h1', 'y', ip.h2y!)).toBe(true);
    expect(await reaches('h2', 'y', ip.h1y!)).toBe(true);
    // Blocked: between the networks, on one host and across hosts, both ways.
    expect(await blocked('h1', 'x', ip.h1y!)).toBe(true);
    expect(await blocked('h1', 'y', ip.h1x!)).toBe(true);
    expect(await blocked('h1', 'x', ip.h2y!)).toBe(true);
    expect(await blocked('h2', 'y', ip.h1x!)).toBe(true);
  });
});
