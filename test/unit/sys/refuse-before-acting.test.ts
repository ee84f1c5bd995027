// Bad input is refused before any command runs or any socket opens: a recording runner (and a
// netlink module that fails the test if touched) prove that nothing reached the system. No root
// needed. What the kernel does with good input is tested in test/integration.

import { describe, expect, it } from 'vitest';
import type { CommandRunner, RunOptions, RunResult } from '../../../src/sys/exec.js';
import { Iproute2LinkOps } from '../../../src/sys/iproute2/iproute2-link-ops.js';
import { createLinkOps } from '../../../src/sys/netlink/choose-link-ops.js';
import { NetlinkLinkOps } from '../../../src/sys/netlink/netlink-link-ops.js';
import { announceIpv4, attachToSandbox, detachFromSandbox, type AttachRequest } from '../../../src/sys/sandbox.js';
import { checkSysctlValue, createSysctl, NetnsSysctl, ProcSysctl, sysctlPath } from '../../../src/sys/sysctl.js';

class RecordingRunner implements CommandRunner {
  readonly calls: string[][] = [];
  async run(argv: string[], _opts?: RunOptions): Promise<RunResult> {
    this.calls.push(argv);
    return { stdout: '[]', stderr: '', code: 0 };
  }
}

/** A netlink module whose every use fails the test. */
const untouchable = new Proxy(
  {},
  {
    get(_t, prop) {
      throw new Error(`netlink was touched: ${String(prop)}`);
    },
  },
) as ConstructorParameters<typeof NetlinkLinkOps>[0];

const BAD_NAMES = ['0123456789abcdef', '$(reboot)', '../x', '', 'a b', '.', '..', 'x/y', 'eth0;ls', 'é'];

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? `no code: ${String(e)}`;
  }
  return 'resolved';
}

describe('LinkOps refuse bad input before acting', () => {
  const impls = () => {
    const runner = new RecordingRunner();
    return [
      { name: 'iproute2', runner, ops: new Iproute2LinkOps(runner, { netns: 'wt-unit' }) },
      { name: 'netlink', runner, ops: new NetlinkLinkOps(untouchable) },
    ];
  };

  it.each(BAD_NAMES)('interface name %j', async (n) => {
    for (const { ops, runner } of impls()) {
      expect(await codeOf(ops.ensureBridge(n, {}))).toBe('WEFT_ERR_INVALID_NAME');
      expect(await codeOf(ops.ensureVeth(n, 'wfc1', {}))).toBe('WEFT_ERR_INVALID_NAME');
      expect(await codeOf(ops.ensureVeth('wfh1', n, {}))).toBe('WEFT_ERR_INVALID_NAME');
      expect(await codeOf(ops.ensureVeth('wfh1', 'wfc1', { master: n }))).toBe('WEFT_ERR_INVALID_NAME');
      expect(await codeOf(ops.deleteLink(n))).toBe('WEFT_ERR_INVALID_NAME');
      expect(await codeOf(ops.getLink(n))).toBe('WEFT_ERR_INVALID_NAME');
      expect(await codeOf(ops.ensureAddress(n, '10.0.0.1/24'))).toBe('WEFT_ERR_INVALID_NAME');
      expect(await codeOf(ops.deleteAddress(n, '10.0.0.1/24'))).toBe('WEFT_ERR_INVALID_NAME');
      expect(await codeOf(ops.setMtu(n, 1500))).toBe('WEFT_ERR_INVALID_NAME');
      expect(runner.calls).toEqual([]);
    }
  });

  it('MTUs, CIDRs, MACs, aliases and namespace paths', async () => {
    for (const { ops, runner } of impls()) {
      for (const mtu of [0, 67, 65536, 1500.5, -1, Number.NaN]) expect(await codeOf(ops.setMtu('wf0', mtu))).toBe('WEFT_ERR_INVALID_OPTION');
      for (const cidr of ['10.0.0.1', '10.0.0.1/33', '10.0.0.1/024', 'fd00::1/129', 'fe80::1%eth0/64', '10.0.0.1/24 dev lo']) {
        expect(await codeOf(ops.ensureAddress('wf0', cidr))).toBe('WEFT_ERR_INVALID_ADDRESS');
      }
      for (const mac of ['02:00:00:00:00', '02-00-00-00-00-01', '03:00:00:00:00:01']) expect(await codeOf(ops.ensureBridge('wf0', { mac }))).toBe('WEFT_ERR_INVALID_ADDRESS');
      for (const alias of ['a b', 'a#b', 'a"b', "a'b", 'a\\b', 'a\nb', '']) expect(await codeOf(ops.ensureBridge('wf0', { alias }))).toBe('WEFT_ERR_INVALID_OPTION');
      expect(await codeOf(ops.ensureVeth('wfh1', 'wfc1', { peerNetns: { path: '/var/run/netns/../x' } }))).toBe('WEFT_ERR_INVALID_NAME');
      expect(await codeOf(ops.ensureVeth('wfh1', 'wfc1', { peerNetns: { path: 'relative' } }))).toBe('WEFT_ERR_INVALID_NAME');
      expect(await codeOf(ops.ensureVeth('wfh1', 'wfc1', { peerNetns: { name: 'a', path: '/var/run/netns/b' } }))).toBe('WEFT_ERR_INVALID_NAME');
      expect(runner.calls).toEqual([]);
    }
  });

  it('an invalid namespace target is refused when the adapter is made', () => {
    const runner = new RecordingRunner();
    expect(() => new Iproute2LinkOps(runner, { netns: '../etc' })).toThrow(/not valid/);
    expect(() => createSysctl(runner, { netns: 'a/b' })).toThrow(/not valid/);
  });
});

