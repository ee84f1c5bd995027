// The LinkOps contract (src/sys/link-ops.ts) as plain async cases with node:assert, so that the
// same cases run under vitest (Iproute2LinkOps with a namespace target) and in a child process
// started inside a throw-away namespace (NetlinkLinkOps, which can only act on its own
// namespace: see link-ops-contract-child.ts). Both are driven by
// test/integration/link-ops.test.ts, on the real kernel.
//
// Each case gets the namespace the implementation acts in and checks the kernel through
// `ip -n NS -j` on its own, never only through the implementation under test. Cases may share a
// namespace (the child runs them all in one), so every link name is fresh and list checks look
// for inclusion, not equality.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ProcessRunner } from '../../../src/sys/exec.js';
import type { LinkEvent, LinkOps } from '../../../src/sys/link-ops.js';

export interface LinkOpsContractContext {
  ops: LinkOps;
  /** Named namespace the implementation acts in. */
  netns: string;
  /** A second, empty namespace (moveToNetns). */
  otherNetns: string;
}

export interface LinkOpsCase {
  name: string;
  /** False when the implementation does not offer the optional method the case is about. */
  applies?: (ops: LinkOps) => boolean;
  run: (ctx: LinkOpsContractContext) => Promise<void>;
}

const runner = new ProcessRunner();

/** A fresh link name: prefix + 8 random hex, at most 11 characters. */
export const fresh = (prefix: string): string => `${prefix}${randomBytes(4).toString('hex')}`;

interface KernelLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  address?: string;
  ifalias?: string;
  master?: string;
  link?: string;
  linkinfo?: { info_kind?: string; info_slave_data?: { hairpin?: boolean } };
}

/** `ip -n NS ARGS...`, failing on a non-zero exit. */
export async function ip(netns: string, args: string[], input?: string): Promise<string> {
  const r = await runner.run(['ip', '-n', netns, ...args], { ...(input !== undefined ? { input } : {}) });
  return r.stdout;
}

/** The kernel's view of one link, or undefined. */
export async function kernelLink(netns: string, name: string): Promise<KernelLink | undefined> {
  const r = await runner.run(['ip', '-n', netns, '-j', '-d', 'link', 'show', 'dev', name], { check: false });
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as KernelLink[])[0];
}

async function kernelAddresses(netns: string, name: string): Promise<Array<{ local: string; prefixlen: number; nodad?: boolean; family: string }>> {
  const rows = JSON.parse(await ip(netns, ['-j', 'addr', 'show', 'dev', name])) as Array<{ addr_info: Array<{ local: string; prefixlen: number; nodad?: boolean; family: string }> }>;
  return rows[0]?.addr_info ?? [];
}

/** What a call could change in the namespace (not timers or DAD states, which move on their
 *  own): to prove a refused call changed nothing. */
async function snapshot(netns: string): Promise<string> {
  const links = JSON.parse(await ip(netns, ['-j', '-d', 'link', 'show'])) as KernelLink[];
  const addrs = JSON.parse(await ip(netns, ['-j', 'addr', 'show'])) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>;
  return JSON.stringify({
    links: links.map((l) => [l.ifindex, l.ifname, l.flags, l.mtu, l.address, l.ifalias, l.master, l.linkinfo?.info_kind]),
    addrs: addrs.map((a) => [a.ifname, a.addr_info.map((x) => `${x.local}/${x.prefixlen}`)]),
  });
}

