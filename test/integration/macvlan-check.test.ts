// `weft check` and self-repair for the macvlan driver on the real kernel (issue 7): a joined
// endpoint's macvlan (inside the container's namespace) and the host-side objects of a macvlan
// network (the host_access shim, the internal lower bridge) deleted by hand
// are reported as missing-kernel-object by object, and come back: by `weft check --repair` (first
// weftd: link events off, periodic pass an hour away, so nothing else can fix them) and by the
// link event alone (second weftd). Traffic proves the repair: the host reaches its container
// through the re-created shim. Layout as macvlan-cli.test.ts: weftd in a "host" namespace whose
// parent is a veth to a "LAN" namespace holding the router.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVethPair, netnsScopePerFile, type Netns } from '../helpers/netns.js';
import { startWeftd, type WeftdHandle } from '../helpers/weftd.js';
import type { RepairView, ReportView } from '../helpers/check-report.js';
import { waitUntil } from '../helpers/wait.js';


const ping = (ns: Netns, ip: string) => ns.exec(['busybox', 'ping', '-c', '1', '-W', '1', ip]);

/** Polls with a deadline (no fixed sleeps: the machine may be shared and slow). */
const until = (what: string, fn: () => Promise<boolean>, timeoutMs = 20000) => waitUntil(what, fn, timeoutMs);

function lab(linkEvents: boolean) {
  const scope = netnsScopePerFile();
  const t = {} as { host: Netns; lan: Netns; weftd: WeftdHandle };
  const setup = async () => {
    t.host = await scope.create();
    t.lan = await scope.create();
    await createVethPair({ ns: t.host, name: 'par1' }, { ns: t.lan, name: 'lan', cidr: '10.84.0.1/24' });
    t.weftd = await startWeftd({
      prefix: ['ip', 'netns', 'exec', t.host.name],
      args: ['--reconcile-interval', '3600'],
      ...(linkEvents ? {} : { env: { WEFT_LINK_EVENTS: 'off' } }),
    });
  };
  const container = async (net: string) => {
    const ns = await scope.create();
    const ep = JSON.parse(await t.weftd.cliOk(['network', 'connect', '--format', 'json', net, ns.name])) as { id: string; ipv4: string };
    return { ns, ep, ip: ep.ipv4.split('/')[0]! };
  };
  const netId = async (name: string) => (JSON.parse(await t.weftd.cliOk(['network', 'inspect', name])) as { id: string }[])[0]!.id;
  const check = async (): Promise<{ code: number; report: ReportView }> => {
    const r = await t.weftd.cli(['check', '--format', 'json']);
    return { code: r.code, report: JSON.parse(r.stdout) as ReportView };
  };
  const repair = async (): Promise<{ code: number; report: RepairView }> => {
    const r = await t.weftd.cli(['check', '--repair', '--format', 'json']);
    return { code: r.code, report: JSON.parse(r.stdout) as RepairView };
  };
  return { scope, t, setup, container, netId, check, repair };
}

