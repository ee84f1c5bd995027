// A weftd of the bench's own: the built dist/, inside a namespace the bench made (its "host"),
// state, socket and plugin dir in a temp folder, log level warn (logging is not what is measured).

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpGet } from '../lab-lib/http.mjs';
import { isAlive, spawnDaemon } from '../lab-lib/proc.mjs';
import { ApiClient, onCleanup, sleep, stopProcess } from './env.mjs';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const WEFTD_JS = path.join(ROOT, 'dist/src/daemon/main.js');
export const WEFT_JS = path.join(ROOT, 'dist/src/cli/main.js');

export function assertBuilt() {
  if (!existsSync(WEFTD_JS) || !existsSync(WEFT_JS)) throw new Error(`weft is not built (${WEFTD_JS} missing): run \`npm run build\` first`);
}

/** Node flags and environment on weftd's interpreter line
 *  (`#!/usr/bin/env -S [NAME=VALUE...] node FLAGS`), so that the bench runs weftd the way
 *  /usr/local/bin/weftd and the systemd unit do. */
export function weftdInterpreter() {
  const first = readFileSync(WEFTD_JS, 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env -S (.*)$/.exec(first);
  const words = m ? m[1].trim().split(/\s+/) : [];
  const at = words.indexOf('node');
  if (at < 0) return { env: {}, flags: [] };
  const env = Object.fromEntries(words.slice(0, at).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  return { env, flags: words.slice(at + 1) };
}

export function weftdNodeFlags() {
  return weftdInterpreter().flags;
}

/** Starts weftd in `hostNs`; resolves {socket, pid, api, dir, logFile}. */
export async function startWeftd(hostNs, { logLevel = 'warn', args = [], dir: reuse } = {}) {
  assertBuilt();
  // `dir` of an earlier start: the same state (a restart).
  const dir = reuse ?? mkdtempSync(path.join(tmpdir(), 'weft-bench-'));
  if (!reuse) onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'weft.sock');
  const logFile = path.join(dir, 'weftd.log');
  const argv = [
    'ip', 'netns', 'exec', hostNs,
    // WEFT_BENCH_WEFTD_FLAGS adds node flags, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile
    // weftd (written when it stops: at the restart, and at the end).
    process.execPath, ...weftdNodeFlags(), ...(process.env.WEFT_BENCH_WEFTD_FLAGS ?? '').split(/\s+/).filter(Boolean), WEFTD_JS,
    '--state-dir', path.join(dir, 'state'),
    '--socket', socket,
    '--plugin-dir', path.join(dir, 'plugins'),
    '--log-level', logLevel,
    ...args,
  ];
  // The machine's WEFT_* settings must not change the bench's daemon.
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WEFT_'))), ...weftdInterpreter().env };
  const ident = await spawnDaemon(argv, { logFile, env });
  onCleanup(() => stopProcess(ident.pid));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await httpGet({ socketPath: socket }, '/v1/version', 1_000);
    if (r?.status === 200) break;
    if (!isAlive(ident.pid)) throw new Error(`weftd exited during start-up (log ${logFile})`);
    if (Date.now() > deadline) throw new Error(`weftd did not answer in 30 s (log ${logFile})`);
    await sleep(50);
  }
  return { socket, pid: ident.pid, api: new ApiClient(socket, 8), dir, logFile, hostNs };
}

/** Resident memory split (MiB): anonymous (weftd's heap and native allocations) and file-backed
 *  (mostly the node binary's pages, shared with every node process). From smaps_rollup. */
export function memoryMiB(pid) {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kb('Rss') / 1024, anonymous: kb('Anonymous') / 1024 };
}

/** Resident memory of a process, in MiB (VmRSS). */
export function rssMiB(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN) / 1024;
}

/** Resident memory (MiB) of weftd's netns relay (its child weft-netns-relay), or undefined while
 *  weftd has not started one. Added to weftd's own so the helper is not left out of the figure. */
export function relayRssMiB(weftdPid) {
  let total;
  for (const t of readdirSync(`/proc/${weftdPid}/task`)) {
    for (const pid of readFileSync(`/proc/${weftdPid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('weft-netns-relay')) total = (total ?? 0) + rssMiB(pid);
      } catch {
        // gone meanwhile
      }
    }
  }
  return total;
}

/**
 * Stops weftd (SIGTERM, as systemd would) and starts it again on the same state; `weftd` is
 * updated in place. Returns the milliseconds from the new start until the API answers: weftd
 * runs the reconciler (restore of every network and endpoint) before it listens.
 */
export async function restartWeftd(weftd) {
  weftd.api.close();
  await stopProcess(weftd.pid);
  const t0 = process.hrtime.bigint();
  const next = await startWeftd(weftd.hostNs, { dir: weftd.dir });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  Object.assign(weftd, next);
  return ms;
}
