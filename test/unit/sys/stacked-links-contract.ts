// The StackedLinkOps contract (macvlan, 802.1q VLAN, host routes: what the macvlan driver relies
// on) as plain async cases with node:assert, run on the real kernel against both implementations
// by test/integration/stacked-links.test.ts (iproute2 with a namespace target) and
// test/integration/link-ops.test.ts (netlink, in its child inside a throw-away namespace).
//
// Cases may share a namespace (the child runs them all in one): every name is fresh, and each
// case makes its own parent, a veth whose other end lies in the second namespace.

import assert from 'node:assert/strict';
import type { StackedLinkOps } from '../../../src/sys/link-ops.js';
import { fresh, ip, kernelLink } from './link-ops-contract.js';

export interface StackedContext {
  ops: StackedLinkOps;
  /** Named namespace the implementation acts in. */
  netns: string;
  /** A second namespace: the far ends of the parents, and a sandbox to create links in. */
  otherNetns: string;
}

export interface StackedCase {
  name: string;
  run: (ctx: StackedContext) => Promise<void>;
}

/** A fresh parent: a veth end in `netns`, up, whose peer is in `otherNetns`. */
async function parentIn(netns: string, otherNetns: string): Promise<string> {
  const par = fresh('wtp');
  await ip(netns, ['link', 'add', par, 'type', 'veth', 'peer', 'name', fresh('wtf'), 'netns', otherNetns]);
  await ip(netns, ['link', 'set', par, 'up']);
  return par;
}

