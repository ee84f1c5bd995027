// A real Docker Engine (Debian's dockerd 20.10) for e2e tests, fenced off from the machine:
//
//  - its own network namespace (only `lo`, unless the test adds more), so nothing it does reaches
//    the host's network and image pulls are impossible;
//  - its own mount namespace, held by an "anchor" process (dockerd-anchor.sh), in which a per-test
//    directory is bind-mounted over /run/docker/plugins (where dockerd looks for legacy plugins, a
//    path it hard-codes), /sys is remounted for the network namespace, and /run/docker,
//    /run/containerd and /etc/docker are private;
//  - its own --data-root, --exec-root, --pidfile, socket, managed containerd (state under the
//    exec-root, shim sockets under the private /run/containerd) and cgroup parent.
//
// Other processes (weftd) join the same namespaces with `handle.nsenterArgv(argv)` or
// `handle.spawnInside(argv)`, and then see /run/docker/plugins exactly as dockerd does.
// Starting takes about a second; share one handle per test file (beforeAll/afterAll).

import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pidsInCgroup, removeCgroup } from './cgroups.js';
import { TMP_PREFIX, sweepOrphans, writeOwner } from './dockerd-orphans.js';
import { createNetns, deleteNetns, type Netns } from './netns.js';
import {
  isAlive,
  killPids,
  lastLines,
  namespaceOf,
  pidsInNamespace,
  run,
  spawnLogged,
  spawned,
  type RunOptions,
  type RunResult,
  type SpawnedProcess,
} from './process.js';

const ANCHOR_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'dockerd-anchor.sh');

