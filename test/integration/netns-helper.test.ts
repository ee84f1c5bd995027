// The netns test helpers against the real kernel: create, exec, veth between two namespaces,
// ping across it, timeouts, name checks, and clean-up.

import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  Netns,
  NetnsScope,
  assertName,
  createVethPair,
  netnsExists,
  netnsScopePerTest,
  uniqueName,
} from '../helpers/netns.js';
import { CommandError, pidsWithCmdline, run } from '../helpers/process.js';

describe('netns helpers', () => {
  const scope = netnsScopePerTest();
  // Every namespace made through `create`, to check in the last test that afterEach removed it.
  const seen: string[] = [];
  const create = async (): Promise<Netns> => {
    const ns = await scope.create();
    seen.push(ns.name);
    return ns;
  };

  it('makes unique short names that fit an interface name', () => {
    const names = new Set(Array.from({ length: 200 }, () => uniqueName()));
    expect(names.size).toBe(200);
    for (const n of names) {
      expect(n).toMatch(/^wt-[a-z0-9]{6}$/);
      expect(n.length).toBeLessThanOrEqual(15);
    }
  });

  it('rejects names that could be taken for options, paths or too-long links', () => {
    for (const bad of ['-x', 'a/b', '', 'x'.repeat(16), '.hidden', 'a b']) {
      expect(() => assertName(bad), bad).toThrow(/bad namespace or link name/);
    }
    expect(() => assertName('wt-abc_1.2')).not.toThrow();
  });

  it('creates a namespace with only lo, up, and runs commands inside it', async () => {
    const ns = await create();
    expect(existsSync(`/run/netns/${ns.name}`)).toBe(true);
    const links = await ns.ipJson<Array<{ ifname: string; operstate: string; flags: string[] }>>(['link', 'show']);
    expect(links.map((l) => l.ifname)).toEqual(['lo']);
    expect(links[0]!.flags).toContain('UP');
    // exec really runs inside: it sees the namespace's interfaces, not the host's.
    const r = await ns.execOk(['ip', '-o', 'link', 'show']);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toContain('lo:');
    const failing = await ns.exec(['sh', '-c', 'exit 3']);
    expect(failing.code).toBe(3);
    await expect(ns.execOk(['false'])).rejects.toThrow(/exited with 1/);
  });

  it('connects two namespaces with a veth pair and pings across it', async () => {
    const a = await create();
    const b = await create();
    const { a: ifA, b: ifB } = await createVethPair(
      { ns: a, cidr: '10.31.251.1/30' },
      { ns: b, cidr: '10.31.251.2/30' },
    );
    expect(await a.linkNames()).toContain(ifA);
    expect(await b.linkNames()).toContain(ifB);
    expect(existsSync(`/sys/class/net/${ifA}`)).toBe(false); // never on the host
    const ping = await a.exec(['busybox', 'ping', '-c', '2', '-W', '2', '10.31.251.2'], { timeoutMs: 15_000 });
    expect(ping.stdout).toContain('2 packets received');
    expect(ping.code).toBe(0);
    // And no route out: the namespace cannot reach an address it has no link for.
    const out = await a.exec(['busybox', 'ping', '-c', '1', '-W', '1', '10.31.252.1'], { timeoutMs: 10_000 });
    expect(out.code).not.toBe(0);
  });

  it('kills a command that exceeds its timeout', async () => {
    const ns = await create();
    // A duration no other process on the machine uses, to find the sleeper afterwards.
    const seconds = `30.${Date.now() % 1_000_000}${process.pid}`;
    const started = Date.now();
    const p = ns.exec(['sleep', seconds], { timeoutMs: 500 });
    await expect(p).rejects.toThrow(CommandError);
    await expect(p).rejects.toThrow(/timed out after 500 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await pidsWithCmdline(`sleep ${seconds}`)).toEqual([]);
  });

  it('deletes every namespace of a scope, also ones already gone, and links with them', async () => {
    const own = new NetnsScope();
    const a = await own.create();
    const b = await own.create();
    await createVethPair({ ns: a }, { ns: b });
    await run(['ip', 'netns', 'delete', b.name]); // deleted behind the scope's back
    await own.cleanup();
    expect(netnsExists(a.name)).toBe(false);
    expect(netnsExists(b.name)).toBe(false);
    expect(own.created).toEqual([]);
    await own.cleanup(); // a second clean-up has nothing to do
  });

  it('runs deferred steps newest first, before any namespace is deleted, and deletes them even when a step fails', async () => {
    const own = new NetnsScope();
    const ns = await own.create();
    const seen: string[] = [];
    own.defer(async () => void seen.push(`first, netns there: ${netnsExists(ns.name)}`));
    own.defer(async () => {
      seen.push(`second, netns there: ${netnsExists(ns.name)}`);
      throw new Error('a deferred step failed');
    });
    await expect(own.cleanup()).rejects.toThrow(/clean-up failed/);
    expect(seen).toEqual(['second, netns there: true', 'first, netns there: true']);
    expect(netnsExists(ns.name)).toBe(false);
    expect(own.created).toEqual([]);
    await own.cleanup(); // the steps ran once: nothing is left to fail
  });

  it('leaves nothing from earlier tests of this file (afterEach ran)', () => {
    expect(scope.created).toEqual([]);
    for (const name of seen) expect(netnsExists(name), name).toBe(false);
  });
});
