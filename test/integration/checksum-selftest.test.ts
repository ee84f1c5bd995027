// The transmit-checksum self-test (src/sys/checksum-selftest.ts) on the real kernel: the VXLAN
// device's bytes are good when the kernel finishes checksums; a lower device that claims offload
// and never computes (a veth with its offload left on, seen as raw bytes) is caught as
// "corrupted"; and the remedy (offload off on the VXLAN device) gives good bytes on that same path.
// Every namespace the test makes is deleted by the self-test itself; the last check proves it.

import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SELFTEST_NETNS_PREFIX, findEthtool, runChecksumSelfTest } from '../../src/sys/checksum-selftest.js';
import { ProcessRunner } from '../../src/sys/exec.js';

const mine = () => readdirSync('/var/run/netns').filter((n) => n.startsWith(`${SELFTEST_NETNS_PREFIX}${process.pid}-`));

describe('transmit-checksum self-test', () => {
  const runner = new ProcessRunner();

  it('ethtool is installed here (scripts/setup installs it)', () => {
    expect(findEthtool()).toBeDefined();
  });

  it('good checksums when the kernel finishes them; corrupted behind a lower device that never does; remedy works', async () => {
    const ok = await runChecksumSelfTest(runner, { port: 4789 });
    expect(ok.verdict, ok.reason).toBe('ok');
    expect(ok.udp.seen).toBeGreaterThan(0);
    expect(ok.tcp.seen).toBeGreaterThan(0);
    expect(ok.udp.bad + ok.tcp.bad).toBe(0);

    const broken = await runChecksumSelfTest(runner, { port: 4789, lowerOffload: true });
    expect(broken.verdict, broken.reason).toBe('corrupted');
    expect(broken.udp.bad).toBeGreaterThan(0);
    expect(broken.tcp.bad).toBeGreaterThan(0);

    const fixed = await runChecksumSelfTest(runner, { port: 4789, lowerOffload: true, vxlanTxOff: true });
    expect(fixed.verdict, fixed.reason).toBe('ok');

    expect(mine()).toEqual([]);
  });

  it('without ethtool it says skipped and creates nothing', async () => {
    const r = await runChecksumSelfTest(runner, { port: 4789, ethtool: '' });
    expect(r.verdict).toBe('skipped');
    expect(mine()).toEqual([]);
  });
});
