// Process helpers for the integration and e2e tiers: run a command from an argv array with a
// timeout, start a long-lived process with its output in a log file, and end processes by PID.
// Nothing here builds a shell string, and nothing kills by name: the harness only ends processes
// it can prove it started (its own children, or processes inside namespaces and cgroups it made).

import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit code; a process ended by a signal reports 128 + signal number, as a shell would. */
  code: number;
}

export interface RunOptions {
  /** Kill the command (SIGKILL) and reject after this long. Default 10 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to the command's stdin, which is then closed. */
  input?: string | Buffer;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

/** A command that exited non-zero (from `runOk`) or ran out of time (from `run` and `runOk`). */
export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult | undefined,
    reason: string,
  ) {
    const tail = result ? `\n${lastLines(result.stderr || result.stdout, 20)}` : '';
    super(`${formatArgv(argv)}: ${reason}${tail}`);
    this.name = 'CommandError';
  }
}

/**
 * Runs argv[0] with the remaining arguments (no shell). Resolves with the exit code whatever it is;
 * rejects only when the command cannot start or exceeds its timeout (it is then killed).
 */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  assertArgv(argv);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new CommandError(argv, undefined, `cannot start: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: RunResult = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code: code ?? 128 + signalNumber(signal),
      };
      if (timedOut) reject(new CommandError(argv, result, `timed out after ${timeoutMs} ms (killed)`));
      else resolve(result);
    });
    if (opts.input !== undefined) {
      // A command that exits without reading its stdin makes this write fail with EPIPE: not ours to report.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.input);
    }
  });
}

/** Like `run`, but a non-zero exit is an error that carries stderr. */
export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const result = await run(argv, opts);
  if (result.code !== 0) throw new CommandError(argv, result, `exited with code ${result.code}`);
  return result;
}

export interface SpawnLoggedOptions {
  /** stdout and stderr are appended to this file (the child writes it directly: no pipe to drain). */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface SpawnedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly argv: readonly string[];
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a long-lived process whose output goes to a log file. Throws when it cannot start. */
export function spawnLogged(argv: readonly string[], opts: SpawnLoggedOptions): Promise<SpawnedProcess> {
  assertArgv(argv);
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', fd, fd],
    });
    return spawned(child, argv);
  } finally {
    closeSync(fd); // the child holds its own copy
  }
}

/** Wraps a freshly spawned child: resolves once it has a PID, rejects if it could not start. */
export function spawned(child: ChildProcess, argv: readonly string[]): Promise<SpawnedProcess> {
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: null, signal: null }));
  });
  return new Promise((resolve, reject) => {
    child.once('error', (e) => reject(new CommandError(argv, undefined, `cannot start: ${e.message}`)));
    child.once('spawn', () => resolve({ child, pid: child.pid!, argv, exited }));
  });
}

/** True while the process exists and is not a zombie (a zombie has already ended; only its reaping is left). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3 follows the command name, which is in parentheses and may itself contain ') '.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Polls until every PID has ended; returns the PIDs still alive at the deadline. */
export async function waitForExit(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(50);
    alive = alive.filter(isAlive);
  }
  return alive;
}

/**
 * Ends processes by PID: SIGTERM, up to `graceMs` to exit, then SIGKILL. Throws if any survives SIGKILL
 * (a process stuck in the kernel, which the caller should hear about).
 */
export async function killPids(pids: readonly number[], graceMs = 5_000): Promise<void> {
  const targets = pids.filter(isAlive);
  if (targets.length === 0) return;
  for (const pid of targets) signal(pid, 'SIGTERM');
  const stubborn = await waitForExit(targets, graceMs);
  for (const pid of stubborn) signal(pid, 'SIGKILL');
  const left = await waitForExit(stubborn, 10_000);
  if (left.length > 0) throw new Error(`processes ${left.join(', ')} survived SIGKILL`);
}

/** Sends a signal, ignoring a process that has already gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** The namespace identity of a process, e.g. `mnt:[4026532246]`; undefined once it has gone. */
export function namespaceOf(pid: number, kind: 'mnt' | 'net'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

/**
 * Every live process in the given namespace. Only meaningful while something the caller owns keeps
 * that namespace alive: a namespace's inode number may be reused once it is gone.
 */
export function pidsInNamespace(kind: 'mnt' | 'net', id: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if (namespaceOf(pid, kind) === id && isAlive(pid)) pids.push(pid);
  }
  return pids;
}

/** The whole command line of a live process ('' if it has gone). */
export async function cmdlineOf(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Every live PID on the machine whose command line contains `needle`. */
export async function pidsWithCmdline(needle: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if ((await cmdlineOf(pid)).includes(needle) && isAlive(pid)) found.push(pid);
  }
  return found;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Last `n` lines of a text, for error messages. */
export function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/** argv for people: quoted only where needed, never fed to a shell. */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

function assertArgv(argv: readonly string[]): void {
  if (argv.length === 0 || !argv[0]) throw new Error('argv must name a program');
  for (const a of argv) {
    if (typeof a !== 'string' || a.includes('\0')) throw new Error(`bad argument in ${JSON.stringify(argv)}`);
  }
}

function signalNumber(sig: NodeJS.Signals | null): number {
  return sig ? (constants.signals[sig] ?? 0) : 0;
}