describe('attachToSandbox and detachFromSandbox refuse bad input before any command', () => {
  const good: AttachRequest = {
    srcName: 'wfc1',
    sandbox: { name: 'wt-sb', path: '/var/run/netns/wt-sb' },
    dstPrefix: 'eth',
    addressV4: '10.88.0.2/24',
    gatewayV4: '10.88.0.1',
    staticRoutes: [],
    internal: false,
  };

  const bad: Array<[string, Partial<AttachRequest>, string]> = [
    ...BAD_NAMES.map((n): [string, Partial<AttachRequest>, string] => [`srcName ${JSON.stringify(n)}`, { srcName: n }, 'WEFT_ERR_INVALID_NAME']),
    ['sandbox path with ..', { sandbox: { path: '/var/run/netns/../../etc' } }, 'WEFT_ERR_INVALID_NAME'],
    ['relative sandbox path', { sandbox: { path: 'proc/1/ns/net' } }, 'WEFT_ERR_INVALID_NAME'],
    ['sandbox name $(reboot)', { sandbox: { name: '$(reboot)', path: '/var/run/netns/$(reboot)' } }, 'WEFT_ERR_INVALID_NAME'],
    ['name and path disagree', { sandbox: { name: 'a', path: '/proc/1/ns/net' } }, 'WEFT_ERR_INVALID_NAME'],
    ['prefix of 14', { dstPrefix: 'abcdefghijklmn' }, 'WEFT_ERR_INVALID_NAME'],
    ['prefix with %', { dstPrefix: 'eth%d' }, 'WEFT_ERR_INVALID_NAME'],
    ['IPv6 as addressV4', { addressV4: 'fd00::2/64' }, 'WEFT_ERR_INVALID_ADDRESS'],
    ['bare addressV6', { addressV6: 'fd00::2' }, 'WEFT_ERR_INVALID_ADDRESS'],
    ['gateway with prefix', { gatewayV4: '10.88.0.1/24' }, 'WEFT_ERR_INVALID_ADDRESS'],
    ['IPv4 gatewayV6', { gatewayV6: '10.88.0.1' }, 'WEFT_ERR_INVALID_ADDRESS'],
    ['mac', { mac: 'nope' }, 'WEFT_ERR_INVALID_ADDRESS'],
    ['mtu', { mtu: 10 }, 'WEFT_ERR_INVALID_OPTION'],
    ['route via without next hop', { staticRoutes: [{ destination: '10.1.0.0/16', routeType: 0 }] }, 'WEFT_ERR_INVALID_ADDRESS'],
    ['route next hop of the other family', { staticRoutes: [{ destination: '10.1.0.0/16', routeType: 0, nextHop: 'fd00::1' }] }, 'WEFT_ERR_INVALID_ADDRESS'],
    ['connected route with next hop', { staticRoutes: [{ destination: '10.1.0.0/16', routeType: 1, nextHop: '10.88.0.1' }] }, 'WEFT_ERR_INVALID_ADDRESS'],
    ['route type 2', { staticRoutes: [{ destination: '10.1.0.0/16', routeType: 2 as 0 }] }, 'WEFT_ERR_BAD_REQUEST'],
    ['route destination', { staticRoutes: [{ destination: '10.1.0.0', routeType: 1 }] }, 'WEFT_ERR_INVALID_ADDRESS'],
    ['hostNetns', { hostNetns: '../x' }, 'WEFT_ERR_INVALID_NAME'],
  ];

  it.each(bad)('%s', async (_what, over, code) => {
    const runner = new RecordingRunner();
    const mover = { moveToNetns: async () => void runner.calls.push(['mover']) };
    expect(await codeOf(attachToSandbox(runner, { ...good, ...over }, mover))).toBe(code);
    expect(runner.calls).toEqual([]);
  });

  it('detach and announce check the namespace and interface first', async () => {
    const runner = new RecordingRunner();
    for (const n of BAD_NAMES) expect(await codeOf(detachFromSandbox(runner, good.sandbox, n))).toBe('WEFT_ERR_INVALID_NAME');
    expect(await codeOf(detachFromSandbox(runner, { path: '/var/run/netns/../x' }, 'eth0'))).toBe('WEFT_ERR_INVALID_NAME');
    expect(await codeOf(announceIpv4(runner, good.sandbox, '$(reboot)', '10.0.0.1'))).toBe('WEFT_ERR_INVALID_NAME');
    expect(await codeOf(announceIpv4(runner, good.sandbox, 'eth0', '10.0.0.1; reboot'))).toBe('WEFT_ERR_INVALID_ADDRESS');
    expect(runner.calls).toEqual([]);
  });

  it('builds the in-namespace commands from the namespace name or path, never a shell', async () => {
    const runner = new RecordingRunner();
    await detachFromSandbox(runner, { path: '/proc/self/ns/net' }, 'eth9');
    expect(runner.calls).toEqual([['nsenter', '--net=/proc/self/ns/net', '--', 'ip', 'link', 'del', 'dev', 'eth9']]);
  });
});

