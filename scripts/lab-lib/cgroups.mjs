// Every process the lab starts (anchors, daemons, etcd, `lab exec` commands and whatever they
// fork) is put into a cgroup of the lab, `/weft-lab.NAME/<node>/lab`, and dockerd puts its
// containers below `/weft-lab.NAME/<node>/docker`. `lab down` then finds every process the lab
// caused, even one that left the host's namespaces (`ip netns exec c1 ... &`), and removes the
// cgroups. Works with cgroup v1 (tracked in the `pids` hierarchy, or the first one), v2 and hybrid.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { sleep } from './proc.mjs';

function assertCgroup(cg) {
  if (typeof cg !== 'string' || !/^(\/[A-Za-z0-9_.-]+)+$/.test(cg) || cg.split('/').includes('..')) {
    throw new Error(`bad cgroup path ${JSON.stringify(cg)}`);
  }
  return cg;
}

/** [{root, fstype, options}] of every cgroup hierarchy. */
function hierarchies() {
  const out = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const [fstype, , superOpts = ''] = right.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const root = left.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    out.push({ root, fstype, options: superOpts.split(',') });
  }
  return out;
}

/**
 * The hierarchy that tracks lab processes: with any v1 controller mounted (v1 or hybrid), v1's
 * `pids` (or the first v1 one), since on a hybrid machine the v2 tree holds no controllers and
 * dockerd works in v1; on a pure v2 machine, the v2 tree.
 */
export function trackingRoot() {
  const all = hierarchies();
  const v1 = all.filter((h) => h.fstype === 'cgroup' && !h.options.some((o) => o.startsWith('name=')));
  const pick = v1.find((h) => h.options.includes('pids')) ?? v1[0] ?? all.find((h) => h.fstype === 'cgroup2');
  return pick?.root;
}

/** The cgroup.procs file a process must write itself into to join `cg` (made if needed); undefined without cgroups. */
export function procsFileFor(cg) {
  const root = trackingRoot();
  if (!root) return undefined;
  const dir = path.join(root, assertCgroup(cg));
  mkdirSync(dir, { recursive: true });
  return path.join(dir, 'cgroup.procs');
}

/** argv prefix that moves the command into cgroup `cg` before it runs (a fixed script; arguments stay argv). */
export function inCgroupArgv(cg, argv) {
  const procs = procsFileFor(cg);
  if (!procs) return argv;
  return ['/bin/sh', '-c', 'echo $$ > "$0" || exit 125; exec "$@"', procs, ...argv];
}

/** Every PID in `cg` or below, over all hierarchies. */
export function pidsInCgroup(cg) {
  assertCgroup(cg);
  const pids = new Set();
  const walk = (dir) => {
    let entries;
    try {
      for (const p of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // removed while we walked
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
  };
  for (const h of hierarchies()) {
    const dir = path.join(h.root, cg);
    if (existsSync(dir)) walk(dir);
  }
  pids.delete(process.pid);
  return [...pids];
}

/** Removes `cg` and everything below it in every hierarchy, deepest first (retrying: a cgroup stays busy a moment after its last process). */
export async function removeCgroup(cg, timeoutMs = 5_000) {
  assertCgroup(cg);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failures = [];
    for (const h of hierarchies()) {
      const dir = path.join(h.root, cg);
      if (existsSync(dir)) removeTree(dir, failures);
    }
    if (failures.length === 0) return;
    if (Date.now() > deadline) throw new Error(`cannot remove cgroups: ${failures.join('; ')}`);
    await sleep(100);
  }
}

/** Directories of `cg` that still exist (for checks). */
export function cgroupDirs(cg) {
  assertCgroup(cg);
  return hierarchies()
    .map((h) => path.join(h.root, cg))
    .filter((d) => existsSync(d));
}

function removeTree(dir, failures) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) removeTree(path.join(dir, e.name), failures);
  try {
    rmdirSync(dir); // a cgroup directory goes with rmdir although it lists control files
  } catch (e) {
    if (e.code !== 'ENOENT') failures.push(`${dir}: ${e.code}`);
  }
}
