// `weft check` and `weft check --repair` on the real kernel: weftd (from dist/) runs in a "host"
// namespace, containers are plain namespaces. Each inconsistency is planted one at a time and
// must be reported by kind and object, fixed by --repair, and gone from a second check.
//
// The first weftd runs with WEFT_LINK_EVENTS=off and an hour between periodic passes, so that
// nothing but --repair can fix what a test planted. The second (link events on, same hour) proves
// that a deleted bridge or veth is repaired by the link event alone.

import http from 'node:http';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { deleteNetns, netnsScopePerFile, type Netns } from '../helpers/netns.js';
import { plantRecords } from '../helpers/store-plant.js';
import { startWeftdInNetns, type WeftdHandle } from '../helpers/weftd.js';
import type { FindingView, RepairView, ReportView } from '../helpers/check-report.js';
import { waitUntil } from '../helpers/wait.js';


const ping = (ns: Netns, ip: string) => ns.exec(['busybox', 'ping', '-c', '1', '-W', '1', ip]);

/** Polls with a deadline (no fixed sleeps: the machine may be shared and slow). */
const until = (what: string, fn: () => Promise<boolean>, timeoutMs = 15000) => waitUntil(what, fn, timeoutMs);

/** One Docker plugin call on weftd's IPAM socket (how an allocation without an endpoint is planted). */
function ipamCall(weftd: WeftdHandle, method: string, body: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    const req = http.request(
      { socketPath: path.join(weftd.pluginDir, 'weft.sock'), method: 'POST', path: `/IpamDriver.${method}`, headers: { 'content-type': 'application/vnd.docker.plugins.v1.2+json', 'content-length': payload.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('weft check --repair', () => {
  const scope = netnsScopePerFile();
  let host: Netns;
  let weftd: WeftdHandle;
  let net: { id: string; ipam: { poolId: string; subnet: string }[] };

  const check = async (): Promise<{ code: number; report: ReportView }> => {
    const r = await weftd.cli(['check', '--format', 'json']);
    return { code: r.code, report: JSON.parse(r.stdout) as ReportView };
  };
  const repair = async (): Promise<{ code: number; report: RepairView }> => {
    const r = await weftd.cli(['check', '--repair', '--format', 'json']);
    return { code: r.code, report: JSON.parse(r.stdout) as RepairView };
  };
  /** The planted finding is reported (kind + object), repaired, and a second check is clean. */
  const expectRepaired = async (kind: string, object: string | RegExp) => {
    const before = await check();
    expect(before.code).toBe(1);
    const match = (f: FindingView) => f.kind === kind && (typeof object === 'string' ? f.object === object : object.test(f.object));
    expect(before.report.findings.filter(match), JSON.stringify(before.report.findings, null, 1)).toHaveLength(1);
    const r = await repair();
    expect(r.report.repairs.filter((a) => a.kind === kind && a.outcome === 'repaired'), JSON.stringify(r.report.repairs, null, 1)).not.toHaveLength(0);
    expect(r.report.after.findings, JSON.stringify(r.report.after.findings, null, 1)).toEqual([]);
    expect(r.code).toBe(0);
    const after = await check();
    expect(after.report.findings).toEqual([]);
    expect(after.code).toBe(0);
  };
  const container = async () => {
    const ns = await scope.create();
    const ep = JSON.parse(await weftd.cliOk(['network', 'connect', '--format', 'json', 'cr1', ns.name])) as { id: string; ipv4: string; mac: string };
    return { ns, ep, ip: ep.ipv4.split('/')[0]! };
  };

  beforeAll(async () => {
    host = await scope.create();
    weftd = await startWeftdInNetns(scope, host, { args: ['--reconcile-interval', '3600'], env: { WEFT_LINK_EVENTS: 'off' } });
    await weftd.cliOk(['network', 'create', '--subnet', '10.46.1.0/24', 'cr1']);
    [net] = JSON.parse(await weftd.cliOk(['network', 'inspect', 'cr1']));
  });

  it('is clean on a consistent host, and says so with exit 0', async () => {
    await container();
    const r = await check();
    expect(r.report).toMatchObject({ clean: true, findings: [] });
    expect(r.code).toBe(0);
    const rep = await weftd.cli(['check', '--repair']);
    expect(rep.code).toBe(0);
    expect(rep.stdout).toContain('nothing to repair');
  });

  it('orphan allocation: an address held in the pool that no endpoint has is released', async () => {
    const r = await ipamCall(weftd, 'RequestAddress', { PoolID: net.ipam[0]!.poolId, Address: '10.46.1.200', Options: {} });
    expect(r.status).toBe(200);
    await expectRepaired('orphan-allocation', 'address 10.46.1.200');
  });

  it('unallocated address: an endpoint address the IPAM lost is allocated to it again', async () => {
    const c = await container();
    expect((await ipamCall(weftd, 'ReleaseAddress', { PoolID: net.ipam[0]!.poolId, Address: c.ip })).status).toBe(200);
    await expectRepaired('unallocated-address', `address ${c.ip}`);
  });

  it('orphan link: a link carrying weft\'s mark for an unknown owner is deleted', async () => {
    await host.ip(['link', 'add', 'wfchkorphan', 'type', 'bridge']);
    await host.ip(['link', 'set', 'wfchkorphan', 'alias', `weft:${'ab'.repeat(32)}`]);
    await expectRepaired('orphan-link', 'link wfchkorphan');
    expect(await host.linkNames()).not.toContain('wfchkorphan');
  });

  it('orphan and missing nft elements: a DNAT entry with no record goes, a deleted isolation entry comes back', async () => {
    await host.execOk(['nft', 'add', 'element', 'inet', 'weft', 'dnat_any_v4', '{ tcp . 9999 : 10.46.1.77 . 80 }']);
    await expectRepaired('orphan-nft-element', 'nft dnat_any_v4 tcp . 9999 : 10.46.1.77 . 80');
    const bridge = `wf-${net.id.slice(0, 12)}`;
    await host.execOk(['nft', 'delete', 'element', 'inet', 'weft', 'bridges', `{ "${bridge}" }`]);
    await expectRepaired('missing-nft-element', `nft bridges "${bridge}"`);
    const listed = await host.execOk(['nft', 'list', 'set', 'inet', 'weft', 'bridges']);
    expect(listed.stdout).toContain(bridge);
  });

  it('stale endpoint: an endpoint whose namespace was deleted is dropped and its address freed', async () => {
    const c = await container();
    await deleteNetns(c.ns.name);
    await expectRepaired('stale-endpoint', `endpoint ${c.ep.id}`);
    const [after] = JSON.parse(await weftd.cliOk(['network', 'inspect', 'cr1'])) as { endpoints: { id: string }[] }[];
    expect(after!.endpoints.map((e) => e.id)).not.toContain(c.ep.id);
    // The address is free again: a pinned connect gets it.
    const again = await scope.create();
    await weftd.cliOk(['network', 'connect', '--ip', c.ip, 'cr1', again.name]);
  });

  it('missing veth: an endpoint veth deleted by hand is re-created in its namespace with its name, address, MAC and route', async () => {
    const c = await container();
    const peer = await container();
    const hostVeth = `wfh${c.ep.id.slice(0, 12)}`;
    await host.ip(['link', 'del', hostVeth]);
    expect(await c.ns.linkNames()).not.toContain('eth0');
    await expectRepaired('missing-kernel-object', `link ${hostVeth}`);
    const [eth0] = await c.ns.ipJson<{ ifname: string; address: string; addr_info: { local: string; prefixlen: number }[] }[]>(['addr', 'show', 'eth0']);
    expect(eth0!.address).toBe(c.ep.mac);
    expect(eth0!.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toContain(c.ep.ipv4);
    expect(JSON.stringify(await c.ns.ipJson(['route', 'show', 'default']))).toContain('10.46.1.1');
    await until('ping over the re-created veth', async () => (await ping(c.ns, peer.ip)).code === 0);
  });

  it('orphan endpoint, and a duplicate address held by a stale record: both dropped, the live endpoint keeps its address', async () => {
    const live = await container();
    await weftd.stop();
    const ghostNet = 'cd'.repeat(32);
    const orphanId = 'ef'.repeat(32);
    const dupId = '12'.repeat(32);
    await plantRecords(weftd, [
      [`endpoints/${ghostNet}/${orphanId}`, { id: orphanId, networkId: ghostNet, origin: 'weft', addressV4: '10.99.0.2/24', createdAt: new Date().toISOString() }],
      [
        `endpoints/${net.id}/${dupId}`,
        { id: dupId, networkId: net.id, origin: 'weft', addressV4: live.ep.ipv4, sandbox: { name: 'wt-gone000', path: '/var/run/netns/wt-gone000' }, ifName: 'eth0', createdAt: new Date().toISOString() },
      ],
    ]);
    await weftd.start();
    const before = await check();
    const kinds = before.report.findings.map((f) => `${f.kind} ${f.object}`).sort();
    expect(kinds).toEqual([`duplicate-address address ${live.ip}`, `orphan-endpoint endpoint ${orphanId}`, `stale-endpoint endpoint ${dupId}`].sort());
    const r = await repair();
    expect(r.report.repairs.find((a) => a.kind === 'orphan-endpoint')?.outcome).toBe('repaired');
    expect(r.report.repairs.find((a) => a.kind === 'stale-endpoint')?.action).toContain('kept');
    expect(r.code).toBe(0);
    expect((await check()).code).toBe(0);
    // The live endpoint still holds its address: a pinned connect of it is refused.
    const other = await scope.create();
    expect((await weftd.cli(['network', 'connect', '--ip', live.ip, 'cr1', other.name])).code).not.toBe(0);
    expect((await ping(live.ns, '10.46.1.1')).code).toBe(0);
  });

  it('repairs running alongside parallel connects: every connect succeeds, no address in use is freed', async () => {
    // Orphans to repair while connects allocate: a check that sees a connect's fresh allocation
    // before its record must not release it. The window is narrow, so this does not reliably fail
    // without the lock; test/unit/controller/check-repair.test.ts asserts the release happens
    // under it.
    for (const a of ['10.46.1.210', '10.46.1.211', '10.46.1.212']) {
      expect((await ipamCall(weftd, 'RequestAddress', { PoolID: net.ipam[0]!.poolId, Address: a, Options: {} })).status).toBe(200);
    }
    const spaces = await Promise.all(Array.from({ length: 8 }, () => scope.create()));
    const results = await Promise.all([
      ...spaces.map((ns) => weftd.cli(['network', 'connect', '--format', 'json', 'cr1', ns.name])),
      ...[0, 1, 2].map(() => weftd.cli(['check', '--repair', '--format', 'json'])),
    ]);
    const connects = results.slice(0, spaces.length);
    expect(connects.map((r) => r.code)).toEqual(spaces.map(() => 0));
    const after = await check();
    expect(after.report.findings).toEqual([]);
    const ips = connects.map((r) => (JSON.parse(r.stdout) as { ipv4: string }).ipv4);
    expect(new Set(ips).size).toBe(ips.length);
    for (const [i, ns] of spaces.entries()) {
      expect((await ping(ns, '10.46.1.1')).code, ips[i]).toBe(0);
      await weftd.cliOk(['network', 'disconnect', 'cr1', ns.name]);
    }
  });

  it('a live duplicate (two joined endpoints, one address) is reported and left alone: exit 1', async () => {
    const a = await container();
    expect((await ipamCall(weftd, 'ReleaseAddress', { PoolID: net.ipam[0]!.poolId, Address: a.ip })).status).toBe(200);
    const b = await scope.create();
    await weftd.cliOk(['network', 'connect', '--ip', a.ip, 'cr1', b.name]);
    const r = await repair();
    expect(r.code).toBe(1);
    expect(r.report.repairs.find((x) => x.kind === 'duplicate-address')).toMatchObject({ object: `address ${a.ip}`, outcome: 'skipped' });
    expect(r.report.after.findings.map((f) => f.kind)).toEqual(['duplicate-address']);
    // Both are still connected: repair touched neither.
    await weftd.cliOk(['network', 'disconnect', 'cr1', b.name]);
    // Disconnecting b released the address a holds: --repair allocates it to a again.
    await expectRepaired('unallocated-address', `address ${a.ip}`);
  });
});

describe('link events repair at once (periodic pass an hour away)', () => {
  const scope = netnsScopePerFile();
  let host: Netns;
  let weftd: WeftdHandle;

  beforeAll(async () => {
    host = await scope.create();
    weftd = await startWeftdInNetns(scope, host, { args: ['--reconcile-interval', '3600'] });
    await weftd.cliOk(['network', 'create', '--subnet', '10.46.2.0/24', 'ev1']);
  });

  it('a deleted bridge and a deleted veth come back, traffic flows again, and the log says why', async () => {
    const [a, b] = [await scope.create(), await scope.create()];
    const epA = JSON.parse(await weftd.cliOk(['network', 'connect', '--format', 'json', 'ev1', a.name])) as { id: string; networkId: string };
    const epB = JSON.parse(await weftd.cliOk(['network', 'connect', '--format', 'json', 'ev1', b.name])) as { ipv4: string };
    const ipB = epB.ipv4.split('/')[0]!;
    await until('first ping', async () => (await ping(a, ipB)).code === 0);

    await host.ip(['link', 'del', `wf-${epA.networkId.slice(0, 12)}`]);
    await until('ping after the bridge was deleted', async () => (await ping(a, ipB)).code === 0);

    await host.ip(['link', 'del', `wfh${epA.id.slice(0, 12)}`]);
    await until('ping after the veth was deleted', async () => (await ping(a, ipB)).code === 0);
    expect(await a.linkNames()).toContain('eth0');

    const log = weftd.log();
    expect(log).toContain('"trigger":"link event"');
    expect(log).toContain('bridge is gone from the kernel: re-creating it');
    expect(log).toContain('endpoint veth was deleted: re-created in its namespace');
    expect((await weftd.cli(['check'])).code).toBe(0);
  });
});
