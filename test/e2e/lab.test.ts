// The netns lab (scripts/lab, docs/lab.md) as people use it: its own command line, run as a
// separate process. One 3-host lab is shared by most tests of the file, a 2-host lab with Docker
// by the Docker test; both use their own name and dir, so they never meet a lab of a user.
// The Vagrantfile is checked with `vagrant validate` (no provider needed).
// The labs run on their default store, etcd.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupDirs } from '../helpers/cgroups.js';
import { isAlive, pidsWithCmdline, run, sleep, type RunResult } from '../helpers/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LAB = path.join(ROOT, 'scripts/lab');

interface DaemonStatus {
  name: string;
  pid: number | null;
  running: boolean;
  healthy: boolean;
  state: 'up' | 'down' | 'unhealthy';
  detail?: string;
}
interface NodeStatus {
  name: string;
  kind: 'host' | 'etcd';
  addr: string;
  netns: string;
  netnsExists: boolean;
  link: string;
  anchor?: { pid: number | null; running: boolean };
  daemons: DaemonStatus[];
}
interface LabStatus {
  name: string;
  dir: string;
  options: { hosts: number; store: string; docker: boolean; mtu: number };
  nodes: NodeStatus[];
}

/** A lab of a fixed name and dir: a test run that crashed is cleaned up by the next `lab up`. */
class Lab {
  readonly dir: string;

  constructor(readonly name: string) {
    this.dir = path.join(tmpdir(), `weft-lab-test-${name}`);
  }

  run(args: string[], timeoutMs = 120_000): Promise<RunResult> {
    return run([LAB, '--name', this.name, '--dir', this.dir, ...args], { timeoutMs });
  }

  async ok(args: string[], timeoutMs?: number): Promise<RunResult> {
    const r = await this.run(args, timeoutMs);
    if (r.code !== 0) throw new Error(`lab ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
    return r;
  }

  exec(node: string, cmd: string[]): Promise<RunResult> {
    return this.run(['exec', node, '--', ...cmd], 60_000);
  }

  async status(): Promise<LabStatus> {
    return JSON.parse((await this.ok(['status', '--json'])).stdout) as LabStatus;
  }

  host(s: LabStatus, name: string): NodeStatus {
    const n = s.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name} in ${JSON.stringify(s)}`);
    return n;
  }

  /** `lab up` on the default store (etcd). */
  async up(args: string[]): Promise<void> {
    await this.ok(['up', ...args], 240_000);
  }

  /** Every PID the state file records (anchors, daemons, etcd). */
  recordedPids(): number[] {
    const s = JSON.parse(readFileSync(path.join(this.dir, 'lab.json'), 'utf8')) as {
      hosts: Array<Record<string, { pid: number } | null>>;
      etcd: Array<{ etcd: { pid: number } | null }>;
    };
    const pids: number[] = [];
    for (const h of s.hosts) for (const k of ['anchor', 'weftd', 'dockerd']) if (h[k]?.pid) pids.push(h[k]!.pid);
    for (const m of s.etcd) if (m.etcd?.pid) pids.push(m.etcd.pid);
    return pids;
  }

  /** Asserts that nothing of the lab is left on the machine. */
  async expectNothingLeft(pids: number[]): Promise<void> {
    const prefix = `${this.name}-`;
    const netns = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(prefix)) : [];
    expect(netns).toEqual([]);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(await pidsWithCmdline(this.dir)).toEqual([]);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(this.dir));
    expect(mounts).toEqual([]);
    expect(cgroupDirs(`/weft-lab.${this.name}`)).toEqual([]);
    expect(existsSync(this.dir)).toBe(false);
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

const ping = (lab: Lab, from: string, to: string) => lab.exec(from, ['busybox', 'ping', '-c', '1', '-W', '1', to]);

