// The VTEP prober (src/cluster/prober.ts) on the real kernel: `ping -c1 -W1` (BusyBox here) run
// inside a throw-away namespace, as weftd runs it in its own (in the lab, the host namespace): an
// address on the other end of a veth answers; once that link is down it does not, within a bound.

import { describe, expect, it } from 'vitest';
import { PingProber, findPingCommand } from '../../src/cluster/prober.js';
import { ProcessRunner, type CommandRunner, type RunOptions } from '../../src/sys/exec.js';
import { createVethPair, netnsScopePerTest } from '../helpers/netns.js';

/** The real runner, entering a namespace first (weftd itself never changes namespace). */
function inNetns(name: string): CommandRunner {
  const real = new ProcessRunner();
  return { run: (argv: string[], opts?: RunOptions) => real.run(['ip', 'netns', 'exec', name, ...argv], opts) };
}

describe('PingProber', () => {
  const scope = netnsScopePerTest();

  it('finds a ping command here', () => {
    expect(findPingCommand()).toBeDefined();
    expect(new PingProber(new ProcessRunner(), { command: null }).available).toBe(false);
  });

  it('true while the VTEP answers, false once its link is down; never throws', async () => {
    const a = await scope.create();
    const b = await scope.create();
    const { b: ifB } = await createVethPair({ ns: a, cidr: '192.0.2.1/24' }, { ns: b, cidr: '192.0.2.2/24' });
    const prober = new PingProber(inNetns(a.name));
    expect(prober.available).toBe(true);
    expect(await prober.probe('127.0.0.1')).toBe(true);
    expect(await prober.probe('192.0.2.2')).toBe(true);

    await b.ip(['link', 'set', ifB, 'down']);
    const t0 = performance.now();
    expect(await prober.probe('192.0.2.2')).toBe(false);
    expect(performance.now() - t0).toBeLessThan(4_000);

    // Not an IP literal: refused without running anything that could resolve a name.
    expect(await prober.probe('localhost')).toBe(false);
    expect(await prober.probe('-f')).toBe(false);
    // A command that cannot run counts as no answer.
    expect(await new PingProber(inNetns(a.name), { command: ['/nonexistent/ping'] }).probe('127.0.0.1')).toBe(false);
  });
});