describe('sysctl names and values', () => {
  it('maps dotted names to /proc/sys paths, interface names with dots included', () => {
    expect(sysctlPath('net.ipv4.ip_forward')).toBe('/proc/sys/net/ipv4/ip_forward');
    expect(sysctlPath('net.ipv6.conf.all.forwarding')).toBe('/proc/sys/net/ipv6/conf/all/forwarding');
    expect(sysctlPath('net.ipv4.conf.br.0.route_localnet')).toBe('/proc/sys/net/ipv4/conf/br.0/route_localnet');
    expect(sysctlPath('net.ipv6.conf.wf-abc.disable_ipv6')).toBe('/proc/sys/net/ipv6/conf/wf-abc/disable_ipv6');
    expect(sysctlPath('net.ipv6.conf.eth0.accept_dad')).toBe('/proc/sys/net/ipv6/conf/eth0/accept_dad');
  });

  it.each([
    'kernel.core_pattern',
    'net',
    'net.ipv4',
    'net.ipv4.conf.../x.forwarding',
    'net.ipv4.conf.0123456789abcdef.forwarding',
    'net.ipv4.conf.$(reboot).forwarding',
    'net.ipv4.conf.a/b.forwarding',
    'net.ipv4..ip_forward',
    'net.ipv4.IP_FORWARD',
    'net/ipv4/ip_forward',
  ])('refuses %j', (name) => {
    expect(() => sysctlPath(name)).toThrow(/sysctl/);
  });

  it('refuses values with line breaks or shell characters, and touches nothing', async () => {
    for (const v of ['1\n0', '', '$(reboot)', '1;2', 'a'.repeat(257)]) expect(() => checkSysctlValue('net.ipv4.ip_forward', v)).toThrow(/not valid/);
    const runner = new RecordingRunner();
    const ns = new NetnsSysctl(runner, { name: 'wt-x', path: '/var/run/netns/wt-x' });
    expect(await codeOf(ns.set('net.ipv4.ip_forward', '1\n0'))).toBe('WEFT_ERR_INVALID_OPTION');
    expect(await codeOf(ns.get('kernel.panic'))).toBe('WEFT_ERR_INVALID_NAME');
    expect(await codeOf(new ProcSysctl().set('net.ipv4.conf.$(x).forwarding', '1'))).toBe('WEFT_ERR_INVALID_NAME');
    expect(runner.calls).toEqual([]);
    await ns.set('net.ipv4.conf.br.0.route_localnet', '1');
    expect(runner.calls).toEqual([['nsenter', '--net=/var/run/netns/wt-x', '--', 'tee', '/proc/sys/net/ipv4/conf/br.0/route_localnet']]);
  });
});

describe('createLinkOps', () => {
  it('gives iproute2 for a namespace target or when asked, netlink otherwise', () => {
    const runner = new RecordingRunner();
    expect(createLinkOps(runner, { netns: 'wt-a' }).implementation).toBe('iproute2');
    expect(createLinkOps(runner, { prefer: 'iproute2' }).implementation).toBe('iproute2');
    const chosen = createLinkOps(runner);
    expect(chosen.implementation).toBe('netlink'); // the package's prebuilt binary loads on this platform
    expect(runner.calls).toEqual([]);
  });
});