async function rejectsWith(p: Promise<unknown>, code: string, text: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    const err = e as { code?: string; message: string };
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    if (typeof text === 'string') assert.ok(err.message.includes(text), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(text)}`);
    else assert.match(err.message, text);
    return true;
  });
}

interface KernelRoute {
  dst: string;
  dev: string;
  prefsrc?: string;
  scope?: string;
}

export const stackedLinksContract: StackedCase[] = [
  {
    name: 'a marked, up macvlan with its MAC and mode; read back; a repeat is accepted; deleted',
    async run({ ops, netns, otherNetns }) {
      const par = await parentIn(netns, otherNetns);
      const mv = fresh('wts');
      await ops.ensureMacvlan(mv, par, { mode: 'bridge', alias: 'weft:net', up: true, mac: '02:42:0a:00:00:09', mtu: 1400 });
      const k = await kernelLink(netns, mv);
      assert.equal(k?.linkinfo?.info_kind, 'macvlan');
      assert.equal(k?.link, par);
      assert.equal(k?.address, '02:42:0a:00:00:09');
      assert.equal(k?.ifalias, 'weft:net');
      assert.equal(k?.mtu, 1400);
      assert.ok(k?.flags.includes('UP'));
      const info = await ops.getLink(mv);
      assert.deepEqual(
        { kind: info?.kind, parent: info?.parent, macvlanMode: info?.macvlanMode, alias: info?.alias, up: info?.up, mac: info?.mac },
        { kind: 'macvlan', parent: par, macvlanMode: 'bridge', alias: 'weft:net', up: true, mac: '02:42:0a:00:00:09' },
      );
      await ops.ensureMacvlan(mv, par, { mode: 'bridge', up: true });
      assert.equal((await kernelLink(netns, mv))?.ifindex, k?.ifindex, 'the same link after a repeat');
      await ops.deleteLink(mv);
      assert.equal(await ops.getLink(mv), undefined);
    },
  },
  {
    name: 'every macvlan mode reaches the kernel and reads back',
    async run({ ops, netns, otherNetns }) {
      for (const mode of ['private', 'vepa', 'passthru'] as const) {
        const par = await parentIn(netns, otherNetns);
        const mv = fresh('wtm');
        await ops.ensureMacvlan(mv, par, { mode });
        const shown = JSON.parse(await ip(netns, ['-j', '-d', 'link', 'show', 'dev', mv])) as { linkinfo?: { info_data?: { mode?: string } } }[];
        assert.equal(shown[0]?.linkinfo?.info_data?.mode, mode, `kernel mode of ${mode}`);
        assert.equal((await ops.getLink(mv))?.macvlanMode, mode);
        await ops.deleteLink(mv);
      }
    },
  },
  {
    name: 'a macvlan born inside another namespace, down, with its MAC, nothing left here',
    async run({ ops, netns, otherNetns }) {
      const par = await parentIn(netns, otherNetns);
      const mv = fresh('wtv');
      await ops.ensureMacvlan(mv, par, { mode: 'private', mac: '02:42:0a:00:00:0a', netns: { path: `/var/run/netns/${otherNetns}` } });
      assert.equal(await kernelLink(netns, mv), undefined);
      const inside = await kernelLink(otherNetns, mv);
      assert.equal(inside?.linkinfo?.info_kind, 'macvlan');
      assert.equal(inside?.address, '02:42:0a:00:00:0a');
      assert.ok(!inside?.flags.includes('UP'), 'down until the sandbox attach');
      await rejectsWith(ops.ensureMacvlan(fresh('wtv'), par, { mode: 'bridge', netns: { path: '/var/run/netns/wt-no-such-ns' } }), 'WEFT_ERR_NETNS_NOT_FOUND', 'does not exist');
    },
  },
  {
    name: 'says which parent is missing, and refuses a name taken by another kind of link',
    async run({ ops, netns, otherNetns }) {
      const par = await parentIn(netns, otherNetns);
      await rejectsWith(ops.ensureMacvlan(fresh('wtv'), 'nosuch0', { mode: 'bridge' }), 'WEFT_ERR_PARENT_UNUSABLE', 'parent nosuch0 does not exist');
      const other = await parentIn(netns, otherNetns);
      await rejectsWith(ops.ensureMacvlan(other, par, { mode: 'bridge' }), 'WEFT_ERR_COMMAND_FAILED', 'a veth link of that name exists');
      await rejectsWith(ops.ensureVlan(fresh('wtq'), 'nosuch0', 30, {}), 'WEFT_ERR_PARENT_UNUSABLE', 'parent nosuch0 does not exist');
    },
  },
  {
    name: 'a VLAN link where the kernel has 802.1q (id, mark, up), KERNEL_UNSUPPORTED where not',
    async run({ ops, netns, otherNetns }) {
      const par = await parentIn(netns, otherNetns);
      const probeName = fresh('wtx');
      let has8021q = true;
      try {
        await ip(netns, ['link', 'add', 'link', par, 'name', probeName, 'type', 'vlan', 'id', '9']);
        await ip(netns, ['link', 'del', probeName]);
      } catch {
        has8021q = false;
      }
      const vlan = `${par}.30`;
      if (!has8021q) {
        await rejectsWith(ops.ensureVlan(vlan, par, 30, { alias: 'weft:net' }), 'WEFT_ERR_KERNEL_UNSUPPORTED', /lacks 802\.1q VLAN support.*modprobe 8021q/);
        assert.equal(await ops.getLink(vlan), undefined, 'nothing left behind');
        return;
      }
      await ops.ensureVlan(vlan, par, 30, { alias: 'weft:net' });
      const info = await ops.getLink(vlan);
      assert.deepEqual({ kind: info?.kind, parent: info?.parent, vlanId: info?.vlanId, alias: info?.alias, up: info?.up }, { kind: 'vlan', parent: par, vlanId: 30, alias: 'weft:net', up: true });
      await ops.ensureVlan(vlan, par, 30, {});
      await assert.rejects(ops.ensureVlan(vlan, par, 31, {}), /not VLAN 31 on/);
    },
  },
  {
    name: 'routes are replaced and deleted idempotently; a mark moves',
    async run({ ops, netns, otherNetns }) {
      const par = await parentIn(netns, otherNetns);
      const mv = fresh('wts');
      await ops.ensureMacvlan(mv, par, { mode: 'bridge', up: true });
      await ip(netns, ['addr', 'add', '10.93.0.250/32', 'dev', mv]);
      await ops.ensureRoute('10.93.0.0/24', mv, '10.93.0.250');
      await ops.ensureRoute('10.93.0.0/24', mv, '10.93.0.250');
      const routes = JSON.parse(await ip(netns, ['-j', 'route', 'show', '10.93.0.0/24'])) as KernelRoute[];
      assert.deepEqual(routes.map((r) => [r.dst, r.dev, r.prefsrc, r.scope]), [['10.93.0.0/24', mv, '10.93.0.250', 'link']]);
      await ops.deleteRoute('10.93.0.0/24', mv);
      await ops.deleteRoute('10.93.0.0/24', mv);
      assert.deepEqual(JSON.parse(await ip(netns, ['-j', 'route', 'show', '10.93.0.0/24'])), []);
      await ops.deleteRoute('10.93.0.0/24', fresh('wtgone'));
      await ops.setAlias(mv, 'weft:other');
      assert.equal((await kernelLink(netns, mv))?.ifalias, 'weft:other');
      await ops.deleteLink(mv);
    },
  },
];
