// StackedLinkOps (macvlan, 802.1q VLAN, host routes) through iproute2 on the real kernel, in a
// throw-away namespace per case: what the macvlan driver relies on, one operation at a time.

import { describe, expect, it } from 'vitest';
import { ProcessRunner } from '../../src/sys/exec.js';
import { Iproute2LinkOps } from '../../src/sys/iproute2/iproute2-link-ops.js';
import { createVethPair, netnsScopePerTest } from '../helpers/netns.js';

const runner = new ProcessRunner();

describe('stacked links on the real kernel (iproute2)', () => {
  const scope = netnsScopePerTest();
  const setup = async () => {
    const ns = await scope.create();
    const far = await scope.create();
    await createVethPair({ ns, name: 'par0' }, { ns: far, name: 'far0' });
    return { ns, ops: new Iproute2LinkOps(runner, { netns: ns.name }) };
  };

  it('creates a marked, up macvlan on a parent, reads it back, and accepts the same again', async () => {
    const { ops } = await setup();
    await ops.ensureMacvlan('wfsnet', 'par0', { mode: 'bridge', alias: 'weft:net', up: true, mac: '02:42:0a:00:00:09' });
    expect(await ops.getLink('wfsnet')).toMatchObject({ kind: 'macvlan', parent: 'par0', macvlanMode: 'bridge', alias: 'weft:net', up: true, mac: '02:42:0a:00:00:09' });
    await ops.ensureMacvlan('wfsnet', 'par0', { mode: 'bridge', up: true });
    await ops.deleteLink('wfsnet');
    expect(await ops.getLink('wfsnet')).toBeUndefined();
  });

  it('creates a macvlan directly inside another namespace, down, with its MAC', async () => {
    const { ops } = await setup();
    const target = await scope.create();
    await ops.ensureMacvlan('wfvep', 'par0', { mode: 'private', mac: '02:42:0a:00:00:0a', netns: { name: target.name, path: target.path } });
    expect(await ops.getLink('wfvep')).toBeUndefined();
    const inside = await new Iproute2LinkOps(runner, { netns: target.name }).getLink('wfvep');
    expect(inside).toMatchObject({ kind: 'macvlan', macvlanMode: 'private', mac: '02:42:0a:00:00:0a', up: false });
  });

  it('says which parent is missing, and refuses a name taken by another kind of link', async () => {
    const { ops } = await setup();
    await expect(ops.ensureMacvlan('wfv1', 'nosuch0', { mode: 'bridge' })).rejects.toMatchObject({ code: 'WEFT_ERR_PARENT_UNUSABLE', message: expect.stringContaining('parent nosuch0 does not exist') });
    await expect(ops.ensureMacvlan('par0', 'lo', { mode: 'bridge' })).rejects.toMatchObject({ message: expect.stringContaining('a veth link of that name exists') });
  });

  it('creates a VLAN link where the kernel has 802.1q, and says the kernel lacks it where not', async () => {
    const { ops, ns } = await setup();
    const probe = await ns.exec(['ip', 'link', 'add', 'link', 'par0', 'name', 'probe', 'type', 'vlan', 'id', '9']);
    if (probe.code !== 0) {
      await expect(ops.ensureVlan('par0.30', 'par0', 30, { alias: 'weft:net' })).rejects.toMatchObject({
        code: 'WEFT_ERR_KERNEL_UNSUPPORTED',
        message: expect.stringMatching(/lacks 802\.1q VLAN support.*modprobe 8021q/),
      });
      expect(await ops.getLink('par0.30')).toBeUndefined();
      return;
    }
    await ops.ensureVlan('par0.30', 'par0', 30, { alias: 'weft:net' });
    expect(await ops.getLink('par0.30')).toMatchObject({ kind: 'vlan', parent: 'par0', vlanId: 30, alias: 'weft:net', up: true });
    await ops.ensureVlan('par0.30', 'par0', 30, {});
    await expect(ops.ensureVlan('par0.30', 'par0', 31, {})).rejects.toThrow(/not VLAN 31 on par0/);
  });

  it('replaces and deletes routes idempotently, and moves a mark', async () => {
    const { ops, ns } = await setup();
    await ops.ensureMacvlan('wfsnet', 'par0', { mode: 'bridge', up: true });
    await ns.ip(['addr', 'add', '10.93.0.250/32', 'dev', 'wfsnet']);
    await ops.ensureRoute('10.93.0.0/24', 'wfsnet', '10.93.0.250');
    await ops.ensureRoute('10.93.0.0/24', 'wfsnet', '10.93.0.250');
    const routes = await ns.ipJson<{ dst: string; dev: string; prefsrc?: string }[]>(['route', 'show', '10.93.0.0/24']);
    expect(routes).toEqual([expect.objectContaining({ dst: '10.93.0.0/24', dev: 'wfsnet', prefsrc: '10.93.0.250' })]);
    await ops.deleteRoute('10.93.0.0/24', 'wfsnet');
    await ops.deleteRoute('10.93.0.0/24', 'wfsnet');
    expect(await ns.ipJson(['route', 'show', '10.93.0.0/24'])).toEqual([]);
    await ops.setAlias('wfsnet', 'weft:other');
    expect((await ops.getLink('wfsnet'))?.alias).toBe('weft:other');
  });
});