describe('weft check --repair on macvlan networks', () => {
  const { t, setup, container, netId, check, repair } = lab(false);
  beforeAll(setup);
  afterAll(async () => {
    await t.weftd?.cleanup();
  });

  /** The planted links are reported (kind and object, nothing else), --repair fixes them, and a
   *  second check is clean. */
  const expectRepaired = async (...objects: string[]) => {
    const before = await check();
    expect(before.code).toBe(1);
    const found = before.report.findings.map((f) => `${f.kind} ${f.object}`).sort();
    expect(found).toEqual(objects.map((o) => `missing-kernel-object ${o}`).sort());
    const r = await repair();
    const repaired = r.report.repairs.filter((a) => a.kind === 'missing-kernel-object' && a.outcome === 'repaired').map((a) => a.object);
    expect(repaired.sort(), JSON.stringify(r.report.repairs, null, 1)).toEqual([...objects].sort());
    expect(r.report.after.findings, JSON.stringify(r.report.after.findings, null, 1)).toEqual([]);
    expect(r.code).toBe(0);
    expect((await check()).report.findings).toEqual([]);
  };

  it('is clean with joined macvlan endpoints (their links live in the containers, not on the host)', async () => {
    await t.weftd.cliOk(['network', 'create', '-d', 'macvlan', '-o', 'parent=par1', '--subnet', '10.84.0.0/24', '--gateway', '10.84.0.1', 'mc1']);
    const c = await container('mc1');
    expect((await ping(c.ns, '10.84.0.1')).code).toBe(0);
    const r = await check();
    expect(r.report.findings).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('a macvlan endpoint link deleted inside its namespace is reported and re-created with its name, MAC, address and routes', async () => {
    const c = await container('mc1');
    const [before] = await c.ns.ipJson<{ address: string }[]>(['link', 'show', 'eth0']);
    await c.ns.ip(['link', 'del', 'eth0']);
    expect(await c.ns.linkNames()).toEqual(['lo']);
    await expectRepaired(`link eth0 in ${c.ns.name}`);
    const [after] = await c.ns.ipJson<{ address: string; linkinfo?: { info_kind?: string } }[]>(['-d', 'link', 'show', 'eth0']);
    expect(after!.address).toBe(before!.address);
    expect(after!.linkinfo?.info_kind).toBe('macvlan');
    expect(JSON.stringify(await c.ns.ipJson(['-4', 'addr', 'show', 'eth0']))).toContain(c.ip);
    expect(await c.ns.ipJson<{ gateway?: string }[]>(['route', 'show', 'default'])).toMatchObject([{ gateway: '10.84.0.1' }]);
    expect((await ping(c.ns, '10.84.0.1')).code).toBe(0);
  });

  it('a deleted host_access shim is reported and re-created with its address and route: the host reaches its container again', async () => {
    await t.weftd.cliOk(['network', 'create', '-d', 'macvlan', '-o', 'parent=par1', '-o', 'host_access=true', '--subnet', '10.85.0.0/24', 'mc2']);
    const c = await container('mc2');
    expect((await ping(t.host, c.ip)).code).toBe(0);
    const shim = `wfs${(await netId('mc2')).slice(0, 12)}`;
    await t.host.ip(['link', 'del', shim]);
    expect((await ping(t.host, c.ip)).code).not.toBe(0);
    await expectRepaired(`link ${shim}`);
    expect((await ping(t.host, c.ip)).code).toBe(0);
  });

  it('a deleted internal lower bridge is reported and re-created, and so are the endpoint links the kernel deleted with it: the containers talk again', async () => {
    await t.weftd.cliOk(['network', 'create', '-d', 'macvlan', '--internal', '--subnet', '10.86.0.0/24', 'mc3']);
    const a = await container('mc3');
    const b = await container('mc3');
    expect((await ping(a.ns, b.ip)).code).toBe(0);
    const lower = `wfl${(await netId('mc3')).slice(0, 12)}`;
    await t.host.ip(['link', 'del', lower]);
    // The kernel deletes every macvlan on a deleted lower device, in whatever namespace it is.
    expect(await a.ns.linkNames()).toEqual(['lo']);
    // The bridge comes first in the findings, so --repair re-creates it before the endpoints on it.
    await expectRepaired(`link ${lower}`, `link eth0 in ${a.ns.name}`, `link eth0 in ${b.ns.name}`);
    expect(await t.host.linkNames()).toContain(lower);
    expect((await ping(a.ns, b.ip)).code).toBe(0);
  });
});

describe('link events repair a deleted macvlan shim at once (periodic pass an hour away)', () => {
  const { t, setup, container, netId, check } = lab(true);
  beforeAll(setup);
  afterAll(async () => {
    await t.weftd?.cleanup();
  });

  it('the shim comes back by itself and the host reaches its container again', async () => {
    await t.weftd.cliOk(['network', 'create', '-d', 'macvlan', '-o', 'parent=par1', '-o', 'host_access=true', '--subnet', '10.87.0.0/24', 'me1']);
    const c = await container('me1');
    expect((await ping(t.host, c.ip)).code).toBe(0);
    const shim = `wfs${(await netId('me1')).slice(0, 12)}`;
    await t.host.ip(['link', 'del', shim]);
    await until('the shim to be re-created and the container reachable from the host', async () => (await ping(t.host, c.ip)).code === 0);
    expect(t.weftd.log()).toContain('host_access shim is gone: re-creating it');
    expect((await check()).report.findings).toEqual([]);
  });
});
