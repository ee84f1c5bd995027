// dockerd starting after weftd (the order of scripts/systemd/weftd.service): dockerd sets iptables'
// FORWARD policy to DROP and makes its DOCKER-USER chain, where weft's accept for its mark must
// go (docs/firewall.md). weftd runs with --reconcile-interval 3600, so the periodic drift pass
// cannot be what puts the rule in: only the prompt re-checks of src/controller/firewall-resync.ts
// (Plugin.Activate, and the engine's API socket appearing).
// Runs the built weftd (`npm run build` first).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, RUN_DEFAULTS, importBusybox } from '../helpers/busybox-image.js';
import { startDockerd, type DockerdHandle } from '../helpers/dockerd.js';
import { sleep } from '../helpers/process.js';
import { startWeftd, type WeftdHandle } from '../helpers/weftd.js';

const WEFT_RULE = /^-A DOCKER-USER -m mark --mark 0x100000\/0x100000 -m comment --comment weft -j ACCEPT$/m;

describe('dockerd starting after weftd', () => {
  let d: DockerdHandle;
  let weftd: WeftdHandle;

  const dockerUser = async () => d.netns.exec(['iptables', '-w', '5', '-S', 'DOCKER-USER']);
  const hasWeftRule = async () => {
    const r = await dockerUser();
    return r.code === 0 && WEFT_RULE.test(r.stdout);
  };
  /** Polls until `fn` holds; returns how long it took. */
  const within = async (what: string, fn: () => Promise<boolean>, limitMs: number): Promise<number> => {
    const t0 = Date.now();
    while (!(await fn())) {
      if (Date.now() - t0 > limitMs) throw new Error(`${what}: not within ${limitMs} ms\n${weftd.log().slice(-3000)}`);
      await sleep(100);
    }
    return Date.now() - t0;
  };
  /** Packets accepted by weft's DOCKER-USER rule: with FORWARD DROP and br_netfilter, bridged
   *  container traffic that weft accepts is let through by that rule. */
  const weftRulePackets = async () => {
    const out = (await d.netns.execOk(['iptables', '-L', 'DOCKER-USER', '-v', '-n', '-x'])).stdout;
    const line = out.split('\n').find((l) => /ACCEPT .*mark match 0x100000\/0x100000 \/\* weft \*\//.test(l));
    if (!line) throw new Error(`no weft rule in DOCKER-USER:\n${out}`);
    return Number(line.trim().split(/\s+/)[0]);
  };
  const ipOf = async (c: string) => (await d.dockerOk(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', c])).stdout.trim();
  const ping = async (from: string, ip: string) => (await d.docker(['exec', from, 'ping', '-c', '1', '-W', '1', ip])).code === 0;

  beforeAll(async () => {
    d = await startDockerd({ deferDaemon: true });
    weftd = await startWeftd({ prefix: d.nsenterArgv(['true']).slice(0, -1), pluginDir: d.pluginDir, args: ['--reconcile-interval', '3600', '--docker-socket', d.socket] });
  }, 60_000);
  afterAll(async () => {
    await d?.stop();
    await weftd?.cleanup();
  }, 60_000);

  it('puts its DOCKER-USER accept in as dockerd starts, and bridged traffic on a Docker weft network passes at once', async () => {
    // Before dockerd: no Docker chains, nothing for weft to add its rule to (it never makes Docker's chains).
    expect((await dockerUser()).code).not.toBe(0);
    await d.startDaemon();
    const ms = await within('weft rule in DOCKER-USER after dockerd started', hasWeftRule, 5_000);
    console.info(`DOCKER-USER rule in ${ms} ms after dockerd answered (first start)`);
    expect((await d.netns.execOk(['iptables', '-S', 'FORWARD'])).stdout).toContain('-P FORWARD DROP');
    await importBusybox(d);
    await d.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.76.1.0/24', 'fp1']);
    await d.dockerOk(['run', '-d', ...RUN_DEFAULTS, '--name', 'fa', '--network', 'fp1', BUSYBOX_IMAGE, 'sleep', '600']);
    await d.dockerOk(['run', '-d', ...RUN_DEFAULTS, '--name', 'fb', '--network', 'fp1', BUSYBOX_IMAGE, 'sleep', '600']);
    // No retries: the rule is in, so the first ping must pass, and it passed through that rule.
    const before = await weftRulePackets();
    expect(await ping('fa', await ipOf('fb'))).toBe(true);
    expect(await weftRulePackets()).toBeGreaterThan(before);
  });

  it('puts it back when dockerd restarts on a fresh firewall (as after a reboot) with weft networks to restore', async () => {
    // Docker's filter chains gone, FORWARD open again: what a reboot leaves before dockerd starts.
    await d.netns.execOk(['iptables', '-F']);
    await d.netns.execOk(['iptables', '-X']);
    await d.netns.execOk(['iptables', '-P', 'FORWARD', 'ACCEPT']);
    expect((await dockerUser()).code).not.toBe(0);
    await d.restartDockerd();
    const ms = await within('weft rule in DOCKER-USER after dockerd restarted', hasWeftRule, 15_000);
    console.info(`DOCKER-USER rule in ${ms} ms after dockerd answered again`);
    await d.dockerOk(['start', 'fa', 'fb']);
    expect(await ping('fa', await ipOf('fb'))).toBe(true);
    const repairs = weftd.log().match(/"firewall restored after Docker started"/g) ?? [];
    expect(repairs.length).toBeGreaterThanOrEqual(2);
  });

  it('puts it back when dockerd restarts without any weft network in Docker (no Plugin.Activate): the engine socket appearing is the trigger', async () => {
    await d.dockerOk(['rm', '-f', 'fa', 'fb']);
    await d.dockerOk(['network', 'rm', 'fp1']);
    await weftd.cliOk(['network', 'create', '-d', 'bridge', '--subnet', '10.76.2.0/24', 'fp2']);
    await d.netns.execOk(['iptables', '-F']);
    await d.netns.execOk(['iptables', '-X']);
    await d.netns.execOk(['iptables', '-P', 'FORWARD', 'ACCEPT']);
    const offset = weftd.log().length;
    await d.restartDockerd();
    const ms = await within('weft rule in DOCKER-USER after dockerd restarted', hasWeftRule, 15_000);
    console.info(`DOCKER-USER rule in ${ms} ms after dockerd answered again (no weft network in Docker)`);
    const since = weftd.log().slice(offset);
    expect(since).not.toContain('"method":"Plugin.Activate"');
    expect(since).toContain('"trigger":"Docker engine socket changed"');
    expect(since).toContain('"firewall restored after Docker started"');
    await weftd.cliOk(['network', 'rm', 'fp2']);
  });
});
