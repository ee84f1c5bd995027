// Processes for the lab: short commands from argv arrays with a timeout, long-lived daemons that
// outlive the `lab` command (detached, output to a log file), and signals by PID only. A PID is
// recorded together with the process's start time, and every signal first checks that the PID
// still names that same process (PIDs are reused). Nothing here builds a shell string.

import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { constants } from 'node:os';

export const DEFAULT_TIMEOUT_MS = 10_000;

/** PATH for the daemons and the tools the lab calls (ip, nsenter, dockerd, iptables...). */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Runs argv (no shell); resolves {stdout, stderr, code} whatever the exit code. Rejects when the
 * command cannot start or runs out of time (it is then killed).
 */
export function run(argv, opts = {}) {
  assertArgv(argv);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${formatArgv(argv)}: cannot start: ${e.message}`));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      const result = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code: code ?? 128 + signalNumber(sig),
      };
      if (timedOut) reject(new Error(`${formatArgv(argv)}: timed out after ${timeoutMs} ms (killed)`));
      else resolve(result);
    });
    if (opts.input !== undefined) {
      child.stdin.on('error', () => undefined); // EPIPE when the command exits without reading
      child.stdin.end(opts.input);
    }
  });
}

/** Like run(), but a non-zero exit is an error carrying the command's stderr. */
export async function runOk(argv, opts = {}) {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new Error(`${formatArgv(argv)} exited with ${r.code}: ${lastLines(r.stderr || r.stdout, 15)}`);
  }
  return r;
}

/**
 * Starts a daemon that must outlive this process: its own session (no terminal signals reach it),
 * stdin closed, stdout and stderr appended to `logFile`. Returns its identity {pid, start}.
 */
export function spawnDaemon(argv, { logFile, env, cwd }) {
  assertArgv(argv);
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(argv[0], argv.slice(1), { env, cwd, detached: true, stdio: ['ignore', fd, fd] });
    return new Promise((resolve, reject) => {
      child.once('error', (e) => reject(new Error(`${formatArgv(argv)}: cannot start: ${e.message}`)));
      child.once('spawn', () => {
        child.unref();
        resolve({ pid: child.pid, start: startTimeOf(child.pid) ?? '' });
      });
    });
  } finally {
    closeSync(fd); // the child holds its own copy
  }
}

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot. With the PID, unique. */
export function startTimeOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True while the process exists and has not ended (a zombie has ended; only its reaping is left). */
export function isAlive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** True when {pid, start} (as recorded in the lab state) is still that very process and alive. */
export function isSameAlive(ident) {
  if (!ident || !Number.isInteger(ident.pid) || ident.pid <= 1) return false;
  // An empty start time means the process had already gone when it was recorded.
  return Boolean(ident.start) && isAlive(ident.pid) && startTimeOf(ident.pid) === ident.start;
}

/** Sends a signal to a PID, ignoring one that has gone. */
export function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if (e.code !== 'ESRCH') throw e;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls until every PID has ended; returns those still alive at the deadline. */
export async function waitForExit(pids, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(50);
    alive = alive.filter(isAlive);
  }
  return alive;
}

/**
 * Ends the recorded processes: `sig` (SIGTERM by default), up to `graceMs`, then SIGKILL. Only
 * PIDs that still are the recorded process are touched. Throws if one survives SIGKILL.
 */
export async function stopIdents(idents, { sig = 'SIGTERM', graceMs = 10_000 } = {}) {
  const pids = idents.filter(isSameAlive).map((i) => i.pid);
  await stopPids(pids, { sig, graceMs });
}

/** Like stopIdents for PIDs the caller has just proved are the lab's (found in its namespaces or cgroups). */
export async function stopPids(pids, { sig = 'SIGTERM', graceMs = 5_000 } = {}) {
  const targets = pids.filter(isAlive);
  if (targets.length === 0) return;
  for (const pid of targets) signal(pid, sig);
  const stubborn = sig === 'SIGKILL' ? targets : await waitForExit(targets, graceMs);
  for (const pid of stubborn) signal(pid, 'SIGKILL');
  const left = await waitForExit(stubborn, 10_000);
  if (left.length > 0) throw new Error(`processes ${left.join(', ')} survived SIGKILL`);
}

/** The namespace identity of a process, e.g. `net:[4026532246]`; undefined once it has gone. */
export function namespaceOf(pid, kind) {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

/**
 * Every live process whose `kind` namespace is one of `ids` (a Set of `net:[N]`/`mnt:[N]`
 * strings). Only meaningful while the caller holds those namespaces (inode numbers are reused).
 */
export function pidsInNamespaces(kind, ids) {
  const pids = [];
  if (ids.size === 0) return pids;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const ns = namespaceOf(pid, kind);
    if (ns && ids.has(ns) && isAlive(pid)) pids.push(pid);
  }
  return pids;
}

export function lastLines(text, n) {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/** argv for people: quoted only where needed, never fed to a shell. */
export function formatArgv(argv) {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

function assertArgv(argv) {
  if (!Array.isArray(argv) || argv.length === 0 || !argv[0]) throw new Error('argv must name a program');
  for (const a of argv) {
    if (typeof a !== 'string' || a.includes('\0')) throw new Error(`bad argument in ${JSON.stringify(argv)}`);
  }
}

function signalNumber(sig) {
  return sig ? (constants.signals[sig] ?? 0) : 0;
}