async function rejectsWith(p: Promise<unknown>, code: string, what: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.equal((e as { code?: string }).code, code, `${what}: expected ${code}, got ${(e as Error).message}`);
    return true;
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, what: string, ms = 3_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export const linkOpsContract: LinkOpsCase[] = [
  {
    name: 'ensureBridge creates a marked bridge with MTU and MAC, up, and a repeat changes nothing',
    async run({ ops, netns }) {
      const br = fresh('wtb');
      await ops.ensureBridge(br, { mtu: 1400, alias: 'weft:abc', mac: '02:00:00:aa:bb:01' });
      const k = await kernelLink(netns, br);
      assert.ok(k, 'bridge exists');
      assert.equal(k.linkinfo?.info_kind, 'bridge');
      assert.equal(k.mtu, 1400);
      assert.equal(k.address, '02:00:00:aa:bb:01');
      assert.equal(k.ifalias, 'weft:abc');
      assert.ok(k.flags.includes('UP'), 'bridge is up');
      const info = await ops.getLink(br);
      assert.deepEqual(
        { name: info?.name, index: info?.index, mtu: info?.mtu, mac: info?.mac, alias: info?.alias, kind: info?.kind, up: info?.up },
        { name: br, index: k.ifindex, mtu: 1400, mac: '02:00:00:aa:bb:01', alias: 'weft:abc', kind: 'bridge', up: true },
      );
      await ops.ensureBridge(br, { mtu: 1400, alias: 'weft:abc', mac: '02:00:00:aa:bb:01' });
      assert.equal((await kernelLink(netns, br))?.ifindex, k.ifindex, 'same bridge after a repeat');
      await ops.ensureBridge(br, { mtu: 1450 });
      const k2 = await kernelLink(netns, br);
      assert.equal(k2?.mtu, 1450);
      assert.equal(k2?.ifalias, 'weft:abc', 'no alias given: the mark stays');
    },
  },
  {
    name: 'ensureBridge adopts an existing bridge, brings it up and leaves its alias alone',
    async run({ ops, netns }) {
      const br = fresh('wtb');
      await ip(netns, ['link', 'add', br, 'type', 'bridge']);
      await ip(netns, ['link', 'set', 'dev', br, 'alias', 'theirs']);
      const before = await kernelLink(netns, br);
      await ops.ensureBridge(br, {});
      const after = await kernelLink(netns, br);
      assert.equal(after?.ifindex, before?.ifindex);
      assert.ok(after?.flags.includes('UP'));
      assert.equal(after?.ifalias, 'theirs');
    },
  },
  {
    name: 'ensureBridge refuses a link of another kind and leaves it as it was',
    async run({ ops, netns }) {
      const a = fresh('wtv');
      await ip(netns, ['link', 'add', a, 'type', 'veth', 'peer', 'name', fresh('wtp')]);
      await rejectsWith(ops.ensureBridge(a, { mtu: 1300, alias: 'weft:x' }), 'WEFT_ERR_INVALID_OPTION', 'veth as a bridge');
      const k = await kernelLink(netns, a);
      assert.equal(k?.mtu, 1500);
      assert.equal(k?.ifalias, undefined);
      assert.ok(!k?.flags.includes('UP'));
    },
  },
  {
    name: 'ensureVeth: host end on the bridge, marked and up; peer down with MAC and MTU; hairpin on',
    async run({ ops, netns }) {
      const br = fresh('wtb');
      const h = fresh('wth');
      const p = fresh('wtc');
      await ops.ensureBridge(br, { mtu: 1400 });
      await ops.ensureVeth(h, p, { mtu: 1400, alias: 'weft:ep1', master: br, peerMac: '02:42:0a:00:00:02', hairpin: true });
      const kh = await kernelLink(netns, h);
      const kp = await kernelLink(netns, p);
      assert.ok(kh && kp, 'both ends exist');
      assert.equal(kh.linkinfo?.info_kind, 'veth');
      assert.equal(kh.master, br);
      assert.ok(kh.flags.includes('UP'), 'host end up');
      assert.equal(kh.mtu, 1400);
      assert.equal(kh.ifalias, 'weft:ep1');
      assert.equal(kh.linkinfo?.info_slave_data?.hairpin, true);
      assert.ok(!kp.flags.includes('UP'), 'peer down');
      assert.equal(kp.mtu, 1400);
      assert.equal(kp.address, '02:42:0a:00:00:02');
      const ih = await ops.getLink(h);
      const ip_ = await ops.getLink(p);
      assert.equal(ih?.kind, 'veth');
      assert.equal(ih?.master, br);
      assert.equal(ih?.peer, p);
      assert.equal(ih?.up, true);
      assert.equal(ip_?.peer, h);
      assert.equal(ip_?.up, false);
      assert.equal(ip_?.mac, '02:42:0a:00:00:02');
      assert.equal(ip_?.mtu, 1400);
    },
  },
  {
    name: 'ensureVeth again keeps the pair and repairs drift (down, off the bridge, peer MTU)',
    async run({ ops, netns }) {
      const br = fresh('wtb');
      const h = fresh('wth');
      const p = fresh('wtc');
      const opts = { mtu: 1400, alias: 'weft:ep2', master: br, peerMac: '02:42:0a:00:00:03' };
      await ops.ensureBridge(br, {});
      await ops.ensureVeth(h, p, opts);
      const before = [(await kernelLink(netns, h))?.ifindex, (await kernelLink(netns, p))?.ifindex];
      await ops.ensureVeth(h, p, opts);
      await ip(netns, ['link', 'set', 'dev', h, 'down', 'nomaster']);
      await ip(netns, ['link', 'set', 'dev', p, 'mtu', '1500']);
      await ops.ensureVeth(h, p, opts);
      const kh = await kernelLink(netns, h);
      const kp = await kernelLink(netns, p);
      assert.deepEqual([kh?.ifindex, kp?.ifindex], before, 'same pair');
      assert.ok(kh?.flags.includes('UP'));
      assert.equal(kh?.master, br);
      assert.equal(kp?.mtu, 1400);
    },
  },
  {
    name: 'ensureVeth with peerNetns creates the peer inside that namespace, and a repeat keeps it there',
    async run({ ops, netns, otherNetns }) {
      const br = fresh('wtb');
      const h = fresh('wth');
      const p = fresh('wtc');
      await ops.ensureBridge(br, {});
      const opts = { master: br, mtu: 1400, peerMac: '02:42:0a:00:00:09', peerNetns: { path: `/var/run/netns/${otherNetns}` } };
      await ops.ensureVeth(h, p, opts);
      assert.equal(await kernelLink(netns, p), undefined, 'not here');
      const kp = await kernelLink(otherNetns, p);
      assert.equal(kp?.address, '02:42:0a:00:00:09');
      assert.equal(kp?.mtu, 1400);
      assert.ok(!kp?.flags.includes('UP'));
      assert.equal((await kernelLink(netns, h))?.master, br);
      assert.equal((await ops.getLink(h))?.peer, undefined, 'the peer is elsewhere');
      await ops.ensureVeth(h, p, opts);
      assert.equal((await kernelLink(otherNetns, p))?.ifindex, kp?.ifindex);
      await rejectsWith(ops.ensureVeth(fresh('wth'), fresh('wtc'), { peerNetns: { path: '/var/run/netns/wt-does-not-exist' } }), 'WEFT_ERR_NETNS_NOT_FOUND', 'missing netns');
    },
  },
  {
    name: 'ensureVeth with a missing bridge fails and leaves nothing behind',
    async run({ ops, netns }) {
      const h = fresh('wth');
      const p = fresh('wtc');
      await rejectsWith(ops.ensureVeth(h, p, { master: fresh('wtn') }), 'WEFT_ERR_COMMAND_FAILED', 'missing master');
      assert.equal(await kernelLink(netns, h), undefined);
      assert.equal(await kernelLink(netns, p), undefined);
    },
  },
  {
    name: 'ensureVeth refuses when the peer name is taken, and touches neither link',
    async run({ ops, netns }) {
      const h = fresh('wth');
      const p = fresh('wtc');
      await ip(netns, ['link', 'add', p, 'type', 'bridge']);
      await rejectsWith(ops.ensureVeth(h, p, { mtu: 1300 }), 'WEFT_ERR_COMMAND_FAILED', 'peer name taken');
      assert.equal(await kernelLink(netns, h), undefined);
      assert.equal((await kernelLink(netns, p))?.linkinfo?.info_kind, 'bridge');
      assert.equal((await kernelLink(netns, p))?.mtu, 1500);
    },
  },
  {
    name: 'deleteLink removes a veth with its peer; a missing link counts as deleted',
    async run({ ops, netns }) {
      const h = fresh('wth');
      const p = fresh('wtc');
      await ops.ensureVeth(h, p, {});
      await ops.deleteLink(h);
      assert.equal(await kernelLink(netns, h), undefined);
      assert.equal(await kernelLink(netns, p), undefined);
      await ops.deleteLink(h);
      await ops.deleteLink(fresh('wtn'));
    },
  },
  {
    name: 'getLink of a missing link is undefined; listLinks shows every link with index and master',
    async run({ ops, netns }) {
      assert.equal(await ops.getLink(fresh('wtn')), undefined);
      const br = fresh('wtb');
      const h = fresh('wth');
      const p = fresh('wtc');
      await ops.ensureBridge(br, {});
      await ops.ensureVeth(h, p, { master: br });
      const all = await ops.listLinks();
      const lo = all.find((l) => l.name === 'lo');
      assert.equal(lo?.index, 1);
      const kh = await kernelLink(netns, h);
      const lh = all.find((l) => l.name === h);
      assert.equal(lh?.index, kh?.ifindex);
      assert.equal(lh?.master, br);
      assert.equal(lh?.peer, p);
      assert.equal(all.find((l) => l.name === br)?.kind, 'bridge');
      const kernelNames = (JSON.parse(await ip(netns, ['-j', 'link', 'show'])) as KernelLink[]).map((l) => l.ifname).sort();
      assert.deepEqual(all.map((l) => l.name).sort(), kernelNames);
    },
  },
  {
    // The reconciler lists links while connects create veths: a reply to one request arriving in
    // the middle of a dump must not cut the dump short (it did on netlink's shared socket).
    name: 'listLinks while links are created at the same time: every list is whole, every create lands',
    async run({ ops }) {
      const br = fresh('wtb');
      await ops.ensureBridge(br, {});
      // Enough links that a dump spans several datagrams.
      for (let i = 0; i < 15; i++) await ops.ensureVeth(fresh('wth'), fresh('wtc'), { master: br });
      const pairs = Array.from({ length: 12 }, () => [fresh('wth'), fresh('wtc')] as const);
      const lists: Promise<Awaited<ReturnType<LinkOps['listLinks']>>>[] = [];
      const creates: Promise<void>[] = [];
      for (const [h, p] of pairs) {
        lists.push(ops.listLinks());
        creates.push(ops.ensureVeth(h, p, { master: br }));
        creates.push(ops.setMtu(br, 1500));
      }
      await Promise.all(creates);
      for (const list of await Promise.all(lists)) assert.ok(list.some((l) => l.name === br) && list.some((l) => l.name === 'lo'), 'a list lost links');
      const after = new Set((await ops.listLinks()).map((l) => l.name));
      for (const [h, p] of pairs) assert.ok(after.has(h) && after.has(p), `${h}/${p} missing`);
    },
  },
  {
    name: 'ensureAddress adds IPv4 and IPv6 (nodad) and a repeat is fine; deleteAddress removes, gone is done',
    async run({ ops, netns }) {
      const br = fresh('wtb');
      await ops.ensureBridge(br, {});
      await ops.ensureAddress(br, '10.77.0.1/24');
      await ops.ensureAddress(br, '10.77.0.1/24');
      await ops.ensureAddress(br, 'fd77::1/64', { noDad: true });
      await ops.ensureAddress(br, 'fd77::1/64', { noDad: true });
      const addrs = await kernelAddresses(netns, br);
      assert.ok(addrs.some((a) => a.local === '10.77.0.1' && a.prefixlen === 24));
      const v6 = addrs.find((a) => a.local === 'fd77::1');
      assert.equal(v6?.prefixlen, 64);
      assert.equal(v6?.nodad, true);
      assert.equal(addrs.filter((a) => a.local === '10.77.0.1').length, 1, 'no duplicate');
      await ops.deleteAddress(br, '10.77.0.1/24');
      await ops.deleteAddress(br, 'fd77::1/64');
      const left = await kernelAddresses(netns, br);
      assert.ok(!left.some((a) => a.local === '10.77.0.1' || a.local === 'fd77::1'));
      await ops.deleteAddress(br, '10.77.0.1/24');
      await ops.deleteAddress(br, 'fd77::1/64');
      await ops.deleteAddress(fresh('wtn'), '10.77.0.1/24');
      await rejectsWith(ops.ensureAddress(fresh('wtn'), '10.77.0.1/24'), 'WEFT_ERR_COMMAND_FAILED', 'address on a missing link');
    },
  },
  {
    name: 'setMtu changes the MTU; a missing link is an error',
    async run({ ops, netns }) {
      const br = fresh('wtb');
      await ops.ensureBridge(br, {});
      await ops.setMtu(br, 9000);
      assert.equal((await kernelLink(netns, br))?.mtu, 9000);
      await rejectsWith(ops.setMtu(fresh('wtn'), 1400), 'WEFT_ERR_COMMAND_FAILED', 'mtu of a missing link');
    },
  },
  {
    name: 'bad names, MTUs, CIDRs, MACs and aliases are refused before the kernel is touched',
    async run({ ops, netns }) {
      const br = fresh('wtb');
      await ops.ensureBridge(br, {});
      const before = await snapshot(netns);
      const badNames = ['0123456789abcdef', '$(reboot)', '../x', '', 'a b', '.', '..', 'x/y'];
      for (const n of badNames) {
        await rejectsWith(ops.ensureBridge(n, {}), 'WEFT_ERR_INVALID_NAME', `bridge ${n}`);
        await rejectsWith(ops.ensureVeth(n, 'wtok', {}), 'WEFT_ERR_INVALID_NAME', `veth ${n}`);
        await rejectsWith(ops.ensureVeth('wtok', n, {}), 'WEFT_ERR_INVALID_NAME', `peer ${n}`);
        await rejectsWith(ops.deleteLink(n), 'WEFT_ERR_INVALID_NAME', `delete ${n}`);
        await rejectsWith(ops.getLink(n), 'WEFT_ERR_INVALID_NAME', `get ${n}`);
        await rejectsWith(ops.ensureAddress(n, '10.1.0.1/24'), 'WEFT_ERR_INVALID_NAME', `address on ${n}`);
        await rejectsWith(ops.setMtu(n, 1400), 'WEFT_ERR_INVALID_NAME', `mtu of ${n}`);
      }
      await rejectsWith(ops.ensureVeth('wtok', 'wtok', {}), 'WEFT_ERR_INVALID_NAME', 'same name twice');
      await rejectsWith(ops.ensureVeth('wtok', 'wtok2', { master: '$(reboot)' }), 'WEFT_ERR_INVALID_NAME', 'bad master');
      await rejectsWith(ops.ensureVeth('wtok', 'wtok2', { hairpin: true }), 'WEFT_ERR_INVALID_OPTION', 'hairpin without master');
      for (const mtu of [67, 65536, 1400.5, Number.NaN]) {
        await rejectsWith(ops.setMtu(br, mtu), 'WEFT_ERR_INVALID_OPTION', `mtu ${mtu}`);
        await rejectsWith(ops.ensureBridge(br, { mtu }), 'WEFT_ERR_INVALID_OPTION', `bridge mtu ${mtu}`);
        await rejectsWith(ops.ensureVeth('wtok', 'wtok2', { mtu }), 'WEFT_ERR_INVALID_OPTION', `veth mtu ${mtu}`);
      }
      for (const cidr of ['10.1.0.1', '10.1.0.1/33', 'fd00::1/129', '10.1.0.300/24', 'x/24', '10.1.0.1/24; reboot']) {
        await rejectsWith(ops.ensureAddress(br, cidr), 'WEFT_ERR_INVALID_ADDRESS', `cidr ${cidr}`);
        await rejectsWith(ops.deleteAddress(br, cidr), 'WEFT_ERR_INVALID_ADDRESS', `cidr ${cidr}`);
      }
      for (const mac of ['zz:00:00:00:00:00', '02:00:00:00:00', '01:00:5e:00:00:01']) {
        await rejectsWith(ops.ensureBridge(br, { mac }), 'WEFT_ERR_INVALID_ADDRESS', `mac ${mac}`);
        await rejectsWith(ops.ensureVeth('wtok', 'wtok2', { peerMac: mac }), 'WEFT_ERR_INVALID_ADDRESS', `peer mac ${mac}`);
      }
      for (const alias of ['a b', 'x#y', 'q"', '', 'a'.repeat(256)]) {
        await rejectsWith(ops.ensureBridge(br, { alias }), 'WEFT_ERR_INVALID_OPTION', `alias ${alias}`);
      }
      assert.equal(await snapshot(netns), before, 'nothing changed');
    },
  },
  {
    name: 'watchLinks reports add, change and del of a link made by someone else',
    applies: (ops) => typeof ops.watchLinks === 'function',
    async run({ ops, netns }) {
      const events: LinkEvent[] = [];
      const name = fresh('wtw');
      const stop = ops.watchLinks!((e) => {
        if (e.name === name) events.push(e);
      });
      try {
        await sleep(50);
        await ip(netns, ['link', 'add', name, 'type', 'bridge']);
        await waitFor(() => events.some((e) => e.type === 'add'), 'add');
        await ip(netns, ['link', 'set', 'dev', name, 'mtu', '1400']);
        await waitFor(() => events.some((e) => e.type === 'change'), 'change');
        await ip(netns, ['link', 'del', 'dev', name]);
        await waitFor(() => events.some((e) => e.type === 'del'), 'del');
        const index = events[0]!.index;
        assert.ok(index > 0 && events.every((e) => e.index === index), 'one index throughout');
        assert.equal(events[0]!.type, 'add');
        assert.equal(events.at(-1)!.type, 'del');
      } finally {
        stop();
      }
    },
  },
  {
    name: 'moveToNetns moves a link into another namespace by path',
    applies: (ops) => typeof ops.moveToNetns === 'function',
    async run({ ops, netns, otherNetns }) {
      const h = fresh('wth');
      const p = fresh('wtc');
      await ops.ensureVeth(h, p, {});
      await ops.moveToNetns!(p, { path: `/var/run/netns/${otherNetns}` });
      assert.equal(await kernelLink(netns, p), undefined, 'gone from here');
      assert.ok(await kernelLink(otherNetns, p), 'there');
      assert.equal((await ops.getLink(h))?.peer, undefined, 'the peer is elsewhere now');
      await rejectsWith(ops.moveToNetns!(h, { path: '/var/run/netns/wt-does-not-exist' }), 'WEFT_ERR_NETNS_NOT_FOUND', 'missing netns');
      await rejectsWith(ops.moveToNetns!(h, { path: '/var/run/netns/../x' }), 'WEFT_ERR_INVALID_NAME', 'bad path');
      assert.ok(await kernelLink(netns, h), 'a refused move leaves the link');
    },
  },
];
