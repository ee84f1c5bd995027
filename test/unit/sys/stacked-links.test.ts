// Stacked links for the macvlan driver (macvlan, 802.1q VLAN, host routes): the batch lines and
// argv iproute2 gets, the parser on recorded output (fixtures/ip-link-show-macvlan.json: a
// private-mode macvlan on a veth, recorded with iproute2 6.1), and input refused before any
// command runs. What the kernel does with them is tested in test/integration/macvlan-cli.test.ts.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderBatch } from '../../../src/sys/iproute2/batch.js';
import { Iproute2LinkOps } from '../../../src/sys/iproute2/iproute2-link-ops.js';
import { macvlanCreateLines, routeDeleteArgs, routeReplaceArgs, vlanCreateLines } from '../../../src/sys/iproute2/link-commands.js';
import { parseLinks } from '../../../src/sys/iproute2/parse.js';
import type { CommandRunner, RunOptions, RunResult } from '../../../src/sys/exec.js';
import { checkMacvlanArgs, checkVlanArgs } from '../../../src/sys/link-ops.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

class RecordingRunner implements CommandRunner {
  readonly calls: string[][] = [];
  async run(argv: string[], _opts?: RunOptions): Promise<RunResult> {
    this.calls.push(argv);
    return { stdout: '[]', stderr: '', code: 0 };
  }
}

describe('stacked link commands', () => {
  it('creates an endpoint macvlan directly in the sandbox, with MAC and mode, nothing set after the move', () => {
    const lines = macvlanCreateLines('wfvabc', 'eth1', { mode: 'bridge', mac: '02:42:0a:01:00:02', netns: { name: 'c1', path: '/run/netns/c1' }, alias: 'weft:ep' });
    expect(renderBatch(lines)).toBe('link add link eth1 name wfvabc address 02:42:0a:01:00:02 netns c1 type macvlan mode bridge\n');
  });

  it('creates the host shim marked and up', () => {
    const lines = macvlanCreateLines('wfsnet', 'eth1', { mode: 'bridge', alias: 'weft:net', up: true, mtu: 1400 });
    expect(renderBatch(lines)).toBe('link add link eth1 name wfsnet mtu 1400 type macvlan mode bridge\nlink set dev wfsnet alias weft:net up\n');
  });

  it('plans the 802.1q sub-interface: id on its base, then mark and up', () => {
    expect(renderBatch(vlanCreateLines('eth1.30', 'eth1', 30, { alias: 'weft:net1' }))).toBe(
      'link add link eth1 name eth1.30 type vlan id 30\nlink set dev eth1.30 alias weft:net1 up\n',
    );
  });

  it('builds route argv', () => {
    expect(routeReplaceArgs('10.1.0.0/24', 'wfsnet', '10.1.0.250')).toEqual(['route', 'replace', '10.1.0.0/24', 'dev', 'wfsnet', 'src', '10.1.0.250']);
    expect(routeDeleteArgs('10.1.0.0/24', 'wfsnet')).toEqual(['route', 'del', '10.1.0.0/24', 'dev', 'wfsnet']);
  });

  it('reads a macvlan: parent, mode, alias, MAC', () => {
    const [l] = parseLinks(fixture('ip-link-show-macvlan.json'));
    expect(l).toMatchObject({ name: 'wfvep1', kind: 'macvlan', parent: 'mvp0', macvlanMode: 'private', alias: 'weft:ep1', mac: '02:42:0a:01:00:02', up: false });
    expect(l!.peer).toBeUndefined();
  });

  it('reads a VLAN id (row shaped as iproute2 6.1 prints it; this kernel cannot make one)', () => {
    const row = [{ ifindex: 9, link: 'eth1', ifname: 'eth1.30', flags: ['UP'], mtu: 1500, operstate: 'UP', linkinfo: { info_kind: 'vlan', info_data: { protocol: '802.1Q', id: 30, flags: ['REORDER_HDR'] } } }];
    expect(parseLinks(JSON.stringify(row))[0]).toMatchObject({ name: 'eth1.30', kind: 'vlan', parent: 'eth1', vlanId: 30, up: true });
  });
});

describe('stacked link input is refused before anything runs', () => {
  it.each([0, 4095, -1, 1.5, 5000])('VLAN id %s', async (id) => {
    expect(() => checkVlanArgs('eth1.x', 'eth1', id, {})).toThrow(/VLAN id .* out of range/);
    const runner = new RecordingRunner();
    await expect(new Iproute2LinkOps(runner).ensureVlan('eth1.x', 'eth1', id, {})).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_OPTION' });
    expect(runner.calls).toEqual([]);
  });

  it('bad macvlan mode, names, MAC', async () => {
    expect(() => checkMacvlanArgs('wfv1', 'eth1', { mode: 'source' as never })).toThrow(/mode "source" is not valid/);
    expect(() => checkMacvlanArgs('wfv1', 'eth1', { mode: 'bridge', mac: 'ff:ff:ff:ff:ff:ff' })).toThrow(/MAC address/);
    expect(() => checkMacvlanArgs('wfv1', 'wfv1', { mode: 'bridge' })).toThrow(/its own parent/);
    const runner = new RecordingRunner();
    const ops = new Iproute2LinkOps(runner);
    await expect(ops.ensureMacvlan('bad name', 'eth1', { mode: 'bridge' })).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_NAME' });
    await expect(ops.ensureRoute('10.1.0.0/33', 'eth1')).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_ADDRESS' });
    await expect(ops.setAlias('eth1', 'has space')).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_OPTION' });
    expect(runner.calls).toEqual([]);
  });
});