/** The Docker CLI used against test daemons: Debian's, which matches the daemon's API version. */
export const DOCKER_CLI =
  process.env.WEFT_TEST_DOCKER_CLI ?? (existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker');

/** PATH for dockerd and what it runs (iptables, runc, containerd, docker-proxy, docker-init). */
const DAEMON_PATH = '/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin';
/** Unix socket paths are limited to 107 bytes; keep well inside, with room for containerd's. */
const MAX_SOCKET_PATH = 90;

export interface StartDockerdOptions {
  /**
   * `default`: Docker makes its docker0 bridge (172.17.0.0/16) inside the namespace, as on a stock
   * host, so weft is tested next to Docker's own bridge and iptables rules. `none`: no docker0
   * (`--bridge=none`); `docker run` without `--network` then gets no network.
   */
  bridge?: 'default' | 'none';
  /** More dockerd flags, appended last. */
  extraArgs?: readonly string[];
  /** How long to wait for the API to answer `/_ping`. Default 60 s. */
  startTimeoutMs?: number;
  /** `--log-level debug` instead of info. */
  debug?: boolean;
  /** Make the namespaces but start no dockerd yet (`startDaemon()` does): for "weftd first" tests. */
  deferDaemon?: boolean;
}

export interface DockerdHandle {
  /** Network namespace (`/run/netns/<name>`) that dockerd, its containerd and joined processes use. */
  readonly netnsName: string;
  readonly netns: Netns;
  /** Host path of the dir that processes inside see at /run/docker/plugins. */
  readonly pluginDir: string;
  /** Host path of the Docker API socket. */
  readonly socket: string;
  /** Everything the handle made on disk lives here; removed by stop(). */
  readonly tmpDir: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  /** dockerd's stdout+stderr. */
  readonly logFile: string;
  /** `/NAME`: containers' cgroups live below it in every hierarchy. */
  readonly cgroupParent: string;
  /** PID of the process that holds the mount and network namespaces. */
  readonly anchorPid: number;
  /** PID of the current dockerd (changes on restartDockerd). */
  readonly dockerdPid: number;
  /** Milliseconds from the call to startDockerd until the API answered. */
  readonly startupMs: number;

  /** argv that runs `argv` inside the handle's mount + network namespaces (cwd kept). */
  nsenterArgv(argv: readonly string[], opts?: { cwd?: string }): string[];
  /** Starts a long-lived process inside (e.g. weftd); stop() ends it if the test did not. */
  spawnInside(argv: readonly string[], opts?: SpawnInsideOptions): Promise<SpawnedProcess>;
  /** Runs a short command inside; resolves whatever the exit code. */
  execInside(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Runs the docker CLI against this daemon (default timeout 60 s); resolves whatever the exit code. */
  docker(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Like docker(), but a non-zero exit is an error carrying stderr. */
  dockerOk(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Host path of a plugin socket `<pluginDir>/<name>.sock` (dockerd sees `/run/docker/plugins/<name>.sock`). */
  pluginSocket(name: string): string;
  /** Stops dockerd (its containers stop with it) and starts it again on the same state. */
  restartDockerd(): Promise<void>;
  /** Starts dockerd when it is not running (after `deferDaemon`) and waits for `/_ping`. */
  startDaemon(): Promise<void>;
  /** Ends everything the handle started (by PID), deletes the netns and the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface SpawnInsideOptions {
  /** Output file; default `<tmpDir>/<program>-<n>.log`. */
  logFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Starts a fenced-off dockerd and waits until its API answers. */
export async function startDockerd(opts: StartDockerdOptions = {}): Promise<DockerdHandle> {
  const started = Date.now();
  await checkPrerequisites();
  // Leftovers of test processes that died without stop() (see dockerd-orphans.ts).
  await sweepOrphans().catch(() => undefined);
  const tmpDir = await mkdtemp(join(tmpdir(), TMP_PREFIX));
  const instance = new DockerdInstance(tmpDir, opts);
  try {
    await instance.boot();
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const logs = await instance.logTails();
    await instance.stop().catch(() => undefined);
    throw new Error(`startDockerd failed (netns ${instance.netnsName || '-'}, ${tmpDir}): ${why}${logs}`);
  }
  instance.startupMs = Date.now() - started;
  return instance;
}

class DockerdInstance implements DockerdHandle {
  readonly pluginDir: string;
  readonly socket: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly logFile: string;
  readonly anchorLog: string;
  readonly cliConfigDir: string;
  netnsName = '';
  netns!: Netns;
  cgroupParent = '';
  anchorPid = 0;
  dockerdPid = 0;
  startupMs = 0;
  private mntNs = '';
  private anchor?: SpawnedProcess;
  private dockerd?: SpawnedProcess;
  private readonly inside: SpawnedProcess[] = [];
  private stopping?: Promise<void>;

  constructor(
    readonly tmpDir: string,
    private readonly opts: StartDockerdOptions,
  ) {
    this.pluginDir = join(tmpDir, 'plugins');
    this.socket = join(tmpDir, 'docker.sock');
    this.dataRoot = join(tmpDir, 'data');
    this.execRoot = join(tmpDir, 'exec');
    this.logFile = join(tmpDir, 'dockerd.log');
    this.anchorLog = join(tmpDir, 'anchor.log');
    this.cliConfigDir = join(tmpDir, 'docker-cli');
  }

  async boot(): Promise<void> {
    if (join(this.execRoot, 'containerd', 'containerd.sock.ttrpc').length > MAX_SOCKET_PATH) {
      throw new Error(`temp dir ${this.tmpDir} is too long for unix socket paths: set TMPDIR to a short path`);
    }
    for (const d of [this.pluginDir, this.dataRoot, this.execRoot, this.cliConfigDir]) await mkdir(d, { recursive: true });
    await writeFile(join(this.tmpDir, 'daemon.json'), '{}\n');

    this.netns = await createNetns();
    this.netnsName = this.netns.name;
    this.cgroupParent = `/${this.netnsName}`;
    await writeOwner(this.tmpDir, this.netnsName, this.cgroupParent);
    await this.startAnchor();
    if (!this.opts.deferDaemon) await this.startDaemon();
  }

  /** The anchor: new mount namespace + the test netns, mounts prepared, then `sleep infinity`. */
  private async startAnchor(): Promise<void> {
    const argv = [
      // If the test process dies without stop(), the kernel ends the anchor too.
      'setpriv', '--pdeathsig', 'KILL', '--',
      // slave, not private: namespaces that tests add later with `ip netns add` on the host must
      // show up inside (weftd addresses them by /run/netns path), and nothing mounted inside may
      // leak out to the host.
      'unshare', '--mount', '--propagation', 'slave', '--',
      'nsenter', `--net=${this.netns.path}`, '--',
      '/bin/sh', ANCHOR_SCRIPT, this.tmpDir, this.pluginDir,
    ];
    const errFd = openSync(this.anchorLog, 'a');
    let child;
    try {
      child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', errFd], env: { ...process.env, PATH: DAEMON_PATH } });
    } finally {
      closeSync(errFd);
    }
    this.anchor = await spawned(child, argv);
    this.anchorPid = this.anchor.pid;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('anchor did not get ready within 15 s')), 15_000);
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString('utf8');
        if (out.includes('ready\n')) {
          clearTimeout(timer);
          child.stdout!.destroy(); // `sleep` writes nothing more
          resolve();
        }
      });
      void this.anchor!.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`anchor exited (code ${code}, signal ${signal}) before it was ready`));
      });
    });
    this.mntNs = namespaceOf(this.anchorPid, 'mnt') ?? '';
    if (!this.mntNs || this.mntNs === namespaceOf(process.pid, 'mnt')) {
      throw new Error('anchor is not in a mount namespace of its own');
    }
  }

  private daemonArgv(): string[] {
    const args = [
      'dockerd',
      '--config-file', join(this.tmpDir, 'daemon.json'),
      '--data-root', this.dataRoot,
      '--exec-root', this.execRoot,
      '--pidfile', join(this.tmpDir, 'dockerd.pid'),
      '-H', `unix://${this.socket}`,
      '--cgroup-parent', this.cgroupParent,
      // Containers get this long to stop on SIGTERM before SIGKILL when dockerd shuts down.
      '--shutdown-timeout', '2',
      '--log-level', this.opts.debug ? 'debug' : 'info',
    ];
    if (this.opts.bridge === 'none') args.push('--bridge', 'none');
    args.push(...(this.opts.extraArgs ?? []));
    return args;
  }

  async startDaemon(): Promise<void> {
    if (this.dockerdPid && isAlive(this.dockerdPid)) return;
    const timeoutMs = this.opts.startTimeoutMs ?? 60_000;
    await rm(this.socket, { force: true });
    const argv = ['setpriv', '--pdeathsig', 'KILL', '--', ...this.nsenterArgv(this.daemonArgv())];
    await writeFile(this.logFile, `# ${argv.join(' ')}\n`, { flag: 'a' });
    this.dockerd = await spawnLogged(argv, { logFile: this.logFile, env: this.daemonEnv() });
    this.dockerdPid = this.dockerd.pid;
    const deadline = Date.now() + timeoutMs;
    let exited: string | undefined;
    void this.dockerd.exited.then(({ code, signal }) => (exited = `dockerd exited (code ${code}, signal ${signal})`));
    for (;;) {
      if (exited) throw new Error(exited);
      if (await ping(this.socket)) return;
      if (Date.now() > deadline) throw new Error(`dockerd API did not answer /_ping within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private daemonEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: DAEMON_PATH };
    for (const k of Object.keys(env)) if (k.startsWith('DOCKER_') || k.startsWith('CONTAINERD_')) delete env[k];
    return env;
  }

  private cliEnv(): NodeJS.ProcessEnv {
    const env = this.daemonEnv();
    // Own CLI config: no credential helpers or contexts from the machine's ~/.docker.
    env.DOCKER_CONFIG = this.cliConfigDir;
    return env;
  }

  nsenterArgv(argv: readonly string[], opts: { cwd?: string } = {}): string[] {
    if (!this.anchorPid || !isAlive(this.anchorPid)) throw new Error('the dockerd handle has no live anchor (stopped?)');
    if (argv.length === 0) throw new Error('nsenterArgv: empty argv');
    // Entering a mount namespace moves the cwd to its root; --wd puts it back.
    return ['nsenter', '-t', String(this.anchorPid), '-m', '-n', `--wd=${opts.cwd ?? process.cwd()}`, '--', ...argv];
  }

  async spawnInside(argv: readonly string[], opts: SpawnInsideOptions = {}): Promise<SpawnedProcess> {
    const logFile = opts.logFile ?? join(this.tmpDir, `${basename(argv[0] ?? 'proc')}-${this.inside.length + 1}.log`);
    const p = await spawnLogged(this.nsenterArgv(argv, { cwd: opts.cwd }), { logFile, env: opts.env, cwd: opts.cwd });
    this.inside.push(p);
    return p;
  }

  execInside(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return run(this.nsenterArgv(argv, { cwd: opts.cwd }), opts);
  }

  docker(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return run([DOCKER_CLI, '-H', `unix://${this.socket}`, ...args], { timeoutMs: 60_000, env: this.cliEnv(), ...opts });
  }

  async dockerOk(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const r = await this.docker(args, opts);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited with ${r.code}: ${(r.stderr || r.stdout).trim()}`);
    return r;
  }

  pluginSocket(name: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`bad plugin name ${JSON.stringify(name)}`);
    return join(this.pluginDir, `${name}.sock`);
  }

  async restartDockerd(): Promise<void> {
    await this.stopDaemon();
    try {
      await this.startDaemon();
    } catch (e) {
      throw new Error(`restartDockerd failed: ${(e as Error).message}${await this.logTails()}`);
    }
  }

  /** SIGTERM to dockerd (it stops its containers and its containerd), SIGKILL after 20 s. */
  private async stopDaemon(): Promise<void> {
    if (!this.dockerdPid) return;
    await killPids([this.dockerdPid], 20_000);
    await this.dockerd?.exited;
  }

  stop(): Promise<void> {
    this.stopping ??= this.teardown();
    return this.stopping;
  }

  private async teardown(): Promise<void> {
    const errors: string[] = [];
    const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        errors.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    // Containers first, while dockerd and any plugin (weftd) still answer: dockerd would
    // otherwise wait out each container's stop timeout, and a network plugin must see the leaves.
    await step('remove containers', async () => {
      if (!this.dockerdPid || !isAlive(this.dockerdPid)) return;
      const ps = await this.docker(['ps', '-aq'], { timeoutMs: 20_000 });
      const ids = ps.stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await this.docker(['rm', '-f', ...ids], { timeoutMs: 60_000 });
    });
    await step('stop dockerd', () => this.stopDaemon());
    // Whatever is left in the namespaces the handle made was started through it: containers
    // (found by cgroup), shims, weftd and helpers started with spawnInside/nsenterArgv (found by
    // mount namespace, which only the anchor's descendants and nsenter -t ANCHOR can be in).
    await step('stop remaining processes', async () => {
      for (let round = 0; round < 5; round++) {
        const pids = new Set<number>(this.cgroupParent ? pidsInCgroup(this.cgroupParent) : []);
        if (this.mntNs && this.anchorPid && isAlive(this.anchorPid)) {
          for (const pid of pidsInNamespace('mnt', this.mntNs)) if (pid !== this.anchorPid) pids.add(pid);
        }
        for (const p of this.inside) if (isAlive(p.pid)) pids.add(p.pid);
        if (pids.size === 0) return;
        await killPids([...pids], 3_000);
      }
      throw new Error('processes kept appearing inside the namespaces');
    });
    await step('stop anchor', async () => {
      if (!this.anchorPid) return;
      await killPids([this.anchorPid], 2_000);
      await this.anchor?.exited;
    });
    await step('remove cgroups', async () => {
      if (this.cgroupParent) await removeCgroup(this.cgroupParent);
    });
    await step('delete netns', async () => {
      if (this.netnsName) await deleteNetns(this.netnsName);
    });
    await step('remove temp dir', () => rm(this.tmpDir, { recursive: true, force: true, maxRetries: 3 }));
    if (errors.length > 0) throw new Error(`DockerdHandle.stop (${this.tmpDir}):\n  ${errors.join('\n  ')}`);
  }

  /** The ends of dockerd's and the anchor's logs, for error messages. */
  async logTails(): Promise<string> {
    let text = '';
    for (const [label, file] of [['anchor', this.anchorLog], ['dockerd', this.logFile]] as const) {
      const body = await readFile(file, 'utf8').catch(() => '');
      if (body.trim()) text += `\n--- ${label} log (${file}), last lines ---\n${lastLines(body, 30)}`;
    }
    return text;
  }
}

/** True once the Docker API on `socket` answers GET /_ping with 200. */
function ping(socket: string): Promise<boolean> {
  if (!existsSync(socket)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', method: 'GET', timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function checkPrerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the dockerd harness needs root (network and mount namespaces)');
  const dirs = DAEMON_PATH.split(':');
  const tools = ['dockerd', 'containerd', 'containerd-shim-runc-v2', 'runc', 'unshare', 'nsenter', 'setpriv', 'ip', 'iptables'];
  const missing = tools.filter((tool) => !dirs.some((d) => existsSync(join(d, tool))));
  if (DOCKER_CLI.startsWith('/') && !existsSync(DOCKER_CLI)) missing.push(DOCKER_CLI);
  if (missing.length > 0) {
    throw new Error(`missing for the dockerd harness: ${missing.join(', ')}; run scripts/install-test-deps.sh`);
  }
}
