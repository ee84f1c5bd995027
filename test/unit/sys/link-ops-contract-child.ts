// Runs the LinkOps contract against NetlinkLinkOps (and ProcSysctl) in a child process that was
// started INSIDE a throw-away namespace, because both act on the namespace of the process itself
// and tests must never touch the machine's own. test/integration/link-ops.test.ts starts it:
//
//   ip netns exec NS node --import ./test/helpers/ts-register.mjs test/unit/sys/link-ops-contract-child.ts contract NS OTHER
//   ip netns exec NS node --import ... link-ops-contract-child.ts bench NS SANDBOX N (name|path) (move|born)
//
// Before anything else it proves where it runs: its network namespace must be NS (same nsfs
// inode as /var/run/netns/NS) and not the one of the test process that started it (passed as
// WEFT_TEST_PARENT_NETNS=dev:ino; /proc/1 may not be readable here). It prints one JSON line per
// result.

import { stat } from 'node:fs/promises';
import { ProcessRunner } from '../../../src/sys/exec.js';
import { NetlinkLinkOps } from '../../../src/sys/netlink/netlink-link-ops.js';
import { ProcSysctl } from '../../../src/sys/sysctl.js';
import { benchAttach } from './attach-bench.js';
import { linkOpsContract } from './link-ops-contract.js';
import { stackedLinksContract } from './stacked-links-contract.js';

const same = (a: { dev: number; ino: number }, b: { dev: number; ino: number }) => a.dev === b.dev && a.ino === b.ino;

async function assertInside(netns: string): Promise<void> {
  const [dev, ino] = (process.env.WEFT_TEST_PARENT_NETNS ?? '').split(':').map(Number);
  const [self, target] = await Promise.all([stat('/proc/self/ns/net'), stat(`/var/run/netns/${netns}`)]);
  if (!dev || !ino || same(self, { dev, ino }) || !same(self, target)) {
    process.stderr.write(`refusing to run: this process is not inside the test namespace ${netns}\n`);
    process.exit(3);
  }
}

const emit = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function contract(netns: string, otherNetns: string): Promise<void> {
  const ops = new NetlinkLinkOps();
  try {
    for (const c of linkOpsContract) {
      if (c.applies && !c.applies(ops)) {
        emit({ case: c.name, skipped: true });
        continue;
      }
      try {
        await c.run({ ops, netns, otherNetns });
        emit({ case: c.name, ok: true });
      } catch (e) {
        emit({ case: c.name, ok: false, error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) });
      }
    }
    // The macvlan driver's stacked links, after the cases above (they want `otherNetns` empty).
    for (const c of stackedLinksContract) {
      try {
        await c.run({ ops, netns, otherNetns });
        emit({ case: `stacked: ${c.name}`, ok: true });
      } catch (e) {
        emit({ case: `stacked: ${c.name}`, ok: false, error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) });
      }
    }
  } finally {
    ops.close();
  }
  // ProcSysctl writes the process's own namespace: the parent checks the result from outside.
  const sysctl = new ProcSysctl();
  try {
    await sysctl.set('net.ipv4.ip_forward', '1');
    await sysctl.set('net.ipv4.conf.lo.route_localnet', '1');
    emit({ case: 'ProcSysctl', ok: true, ipForward: await sysctl.get('net.ipv4.ip_forward'), routeLocalnet: await sysctl.get('net.ipv4.conf.lo.route_localnet') });
  } catch (e) {
    emit({ case: 'ProcSysctl', ok: false, error: String(e) });
  }
}

async function bench(sandbox: string, n: number, byPath: boolean, bornInSandbox: boolean): Promise<void> {
  const ops = new NetlinkLinkOps();
  try {
    emit({ bench: 'netlink', byPath, bornInSandbox, ...(await benchAttach({ ops, runner: new ProcessRunner(), sandbox, byPath, bornInSandbox, mover: ops, n })) });
  } finally {
    ops.close();
  }
}

async function main(): Promise<void> {
  const [mode, netns, other, n, addressing, placement] = process.argv.slice(2);
  if (!netns || !other || (mode !== 'contract' && mode !== 'bench')) {
    process.stderr.write('usage: link-ops-contract-child.ts contract NS OTHER | bench NS SANDBOX N name|path move|born\n');
    process.exit(2);
  }
  await assertInside(netns);
  if (mode === 'contract') await contract(netns, other);
  else await bench(other, Number(n ?? 100), addressing === 'path', placement === 'born');
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
