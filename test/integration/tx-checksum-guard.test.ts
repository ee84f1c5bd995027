// The remedy of the transmit-checksum guard (src/cluster/tx-checksum-guard.ts) on the real kernel:
// given a "corrupted" verdict, transmit checksum offload is turned off on every VXLAN device weft
// owns (ifalias weft:...), also on one created afterwards, and never on a device weft does not own.
// The verdict is injected (the self-test's own detection is tested for real in
// checksum-selftest.test.ts); everything after it runs in a throw-away namespace.

import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { TxChecksumGuard } from '../../src/cluster/tx-checksum-guard.js';
import type { ChecksumSelfTestRun } from '../../src/sys/checksum-selftest.js';
import { ProcessRunner, type CommandRunner, type RunOptions } from '../../src/sys/exec.js';
import { Iproute2LinkOps } from '../../src/sys/iproute2/iproute2-link-ops.js';
import { netnsScopePerTest } from '../helpers/netns.js';
import { sleep } from '../helpers/process.js';

function inNetns(name: string): CommandRunner {
  const real = new ProcessRunner();
  return { run: (argv: string[], opts?: RunOptions) => real.run(['ip', 'netns', 'exec', name, ...argv], opts) };
}

const run = (verdict: ChecksumSelfTestRun['verdict'], bad = 0): ChecksumSelfTestRun => ({ verdict, udp: { seen: 3, bad }, tcp: { seen: 3, bad }, durationMs: 1 });

describe('TxChecksumGuard remedy', () => {
  const scope = netnsScopePerTest();

  it('turns offload off on weft VXLAN devices only, also on one made later', async () => {
    const ns = await scope.create();
    const vx = async (name: string, vni: number, alias?: string) => {
      await ns.ip(['link', 'add', name, 'type', 'vxlan', 'id', String(vni), 'dstport', '4789', 'nolearning']);
      if (alias) await ns.ip(['link', 'set', name, 'alias', alias]);
    };
    await vx('wfxaaaa', 100, 'weft:net-a');
    await vx('othervx', 101);
    const runner = inNetns(ns.name);
    const txOn = async (dev: string) => /^tx-checksumming:\s+on/m.test((await runner.run(['ethtool', '-k', dev])).stdout);
    expect(await txOn('wfxaaaa')).toBe(true);

    const calls: Array<{ lowerOffload?: boolean; vxlanTxOff?: boolean }> = [];
    const guard = new TxChecksumGuard({
      runner,
      linkOps: new Iproute2LinkOps(new ProcessRunner(), { netns: ns.name }),
      logger: pino({ level: 'silent' }),
      vxlanPort: 4789,
      sweepIntervalMs: 200,
      selfTest: async (o) => {
        calls.push(o);
        return o.vxlanTxOff ? run('ok') : run('corrupted', 3);
      },
    });
    try {
      expect(guard.status().state).toBe('pending');
      guard.start();
      await guard.done();
      // The first run failed, so the remedy was tried (offload off on the test device) and worked.
      expect(calls).toEqual([{ port: 4789 }, { port: 4789, vxlanTxOff: true }]);
      expect(guard.status()).toMatchObject({ state: 'corrupted', offload: 'disabled', devicesFixed: 1 });
      expect(guard.status().reason).toMatch(/with transmit checksum offload off on the VXLAN device they are right/);
      expect(await txOn('wfxaaaa')).toBe(false);
      expect(await txOn('othervx')).toBe(true);

      await vx('wfxbbbb', 102, 'weft:net-b');
      const t0 = Date.now();
      while ((await txOn('wfxbbbb')) && Date.now() - t0 < 10_000) await sleep(100);
      expect(await txOn('wfxbbbb')).toBe(false);
      expect(guard.status().devicesFixed).toBe(2);
      expect(await txOn('othervx')).toBe(true);
    } finally {
      await guard.stop();
    }
  });

  it('with forceOff (--vxlan-tx-checksum off) turns offload off even when the test says ok', async () => {
    const ns = await scope.create();
    await ns.ip(['link', 'add', 'wfxcccc', 'type', 'vxlan', 'id', '103', 'dstport', '4789', 'nolearning']);
    await ns.ip(['link', 'set', 'wfxcccc', 'alias', 'weft:net-c']);
    const runner = inNetns(ns.name);
    const guard = new TxChecksumGuard({
      runner,
      linkOps: new Iproute2LinkOps(new ProcessRunner(), { netns: ns.name }),
      logger: pino({ level: 'silent' }),
      vxlanPort: 4789,
      forceOff: true,
      selfTest: async (o) => (o.lowerOffload ? run('corrupted', 3) : run('ok')),
    });
    try {
      guard.start();
      await guard.done();
      expect(guard.status()).toMatchObject({ state: 'ok', detects: true, offload: 'disabled', forced: true, devicesFixed: 1 });
      expect((await runner.run(['ethtool', '-k', 'wfxcccc'])).stdout).toMatch(/^tx-checksumming:\s+off/m);
    } finally {
      await guard.stop();
    }
  });
});
