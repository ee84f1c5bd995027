// The LinkOps contract on the real kernel, for both implementations, in throw-away namespaces:
// - Iproute2LinkOps with its namespace target (`ip -n NS`), one fresh namespace per case;
// - NetlinkLinkOps, which acts on the namespace of its own process, in a child process started
//   inside a throw-away namespace (test/unit/sys/link-ops-contract-child.ts), so that the
//   machine's own namespace is never touched. The child also exercises ProcSysctl.
// With WEFT_LINKOPS_BENCH=1 it also prints the time per ensureVeth + attach (median of 100) for
// each implementation.

import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProcessRunner } from '../../src/sys/exec.js';
import { Iproute2LinkOps } from '../../src/sys/iproute2/iproute2-link-ops.js';
import { benchAttach } from '../unit/sys/attach-bench.js';
import { linkOpsContract } from '../unit/sys/link-ops-contract.js';
import { stackedLinksContract } from '../unit/sys/stacked-links-contract.js';
import { netnsScopePerFile, netnsScopePerTest } from '../helpers/netns.js';
import { run, runOk } from '../helpers/process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = path.join(ROOT, 'test/unit/sys/link-ops-contract-child.ts');
const TS_REGISTER = path.join(ROOT, 'test/helpers/ts-register.mjs');
const runner = new ProcessRunner();

/** Starts the child runner inside `ns` and returns its JSON lines. */
async function runChild(ns: string, args: string[], timeoutMs = 120_000): Promise<{ lines: Array<Record<string, unknown>>; stderr: string }> {
  const self = statSync('/proc/self/ns/net');
  const env = { ...process.env, WEFT_TEST_PARENT_NETNS: `${self.dev}:${self.ino}` };
  const r = await run(['ip', 'netns', 'exec', ns, process.execPath, '--import', TS_REGISTER, CHILD, ...args], { cwd: ROOT, timeoutMs, env });
  if (r.code !== 0) throw new Error(`contract child exited with ${r.code}: ${r.stderr}`);
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { lines, stderr: r.stderr };
}

describe('Iproute2LinkOps (ip -n NS) meets the LinkOps contract', () => {
  const scope = netnsScopePerTest();
  const probe = new Iproute2LinkOps(runner);
  for (const c of linkOpsContract) {
    it.skipIf(c.applies !== undefined && !c.applies(probe))(c.name, async () => {
      const ns = await scope.create();
      const other = await scope.create();
      await c.run({ ops: new Iproute2LinkOps(runner, { netns: ns.name }), netns: ns.name, otherNetns: other.name });
    });
  }
});

describe('NetlinkLinkOps (in a child inside a namespace) meets the LinkOps contract', () => {
  const scope = netnsScopePerFile();
  const results = new Map<string, Record<string, unknown>>();
  let childStderr = '';
  let nsName = '';
  let hostForward = '';

  beforeAll(async () => {
    hostForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    const ns = await scope.create();
    const other = await scope.create();
    nsName = ns.name;
    const out = await runChild(ns.name, ['contract', ns.name, other.name]);
    childStderr = out.stderr;
    for (const l of out.lines) results.set(String(l.case), l);
  }, 180_000);

  for (const c of linkOpsContract) {
    it(c.name, () => {
      const r = results.get(c.name);
      expect(r, `no result from the child; its stderr: ${childStderr}`).toBeDefined();
      expect(r!.skipped, 'netlink offers every optional method').toBeUndefined();
      if (r!.ok !== true) throw new Error(String(r!.error));
    });
  }

  // The macvlan driver's stacked links through netlink (the composition root gives the driver
  // this implementation whenever the package loads).
  for (const c of stackedLinksContract) {
    it(`stacked: ${c.name}`, () => {
      const r = results.get(`stacked: ${c.name}`);
      expect(r, `no result from the child; its stderr: ${childStderr}`).toBeDefined();
      if (r!.ok !== true) throw new Error(String(r!.error));
    });
  }

  it('ProcSysctl wrote the namespace it runs in, and not the machine', async () => {
    const r = results.get('ProcSysctl');
    expect(r, childStderr).toMatchObject({ ok: true, ipForward: '1', routeLocalnet: '1' });
    const inside = await runOk(['nsenter', `--net=/var/run/netns/${nsName}`, '--', 'cat', '/proc/sys/net/ipv4/ip_forward']);
    expect(inside.stdout.trim()).toBe('1');
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8')).toBe(hostForward);
  });
});

describe.runIf(process.env.WEFT_LINKOPS_BENCH === '1')('time per ensureVeth + attach (median of 100)', () => {
  const scope = netnsScopePerTest();
  const N = Number(process.env.WEFT_LINKOPS_BENCH_N ?? 100);

  const variants = [
    { byPath: false, born: false },
    { byPath: true, born: false },
    { byPath: false, born: true },
  ];
  for (const { byPath, born } of variants) {
    const label = `sandbox by ${byPath ? 'path (nsenter)' : 'name (ip -n)'}, peer ${born ? 'born in the sandbox' : 'moved in'}`;
    it(`iproute2, ${label}`, async () => {
      const host = await scope.create();
      const sandbox = await scope.create();
      const ops = new Iproute2LinkOps(runner, { netns: host.name });
      const figures = await benchAttach({ ops, runner, hostNetns: host.name, sandbox: sandbox.name, byPath, bornInSandbox: born, n: N });
      console.log(JSON.stringify({ bench: 'iproute2', byPath, bornInSandbox: born, ...figures }));
      expect((await sandbox.linkNames()).filter((n) => n.startsWith('eth'))).toHaveLength(N);
    });

    it(`netlink, ${label}`, async () => {
      const host = await scope.create();
      const sandbox = await scope.create();
      const out = await runChild(host.name, ['bench', host.name, sandbox.name, String(N), byPath ? 'path' : 'name', born ? 'born' : 'move']);
      console.log(JSON.stringify(out.lines[0]));
      expect((await sandbox.linkNames()).filter((n) => n.startsWith('eth'))).toHaveLength(N);
    });
  }
});
