// Time per endpoint attach on the host side: ensureVeth (pair on a bridge) + attachToSandbox (move
// into a sandbox namespace, rename, address, route), the work of one `weft network connect`
// without the store. Used by test/integration/link-ops.test.ts with WEFT_LINKOPS_BENCH=1, for
// each LinkOps implementation; figures are printed, not asserted.

import type { CommandRunner } from '../../../src/sys/exec.js';
import type { LinkOps } from '../../../src/sys/link-ops.js';
import { attachToSandbox, type LinkMover } from '../../../src/sys/sandbox.js';

export interface BenchInput {
  ops: LinkOps;
  runner: CommandRunner;
  /** Named namespace the ops act in, when it is not the process's own (iproute2 with -n). */
  hostNetns?: string;
  /** Sandbox namespace name; it receives n interfaces. */
  sandbox: string;
  /** Address the sandbox by path (nsenter) instead of by name (ip -n). */
  byPath: boolean;
  mover?: LinkMover;
  /** Create the peer inside the sandbox (VethOptions.peerNetns) instead of moving it there. */
  bornInSandbox: boolean;
  n: number;
}

export interface BenchFigures {
  n: number;
  ensureVethMs: { median: number; p99: number };
  attachMs: { median: number; p99: number };
  totalMs: { median: number; p99: number };
}

function stats(xs: number[]): { median: number; p99: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: Number(at(0.5).toFixed(2)), p99: Number(at(0.99).toFixed(2)) };
}

export async function benchAttach(x: BenchInput): Promise<BenchFigures> {
  const bridge = 'wtbench0';
  await x.ops.ensureBridge(bridge, {});
  await x.ops.ensureAddress(bridge, '10.99.0.1/16');
  const veth: number[] = [];
  const attach: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < x.n; i++) {
    const host = `wtbh${i}`;
    const peer = `wtbc${i}`;
    const ip = `10.99.1.${i + 2}`;
    const sandbox = x.byPath ? { path: `/var/run/netns/${x.sandbox}` } : { name: x.sandbox, path: `/var/run/netns/${x.sandbox}` };
    const t0 = performance.now();
    await x.ops.ensureVeth(host, peer, {
      master: bridge,
      alias: `weft:bench${i}`,
      peerMac: `02:42:0a:63:01:${(i + 2).toString(16).padStart(2, '0')}`,
      ...(x.bornInSandbox ? { peerNetns: sandbox } : {}),
    });
    const t1 = performance.now();
    await attachToSandbox(
      x.runner,
      {
        srcName: peer,
        sandbox,
        linkInSandbox: x.bornInSandbox,
        dstPrefix: 'eth',
        addressV4: `${ip}/16`,
        gatewayV4: '10.99.0.1',
        staticRoutes: [],
        internal: false,
        announce: false,
        ...(x.hostNetns !== undefined ? { hostNetns: x.hostNetns } : {}),
      },
      x.mover,
    );
    const t2 = performance.now();
    veth.push(t1 - t0);
    attach.push(t2 - t1);
    total.push(t2 - t0);
  }
  return { n: x.n, ensureVethMs: stats(veth), attachMs: stats(attach), totalMs: stats(total) };
}
