// weftd started in a test namespace, driven through the real `weft` CLI: the none and host
// drivers, the management API's refusals, graceful shutdown and the start-up sweep.

import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { netnsScopePerFile, netnsScopePerTest, type Netns } from '../helpers/netns.js';
import { startWeftdInNetns, type WeftdHandle } from '../helpers/weftd.js';

describe('weftd with the none and host drivers', () => {
  const scope = netnsScopePerFile();
  let hostNs: Netns;
  let weftd: WeftdHandle;

  beforeAll(async () => {
    hostNs = await scope.create();
    weftd = await startWeftdInNetns(scope, hostNs);
  });

  it('connects a none network into a fresh namespace: an endpoint is recorded, no interface is added', async () => {
    const c = await scope.create();
    const before = await c.linkNames();
    await weftd.cliOk(['network', 'create', '-d', 'none', 'nn']);
    const ep = JSON.parse(await weftd.cliOk(['network', 'connect', '--format', 'json', 'nn', c.name]));
    expect(ep.network).toBe('nn');
    expect(ep.netns).toBe(c.name);
    expect(ep.ipv4).toBeUndefined();
    expect(await c.linkNames()).toEqual(before);
    expect(before).toEqual(['lo']);

    const [net] = JSON.parse(await weftd.cliOk(['network', 'inspect', 'nn']));
    expect(net.driver).toBe('none');
    expect(net.endpoints).toHaveLength(1);
    expect(net.endpoints[0].id).toBe(ep.id);

    // Still connected: removing the network is refused and names the endpoint.
    const rm = await weftd.cli(['network', 'rm', 'nn']);
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toContain('active endpoints');
    expect(rm.stderr).toContain(ep.id.slice(0, 12));
    expect(rm.stderr).toContain('WEFT_ERR_NETWORK_IN_USE');

    // A second connect of the same namespace is refused.
    const again = await weftd.cli(['network', 'connect', 'nn', c.name]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('already connected');

    await weftd.cliOk(['network', 'disconnect', 'nn', c.name]);
    await weftd.cliOk(['network', 'rm', 'nn']);
    const ls = JSON.parse(await weftd.cliOk(['network', 'ls', '--format', 'json']));
    expect(ls.map((n: { name: string }) => n.name)).not.toContain('nn');
  });

  it("accepts the host's own namespace on the host network and refuses another one", async () => {
    const other = await scope.create();
    await weftd.cliOk(['network', 'create', '-d', 'host', 'hostnet']);

    const refused = await weftd.cli(['network', 'connect', 'hostnet', other.name]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("only accepts the host's own network namespace");
    expect(refused.stderr).toContain('WEFT_ERR_NOT_SUPPORTED');
    // Nothing was recorded for the refused connect.
    const [mid] = JSON.parse(await weftd.cliOk(['network', 'inspect', 'hostnet']));
    expect(mid.endpoints).toHaveLength(0);

    // weftd runs in hostNs: that is its host namespace, by name and by /proc path.
    const ep = JSON.parse(await weftd.cliOk(['network', 'connect', '--format', 'json', 'hostnet', hostNs.name]));
    expect(ep.netns).toBe(hostNs.name);
    const [net] = JSON.parse(await weftd.cliOk(['network', 'inspect', 'hostnet']));
    expect(net.endpoints.map((e: { id: string }) => e.id)).toEqual([ep.id]);

    const second = await weftd.cli(['network', 'create', '-d', 'host', 'hostnet2']);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain('only one host network');

    await weftd.cliOk(['network', 'disconnect', 'hostnet', hostNs.name]);
    const viaProc = JSON.parse(await weftd.cliOk(['network', 'connect', '--format', 'json', 'hostnet', `/proc/${weftd.pid}/ns/net`]));
    expect(viaProc.netns).toBe(`/proc/${weftd.pid}/ns/net`);
    await weftd.cliOk(['network', 'disconnect', 'hostnet', `/proc/${weftd.pid}/ns/net`]);
    await weftd.cliOk(['network', 'rm', 'hostnet']);
  });

  it('refuses bad input with stable codes and records nothing', async () => {
    const cases: [string[], string][] = [
      [['network', 'connect', 'nosuchnet', 'x'], 'WEFT_ERR_NETWORK_NOT_FOUND'],
      [['network', 'create', '-d', 'none', '-o', 'mtu=1400', 'badopt'], 'WEFT_ERR_INVALID_OPTION'],
      [['network', 'create', '-d', 'none', '--subnet', '10.77.0.0/24', 'badsub'], 'WEFT_ERR_INVALID_OPTION'],
      [['network', 'create', '-d', 'macvlan', 'noparent'], 'WEFT_ERR_INVALID_OPTION'],
      [['network', 'create', '-d', 'none', 'bad;name'], 'WEFT_ERR_INVALID_NAME'],
    ];
    for (const [args, code] of cases) {
      const r = await weftd.cli(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toContain(code);
    }
    await weftd.cliOk(['network', 'create', '-d', 'none', 'nn2']);
    const missing = await weftd.cli(['network', 'connect', 'nn2', 'wt-does-not-exist']);
    expect(missing.stderr).toContain('WEFT_ERR_NETNS_NOT_FOUND');
    const climb = await weftd.cli(['network', 'connect', 'nn2', '/var/run/netns/../../etc/passwd']);
    expect(climb.stderr).toContain('WEFT_ERR_INVALID_NAME');
    const notNs = await weftd.cli(['network', 'connect', 'nn2', '/etc/hostname']);
    expect(notNs.stderr).toContain('WEFT_ERR_NETNS_NOT_FOUND');
    const [net] = JSON.parse(await weftd.cliOk(['network', 'inspect', 'nn2']));
    expect(net.endpoints).toHaveLength(0);
    const names = JSON.parse(await weftd.cliOk(['network', 'ls', '--format', 'json'])).map((n: { name: string }) => n.name);
    expect(names).not.toContain('badopt');
    expect(names).not.toContain('notyet');
    await weftd.cliOk(['network', 'rm', 'nn2']);
  });
});

describe('weftd start-up and shutdown', () => {
  const scope = netnsScopePerTest(); // each test's weftd and namespace go after it

  it('sweeps marked links whose owner is unknown, keeps recorded and unmarked ones, and stops cleanly on SIGTERM', async () => {
    const hostNs = await scope.create();
    const weftd = await startWeftdInNetns(scope, hostNs);
    await weftd.cliOk(['network', 'create', '-d', 'none', 'keep']);
    const [net] = JSON.parse(await weftd.cliOk(['network', 'inspect', 'keep']));
    const status = await weftd.stop();
    expect(status?.code).toBe(0);
    expect(existsSync(weftd.socket)).toBe(false);

    // Links as a crash could leave them: one owned by a recorded network, one by an owner the
    // store does not know, and a wf-named link that weft never marked.
    await hostNs.ip(['link', 'add', 'wfkeep0', 'type', 'veth', 'peer', 'name', 'wfkeep1']);
    await hostNs.ip(['link', 'set', 'wfkeep0', 'alias', `weft:${net.id}`]);
    await hostNs.ip(['link', 'add', 'wfgone0', 'type', 'veth', 'peer', 'name', 'wfgone1']);
    await hostNs.ip(['link', 'set', 'wfgone0', 'alias', 'weft:0123456789abcdef']);
    await hostNs.ip(['link', 'add', 'wfmine0', 'type', 'veth', 'peer', 'name', 'wfmine1']);

    await weftd.start();
    const links = await hostNs.linkNames();
    expect(links).toContain('wfkeep0');
    expect(links).toContain('wfmine0');
    expect(links).not.toContain('wfgone0');
    expect(links).not.toContain('wfgone1');
    expect(weftd.log()).toContain('removing weft link whose owner is not in the store');
    // The network survived the restart.
    const [again] = JSON.parse(await weftd.cliOk(['network', 'inspect', 'keep']));
    expect(again.id).toBe(net.id);
  });

  it('replaces a stale socket left by a killed daemon', async () => {
    const hostNs = await scope.create();
    const weftd = await startWeftdInNetns(scope, hostNs);
    await weftd.kill9();
    expect(existsSync(weftd.socket)).toBe(true);
    await weftd.start();
    const v = JSON.parse(await weftd.cliOk(['version', '--format', 'json']));
    expect(v.server?.version ?? v.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});
