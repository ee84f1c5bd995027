// Starts the built weftd (dist/) for integration and e2e tests, inside a namespace the test made,
// with its own state dir, sockets and plugin dir under a temp folder, and runs the built `weft`
// CLI against it. Processes are ended by PID only.

import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Netns, NetnsScope } from './netns.js';
import { isAlive, killPids, run, sleep, spawnLogged, type RunResult, type SpawnedProcess } from './process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const WEFTD_JS = path.join(ROOT, 'dist/src/daemon/main.js');
export const WEFT_JS = path.join(ROOT, 'dist/src/cli/main.js');

export function assertBuilt(): void {
  if (!existsSync(WEFTD_JS) || !existsSync(WEFT_JS)) {
    throw new Error(`weft is not built (${WEFTD_JS} missing): run \`npm run build\` first (scripts/test does)`);
  }
}

export interface WeftdOptions {
  /** Prefix that puts weftd in its namespaces, e.g. ['ip','netns','exec','wt-x'] or a dockerd handle's nsenter argv. */
  prefix: string[];
  /** Reuse a state dir (restart tests); a fresh temp dir otherwise. */
  dir?: string;
  /** Extra weftd flags. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Where weftd puts Docker plugin sockets (default <dir>/plugins). */
  pluginDir?: string;
}

export class WeftdHandle {
  proc?: SpawnedProcess;

  constructor(
    readonly opts: WeftdOptions,
    readonly dir: string,
    readonly ownsDir: boolean,
  ) {}

  get socket(): string {
    return path.join(this.dir, 'weft.sock');
  }
  get stateDir(): string {
    return path.join(this.dir, 'state');
  }
  get pluginDir(): string {
    return this.opts.pluginDir ?? path.join(this.dir, 'plugins');
  }
  get logFile(): string {
    return path.join(this.dir, 'weftd.log');
  }
  get pid(): number {
    if (!this.proc) throw new Error('weftd is not running');
    return this.proc.pid;
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  async start(): Promise<void> {
    const argv = [
      ...this.opts.prefix,
      process.execPath,
      WEFTD_JS,
      '--state-dir', this.stateDir,
      '--socket', this.socket,
      '--plugin-dir', this.pluginDir,
      '--log-level', 'debug',
      // A test's weftd never talks to a machine-wide Docker engine (/var/run/docker.sock); a
      // test that wants docker-sync passes --docker-sync and --docker-socket in args (later wins).
      '--docker-sync=off',
      // Nor does `weft check` compare with one: a socket path that never exists.
      '--docker-socket', path.join(this.stateDir, 'no-docker.sock'),
      ...(this.opts.args ?? []),
    ];
    // The log is appended across restarts: only a "ready" written after this start counts.
    const offset = this.log().length;
    this.proc = await spawnLogged(argv, { logFile: this.logFile, env: { ...process.env, ...this.opts.env } });
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (!isAlive(this.proc.pid)) throw new Error(`weftd exited during start-up:\n${this.log().slice(-3000)}`);
      if (this.log().slice(offset).includes('"weftd ready"')) return;
      await sleep(50);
    }
    throw new Error(`weftd did not become ready in 20 s:\n${this.log().slice(-3000)}`);
  }

  /** SIGKILL: the crash case. */
  async kill9(): Promise<void> {
    if (!this.proc) return;
    process.kill(this.proc.pid, 'SIGKILL');
    await this.proc.exited;
    this.proc = undefined;
  }

  /** SIGTERM and wait; returns the exit status. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
    if (!this.proc) return undefined;
    const proc = this.proc;
    this.proc = undefined;
    process.kill(proc.pid, 'SIGTERM');
    const done = await Promise.race([proc.exited, sleep(15_000).then(() => undefined)]);
    if (!done) await killPids([proc.pid]);
    return done;
  }

  /** Runs the built CLI against this daemon. */
  cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    return run([process.execPath, WEFT_JS, '--host', `unix://${this.socket}`, ...args], { env: { ...process.env, ...env }, timeoutMs: 30_000 });
  }

  /** Runs the CLI, failing the test with its stderr on a non-zero exit. */
  async cliOk(args: string[]): Promise<string> {
    const r = await this.cli(args);
    if (r.code !== 0) throw new Error(`weft ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  async cleanup(): Promise<void> {
    if (this.proc) await killPids([this.proc.pid]);
    this.proc = undefined;
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true });
  }
}

export async function startWeftd(opts: WeftdOptions): Promise<WeftdHandle> {
  assertBuilt();
  const dir = opts.dir ?? (await mkdtemp(path.join(tmpdir(), 'weftd-test-')));
  const h = new WeftdHandle(opts, dir, opts.dir === undefined);
  try {
    await h.start();
  } catch (e) {
    await h.cleanup();
    throw e;
  }
  return h;
}

/**
 * weftd inside a test namespace (`ip netns exec NAME`), as the integration tests run it; `scope`
 * ends it (and removes its temp dir) before it deletes the namespace.
 */
export async function startWeftdInNetns(scope: NetnsScope, ns: Netns, opts: Omit<WeftdOptions, 'prefix'> = {}): Promise<WeftdHandle> {
  const weftd = await startWeftd({ prefix: ['ip', 'netns', 'exec', ns.name], ...opts });
  scope.defer(() => weftd.cleanup());
  return weftd;
}
