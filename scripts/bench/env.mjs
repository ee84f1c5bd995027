// What every benchmark stands on: throw-away network namespaces (made and removed in one `ip -batch`
// each, so 1,000 of them take a second, not ten), processes ended by PID, a clean-up list run on
// exit and on Ctrl-C, the machine-wide fork counter (spawns per operation), and a keep-alive HTTP
// client for weftd's management socket. Shared helpers come from scripts/lab-lib, never test/.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { run, runOk, sleep, stopPids } from '../lab-lib/proc.mjs';

export { run, runOk, sleep };

const cleanups = [];
/** Registers fn to run (last registered first) at the end of the bench or on SIGINT/SIGTERM. */
export function onCleanup(fn) {
  cleanups.push(fn);
}
export async function cleanupAll() {
  while (cleanups.length) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (e) {
      process.stderr.write(`bench: clean-up step failed: ${e.message}\n`);
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    process.stderr.write(`bench: ${sig}: cleaning up\n`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

/** A run-unique name prefix such as `wb3k9-`: namespaces and links of this run start with it. */
export const RUN_ID = `wb${randomBytes(3).toString('hex').slice(0, 4)}`;

export function nsName(tag, i = '') {
  const name = `${RUN_ID}${tag}${i}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(name)) throw new Error(`bad namespace name ${name}`);
  return name;
}

async function ipBatch(lines, tolerant = false) {
  if (lines.length === 0) return;
  const r = await run(['ip', ...(tolerant ? ['-force'] : []), '-batch', '-'], { input: `${lines.join('\n')}\n`, timeoutMs: 120_000 });
  if (r.code !== 0 && !tolerant) throw new Error(`ip -batch failed: ${r.stderr.trim()}`);
}

/** Makes the namespaces and registers their removal. `lo` stays down (attach does not need it;
 *  `withLoopback` sets it up, one `ip` call per namespace). */
export async function createNamespaces(names, { withLoopback = false } = {}) {
  onCleanup(() => deleteNamespaces(names));
  await ipBatch(names.map((n) => `netns add ${n}`));
  if (withLoopback) for (const n of names) await runOk(['ip', '-n', n, 'link', 'set', 'lo', 'up']);
}

export async function deleteNamespaces(names) {
  await ipBatch(names.map((n) => `netns delete ${n}`), true);
}

export function nsExec(ns, argv, opts = {}) {
  return run(['ip', 'netns', 'exec', ns, ...argv], opts);
}

/** Forks since boot, machine-wide (/proc/stat "processes"): the delta over a run counts spawns. */
export function forkCount() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('processes '));
  return Number(line.split(' ')[1]);
}

export function stopProcess(pid) {
  return stopPids([pid], { graceMs: 10_000 });
}

/** JSON over HTTP on a unix socket, keep-alive (like a long-lived client: no connect per call). */
export class ApiClient {
  constructor(socketPath, maxSockets = 8) {
    this.socketPath = socketPath;
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  request(method, path, body) {
    const text = body === undefined ? '' : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { socketPath: this.socketPath, agent: this.agent, method, path, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 500) >= 400) reject(new Error(`${method} ${path}: ${res.statusCode} ${raw}`));
            else resolve(res.headers['content-type']?.startsWith('application/json') ? JSON.parse(raw) : raw);
          });
        },
      );
      req.on('error', reject);
      req.end(text);
    });
  }

  close() {
    this.agent.destroy();
  }
}

/** Times fn in milliseconds (monotonic clock). */
export async function timeMs(fn) {
  const t = process.hrtime.bigint();
  const result = await fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, result };
}

export function say(text) {
  process.stderr.write(`bench: ${text}\n`);
}