describe('lab: 3 hosts', () => {
  const lab = new Lab('wt-lab');

  beforeAll(async () => {
    const t0 = Date.now();
    await lab.up(['--hosts', '3', '--mtu', '1450']);
    console.info(`lab up --hosts 3 --mtu 1450 took ${Date.now() - t0} ms`);
  });

  afterAll(async () => {
    await lab.run(['down']);
  });

  it('shows three hosts with their underlay addresses and weftd up', async () => {
    const s = await lab.status();
    expect(s.options).toMatchObject({ hosts: 3, mtu: 1450, docker: false });
    const hosts = s.nodes.filter((n) => n.kind === 'host');
    expect(hosts.map((h) => [h.name, h.addr, h.netns])).toEqual([
      ['h1', '198.18.0.11', 'wt-lab-h1'],
      ['h2', '198.18.0.12', 'wt-lab-h2'],
      ['h3', '198.18.0.13', 'wt-lab-h3'],
    ]);
    for (const h of hosts) {
      expect(h.netnsExists).toBe(true);
      expect(h.link).toBe('up');
      expect(h.anchor?.running).toBe(true);
      expect(h.daemons.map((d) => [d.name, d.state])).toEqual([['weftd', 'up']]);
    }
    const etcd = s.nodes.filter((n) => n.kind === 'etcd');
    if (s.options.store === 'etcd') expect(etcd.every((m) => m.daemons[0]!.state === 'up')).toBe(true);
  });

  it('lets hosts reach each other over the underlay, and routes nothing out', async () => {
    for (const [from, to] of [['h1', '198.18.0.12'], ['h2', '198.18.0.13'], ['h3', '198.18.0.11']] as const) {
      const r = await ping(lab, from, to);
      expect(r.code, `${from} -> ${to}: ${r.stdout}${r.stderr}`).toBe(0);
    }
    for (const h of ['h1', 'h2', 'h3']) {
      const routes = await lab.exec(h, ['ip', '-4', 'route', 'show']);
      expect(routes.stdout.trim()).toBe('198.18.0.0/24 dev eth0 proto kernel scope link src 198.18.0.1' + h.slice(1));
      expect((await lab.exec(h, ['ip', '-6', 'route', 'show', 'default'])).stdout.trim()).toBe('');
    }
    // The switch has its bridge and one port per node: no uplink. Underlay links have --mtu.
    const sw = await run(['ip', '-j', '-n', 'wt-lab-sw', 'link', 'show']);
    const links = JSON.parse(sw.stdout) as Array<{ ifname: string; mtu: number }>;
    const s = await lab.status();
    expect(links.map((l) => l.ifname).sort()).toEqual(['br0', 'lo', ...s.nodes.map((n) => n.name)].sort());
    for (const l of links) if (l.ifname !== 'lo') expect([l.ifname, l.mtu]).toEqual([l.ifname, 1450]);
    const eth0 = JSON.parse((await lab.exec('h2', ['ip', '-j', 'link', 'show', 'eth0'])).stdout) as Array<{ mtu: number }>;
    expect(eth0[0]!.mtu).toBe(1450);
  });

  it("answers `lab exec h2 -- weft version` from h2's own weftd", async () => {
    const r = await lab.exec('h2', ['weft', 'version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`State dir:   ${lab.dir}/h2/state`);
    expect(r.stdout).toMatch(/Store:\s+etcd:\/\/198\.18\.0\.2:2379/);
    expect((await lab.exec('h2', ['hostname'])).stdout.trim()).toBe('h2');
  });

  it('connects a namespace made with `lab exec h1 -- ip netns add` to a none network', async () => {
    const ns = `c1x${process.pid}`;
    expect((await lab.exec('h1', ['ip', 'netns', 'add', ns])).code).toBe(0);
    // The namespace is h1's own: neither the machine nor h2 sees it.
    expect(existsSync(`/run/netns/${ns}`)).toBe(false);
    expect((await lab.exec('h2', ['ip', 'netns', 'list'])).stdout).not.toContain(ns);
    const create = await lab.exec('h1', ['weft', 'network', 'create', '-d', 'none', 'n0']);
    expect(create.code, create.stderr).toBe(0);
    const connect = await lab.exec('h1', ['weft', 'network', 'connect', 'n0', ns]);
    expect(connect.code, connect.stderr).toBe(0);
    const inspect = await lab.exec('h1', ['weft', 'network', 'inspect', 'n0']);
    const [net] = JSON.parse(inspect.stdout) as Array<{ endpoints: Array<{ netns: string }> }>;
    expect(net!.endpoints.map((e) => e.netns)).toEqual([ns]);
  });

  it('stops and starts a host\'s weftd (SIGTERM and SIGKILL) on the same state', async () => {
    await lab.ok(['exec', 'h2', '--', 'weft', 'network', 'create', '-d', 'none', 'keep']);
    await lab.ok(['stop', 'h2']);
    let s = await lab.status();
    expect(lab.host(s, 'h2').daemons[0]).toMatchObject({ name: 'weftd', state: 'down', pid: null });
    expect(lab.host(s, 'h1').daemons[0]!.state).toBe('up');
    expect((await lab.exec('h2', ['weft', 'version'])).code).not.toBe(0);

    await lab.ok(['start', 'h2']);
    s = await lab.status();
    expect(lab.host(s, 'h2').daemons[0]!.state).toBe('up');
    expect((await lab.exec('h2', ['weft', 'network', 'ls'])).stdout).toContain('keep');

    const pid = lab.host(s, 'h2').daemons[0]!.pid!;
    await lab.ok(['stop', 'h2', '--kill']);
    expect(isAlive(pid)).toBe(false);
    expect(lab.host(await lab.status(), 'h2').daemons[0]!.state).toBe('down');
    await lab.ok(['start', 'h2']);
    expect(lab.host(await lab.status(), 'h2').daemons[0]!.state).toBe('up');
    expect((await lab.exec('h2', ['weft', 'network', 'ls'])).stdout).toContain('keep');
  });

  it('cuts and restores a host\'s underlay link', async () => {
    await lab.ok(['link', 'h3', 'down']);
    expect(lab.host(await lab.status(), 'h3').link).toBe('down');
    expect((await ping(lab, 'h1', '198.18.0.13')).code).not.toBe(0);
    await lab.ok(['link', 'h3', 'up']);
    // The veth comes back at once, the bridge port needs a moment to forward again.
    let r: RunResult | undefined;
    for (let i = 0; i < 10 && r?.code !== 0; i++) r = await ping(lab, 'h1', '198.18.0.13');
    expect(r!.code).toBe(0);
  });

  it('cleans up a crashed `lab up` when it is run again', async () => {
    // Kill `lab up` (SIGKILL, no clean-up of its own) once it has started daemons.
    const stateFile = path.join(lab.dir, 'lab.json');
    const before = (JSON.parse(readFileSync(stateFile, 'utf8')) as { createdAt: string }).createdAt;
    const child = spawn(LAB, ['--name', lab.name, '--dir', lab.dir, 'up', '--hosts', '3'], { stdio: 'ignore' });
    const started = Date.now();
    let orphans: number[] = [];
    while (Date.now() - started < 60_000) {
      await sleep(50);
      try {
        const s = JSON.parse(readFileSync(stateFile, 'utf8')) as { createdAt: string; hosts: Array<{ weftd: { pid: number } | null }> };
        // The old lab's state stays until the new `lab up` has removed it: wait for the new one.
        if (s.createdAt !== before && s.hosts.some((h) => h.weftd)) {
          child.kill('SIGKILL');
          orphans = lab.recordedPids();
          break;
        }
      } catch {
        // the state file is not there yet (the old lab is being removed)
      }
    }
    await exited(child);
    expect(orphans.length).toBeGreaterThan(0);

    const again = await lab.ok(['up', '--hosts', '3'], 240_000);
    expect(again.stderr).toMatch(/clean up the previous lab/);
    expect(orphans.filter(isAlive)).toEqual([]);
    const s = await lab.status();
    expect(s.nodes.filter((n) => n.kind === 'host').map((h) => h.daemons[0]!.state)).toEqual(['up', 'up', 'up']);
  });

  it('leaves nothing behind after `lab down`', async () => {
    const pids = lab.recordedPids();
    // Something started by hand inside a host, in a namespace of its own, is found too.
    await lab.ok(['exec', 'h1', '--', 'ip', 'netns', 'add', 'bg']);
    const bg = spawn(LAB, ['--name', lab.name, '--dir', lab.dir, 'exec', 'h1', '--', 'ip', 'netns', 'exec', 'bg', 'sleep', '600'], { stdio: 'ignore' });
    await sleep(500);
    const down = await lab.ok(['down']);
    expect(down.stderr).toMatch(/removed processes, cgroups, namespaces and files/);
    await exited(bg);
    await lab.expectNothingLeft(pids);
    const again = await lab.ok(['down']);
    expect(again.stderr).toContain('nothing to remove');
    const st = await lab.run(['status']);
    expect(st.code).toBe(3);
  });
});

describe('lab: 2 hosts with Docker', () => {
  const lab = new Lab('wt-labd');

  beforeAll(async () => {
    const t0 = Date.now();
    await lab.up(['--hosts', '2', '--docker']);
    console.info(`lab up --hosts 2 --docker took ${Date.now() - t0} ms`);
  });

  afterAll(async () => {
    await lab.run(['down']);
  });

  it('runs a container from the imported busybox image on each host\'s own dockerd, and removes it all', async () => {
    const r = await lab.exec('h1', ['docker', 'run', '--rm', '--pull', 'never', 'busybox', 'true']);
    expect(r.code, r.stderr).toBe(0);
    for (const h of ['h1', 'h2']) {
      const info = await lab.exec(h, ['docker', 'info', '--format', '{{.DockerRootDir}}']);
      expect(info.stdout.trim()).toBe(`${lab.dir}/${h}/docker/data`);
      // dockerd on the host finds that host's weftd at the standard plugin path.
      const plugins = await lab.exec(h, ['ls', '/run/docker/plugins']);
      expect(plugins.stdout.split('\n')).toContain('weft.sock');
    }
    const s = await lab.status();
    for (const h of s.nodes.filter((n) => n.kind === 'host')) expect(h.daemons.map((d) => [d.name, d.state])).toEqual([['weftd', 'up'], ['dockerd', 'up']]);

    // A container left running is removed with the lab, with its shim and cgroup.
    const run1 = await lab.exec('h2', ['docker', 'run', '-d', '--pull', 'never', 'busybox', 'sleep', '600']);
    expect(run1.code, run1.stderr).toBe(0);
    const pids = lab.recordedPids();
    await lab.ok(['down']);
    await lab.expectNothingLeft(pids);
  });
});

describe('Vagrantfile', () => {
  let home: string;

  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'wt-vagrant-'));
  });

  afterAll(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  const validate = (env: Record<string, string> = {}) => {
    if (!existsSync('/usr/bin/vagrant')) throw new Error('vagrant is not installed: run scripts/install-test-deps.sh');
    // Its own VAGRANT_HOME and dot dir: nothing is written to ~/.vagrant.d or to the repository.
    return run(['vagrant', 'validate', '--ignore-provider'], {
      cwd: ROOT,
      timeoutMs: 60_000,
      env: { ...process.env, VAGRANT_HOME: path.join(home, 'home'), VAGRANT_DOTFILE_PATH: path.join(home, 'dot'), VAGRANT_CHECKPOINT_DISABLE: '1', ...env },
    });
  };

  it('passes `vagrant validate` (no provider needed)', async () => {
    const r = await validate();
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('Vagrantfile validated successfully');
    for (const vm of ['etcd', 'h1', 'h2', 'h3']) expect(r.stdout).toContain(`==> ${vm}:`);
  });

  it('refuses a bad private network setting', async () => {
    const r = await validate({ WEFT_VAGRANT_NET: '10.0' });
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toContain('WEFT_VAGRANT_NET must be three octets');
  });
});
