// Proves the e2e harness: a real dockerd in its own network + mount namespace, the busybox image
// imported without a registry, Docker's own bridge driver working there, the per-test plugin dir
// seen by dockerd at /run/docker/plugins, two daemons side by side, and a stop() that leaves
// nothing behind.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, RUN_DEFAULTS, importBusybox } from '../helpers/busybox-image.js';
import { cgroupDirs, pidsInCgroup } from '../helpers/cgroups.js';
import { startDockerd, type DockerdHandle } from '../helpers/dockerd.js';
import { createNetns, deleteNetns, uniqueName } from '../helpers/netns.js';
import { OWNER_FILE, sweepOrphans } from '../helpers/dockerd-orphans.js';
import { isAlive, namespaceOf, pidsInNamespace, pidsWithCmdline, run, waitForExit } from '../helpers/process.js';

describe('dockerd harness', () => {
  let d: DockerdHandle;

  beforeAll(async () => {
    d = await startDockerd();
    console.info(`startDockerd took ${d.startupMs} ms (netns ${d.netnsName}, ${d.tmpDir})`);
    await importBusybox(d);
  });

  afterAll(async () => {
    await d?.stop();
  });

  it('runs dockerd in a network namespace of its own with only lo and docker0', async () => {
    const links = await d.netns.linkNames();
    expect(links.sort()).toEqual(['docker0', 'lo']);
    expect(namespaceOf(d.dockerdPid, 'net')).toBe(namespaceOf(d.anchorPid, 'net'));
    expect(namespaceOf(d.dockerdPid, 'net')).not.toBe(namespaceOf(process.pid, 'net'));
    expect(namespaceOf(d.dockerdPid, 'mnt')).not.toBe(namespaceOf(process.pid, 'mnt'));
    const info = await d.dockerOk(['info', '--format', '{{.DockerRootDir}}']);
    expect(info.stdout.trim()).toBe(d.dataRoot);
  });

  it('has the busybox image, imported without a registry', async () => {
    const r = await d.dockerOk(['image', 'inspect', '--format', '{{.Config.Cmd}}', BUSYBOX_IMAGE]);
    expect(r.stdout.trim()).toBe('[sh]');
  });

  it('gives a container an address from a Docker bridge network with default IPAM', async () => {
    await d.dockerOk(['network', 'create', '--subnet', '10.31.250.0/24', 't1']);
    const r = await d.dockerOk(['run', '--rm', ...RUN_DEFAULTS, '--network', 't1', BUSYBOX_IMAGE, 'ip', '-o', 'addr']);
    expect(r.stdout).toMatch(/eth0\s+inet 10\.31\.250\.\d+\/24/);
    // The bridge and its gateway address live in the handle's namespace, not on the host.
    const id = (await d.dockerOk(['network', 'inspect', '--format', '{{.Id}}', 't1'])).stdout.trim();
    const bridge = `br-${id.slice(0, 12)}`;
    expect(await d.netns.linkNames()).toContain(bridge);
    expect(existsSync(`/sys/class/net/${bridge}`)).toBe(false);
    const addrs = await d.netns.ipJson<Array<{ addr_info: Array<{ local: string }> }>>(['addr', 'show', 'dev', bridge]);
    expect(addrs[0]!.addr_info.map((a) => a.local)).toContain('10.31.250.1');
  });

  it('lets two containers on the bridge ping each other', async () => {
    await d.dockerOk(['run', '-d', ...RUN_DEFAULTS, '--network', 't1', '--name', 'pingee', '--ip', '10.31.250.50', BUSYBOX_IMAGE, 'sleep', '600']);
    try {
      const r = await d.docker(['run', '--rm', ...RUN_DEFAULTS, '--network', 't1', BUSYBOX_IMAGE, 'ping', '-c', '1', '-W', '3', '10.31.250.50']);
      expect(r.stdout).toContain('1 packets received');
      expect(r.code).toBe(0);
    } finally {
      await d.docker(['rm', '-f', 'pingee']);
    }
  });

  it('shows pluginDir at /run/docker/plugins inside its mount namespace only', async () => {
    const marker = `${uniqueName()}.marker`;
    writeFileSync(join(d.pluginDir, marker), 'x');
    const inside = await d.execInside(['ls', '/run/docker/plugins']);
    expect(inside.code).toBe(0);
    expect(inside.stdout.split('\n')).toContain(marker);
    const onHost = existsSync('/run/docker/plugins') ? readdirSync('/run/docker/plugins') : [];
    expect(onHost).not.toContain(marker);
  });

  it('lets processes inside reach container namespaces and namespaces added on the host later', async () => {
    const host = await createNetns();
    try {
      // Added on the host after the anchor started: propagates into the (slave) mount namespace.
      const r = await d.execInside(['ip', '-n', host.name, '-o', 'link', 'show']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('lo:');
    } finally {
      await deleteNetns(host.name);
    }
    await d.dockerOk(['run', '-d', ...RUN_DEFAULTS, '--network', 't1', '--name', 'sbx', '--ip', '10.31.250.60', BUSYBOX_IMAGE, 'sleep', '600']);
    try {
      const key = (await d.dockerOk(['inspect', '--format', '{{.NetworkSettings.SandboxKey}}', 'sbx'])).stdout.trim();
      expect(key.startsWith(d.execRoot)).toBe(true);
      // Docker's netns bind mount exists only inside the mount namespace, as dockerd made it there.
      const inside = await d.execInside(['nsenter', `--net=${key}`, '--', 'ip', '-o', 'addr', 'show', 'eth0']);
      expect(inside.stdout).toContain('10.31.250.60/24');
      const fromHost = await run(['nsenter', `--net=${key}`, '--', 'true']);
      expect(fromHost.code).not.toBe(0);
    } finally {
      await d.docker(['rm', '-f', 'sbx']);
    }
  });

  it('makes dockerd find a network plugin whose socket is in pluginDir', async () => {
    const name = uniqueName();
    const calls: string[] = [];
    const server = await listenPlugin(d.pluginSocket(name), calls);
    try {
      await d.dockerOk(['network', 'create', '-d', name, 'probe']);
      await d.dockerOk(['network', 'rm', 'probe']);
    } finally {
      await new Promise((r) => server.close(r));
      // A dead socket left in the plugin dir would make later volume scans by dockerd retry for 15 s.
      await rm(d.pluginSocket(name), { force: true });
    }
    expect(calls).toEqual([
      '/Plugin.Activate',
      '/NetworkDriver.GetCapabilities',
      '/NetworkDriver.CreateNetwork',
      '/NetworkDriver.DeleteNetwork',
    ]);
  });

  it('keeps its networks across restartDockerd', async () => {
    const before = d.dockerdPid;
    await d.restartDockerd();
    expect(d.dockerdPid).not.toBe(before);
    expect(isAlive(before)).toBe(false);
    const r = await d.dockerOk(['run', '--rm', ...RUN_DEFAULTS, '--network', 't1', BUSYBOX_IMAGE, 'ip', '-o', 'addr']);
    expect(r.stdout).toMatch(/inet 10\.31\.250\.\d+\/24/);
  });

  it('runs a second dockerd beside the first without collisions, and stop() leaves nothing behind', async () => {
    const e = await startDockerd({ bridge: 'none' });
    let stopped = false;
    try {
      console.info(`second startDockerd took ${e.startupMs} ms`);
      expect(e.netnsName).not.toBe(d.netnsName);
      expect(await e.netns.linkNames()).toEqual(['lo']);
      await importBusybox(e);
      // The same subnet in both daemons: they are separate worlds.
      await e.dockerOk(['network', 'create', '--subnet', '10.31.250.0/24', 't1']);
      const r = await e.dockerOk(['run', '--rm', ...RUN_DEFAULTS, '--network', 't1', BUSYBOX_IMAGE, 'ip', '-o', 'addr']);
      expect(r.stdout).toMatch(/inet 10\.31\.250\.\d+\/24/);
      expect((await d.dockerOk(['ps', '-aq'])).stdout.trim()).toBe('');

      await e.dockerOk(['run', '-d', ...RUN_DEFAULTS, '--network', 't1', BUSYBOX_IMAGE, 'sleep', '600']);
      const helper = await e.spawnInside(['sleep', '600']);
      const snapshot = await snapshotOf(e);
      expect(snapshot.containerPids.length).toBeGreaterThan(0);
      expect(snapshot.pids).toContain(helper.pid);
      stopped = true;
      await e.stop();
      await expectNothingLeft(e, snapshot);
      // The first daemon did not notice.
      expect((await d.dockerOk(['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n')).toContain('t1');
    } finally {
      if (!stopped) await e.stop();
    }
  });

  it('reports dockerd\'s log when it cannot start, and leaves nothing behind', async () => {
    const err = await startDockerd({ extraArgs: ['--no-such-flag'] }).then(
      () => new Error('started'),
      (e: unknown) => e as Error,
    );
    expect(err.message).toMatch(/startDockerd failed \(netns wt-\w+, \/\S+\): dockerd exited/);
    expect(err.message).toContain('unknown flag: --no-such-flag');
    const [, netns, dir] = /netns (wt-\w+), (\/\S+)\)/.exec(err.message)!;
    expect(existsSync(`/run/netns/${netns}`)).toBe(false);
    expect(existsSync(dir!)).toBe(false);
    expect(cgroupDirs(`/${netns}`)).toEqual([]);
  });

  it('sweeps the leftovers of a handle whose test process died without stop()', async () => {
    const e = await startDockerd({ bridge: 'none' });
    try {
      await importBusybox(e);
      await e.dockerOk(['run', '-d', ...RUN_DEFAULTS, BUSYBOX_IMAGE, 'sleep', '600']);
      const snapshot = await snapshotOf(e);
      // Pretend the owner died: point owner.json at a process that has exited, and end the anchor
      // and dockerd the way the kernel does when their parent dies (SIGKILL). containerd-shim and
      // the container survive that, as they would after a crashed test run.
      const owner = JSON.parse(readFileSync(join(e.tmpDir, OWNER_FILE), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(e.tmpDir, OWNER_FILE), JSON.stringify({ ...owner, pid: spawnSync('true').pid }));
      process.kill(e.dockerdPid, 'SIGKILL');
      process.kill(e.anchorPid, 'SIGKILL');
      expect(await waitForExit([e.dockerdPid, e.anchorPid, snapshot.containerdPid], 10_000)).toEqual([]);
      expect(snapshot.containerPids.filter(isAlive).length).toBeGreaterThan(0);

      const cleaned = await sweepOrphans();
      // Another test file starting a dockerd at this moment may have swept it first.
      expect(cleaned.includes(e.tmpDir) || !existsSync(e.tmpDir)).toBe(true);
      await expectNothingLeft(e, snapshot);
    } finally {
      await e.stop();
    }
  });

  it('stop() of the first daemon, with a container running, leaves nothing behind', async () => {
    await d.dockerOk(['run', '-d', ...RUN_DEFAULTS, '--network', 't1', BUSYBOX_IMAGE, 'sleep', '600']);
    const snapshot = await snapshotOf(d);
    await d.stop();
    await expectNothingLeft(d, snapshot);
    await d.stop(); // idempotent
  });
});

interface Snapshot {
  /** Every process of the handle: anchor, dockerd, containerd, shims, containers, helpers. */
  pids: number[];
  containerPids: number[];
  containerdPid: number;
  mntNs: string;
}

async function snapshotOf(h: DockerdHandle): Promise<Snapshot> {
  const mntNs = namespaceOf(h.anchorPid, 'mnt')!;
  const containerPids = pidsInCgroup(h.cgroupParent);
  const containerdPid = Number(await readFile(join(h.execRoot, 'containerd', 'containerd.pid'), 'utf8'));
  const pids = [...new Set([...pidsInNamespace('mnt', mntNs), ...containerPids, containerdPid, h.dockerdPid])];
  expect(pids).toContain(h.anchorPid);
  expect(pids.every(isAlive)).toBe(true);
  return { pids, containerPids, containerdPid, mntNs };
}

async function expectNothingLeft(h: DockerdHandle, s: Snapshot): Promise<void> {
  expect(s.pids.filter(isAlive)).toEqual([]);
  expect(await pidsWithCmdline(h.tmpDir)).toEqual([]);
  expect(existsSync(`/run/netns/${h.netnsName}`)).toBe(false);
  expect(existsSync(h.tmpDir)).toBe(false);
  expect(cgroupDirs(h.cgroupParent)).toEqual([]);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  expect(mounts).not.toContain(h.tmpDir);
  expect(mounts).not.toContain(h.netnsName);
}

/** A minimal network plugin on a unix socket: records each call and answers as the protocol asks. */
function listenPlugin(socket: string, calls: string[]): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls.push(req.url ?? '');
      const body =
        req.url === '/Plugin.Activate'
          ? { Implements: ['NetworkDriver'] }
          : req.url === '/NetworkDriver.GetCapabilities'
            ? { Scope: 'local', ConnectivityScope: 'local' }
            : {};
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.plugins.v1.2+json' });
      res.end(`${JSON.stringify(body)}\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve(server));
  });
}
