// The test dockerd puts its containers under a cgroup parent of its own (`--cgroup-parent /NAME`),
// so the harness can find every container process it caused, and remove the cgroup directories
// afterwards, without touching anything else on the machine. Works for cgroup v1, v2 and hybrid.

import { readFileSync, readdirSync, rmdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './process.js';

/** Mount points of every cgroup hierarchy (v1 controllers, named v1 hierarchies, and v2). */
export function cgroupRoots(): string[] {
  const roots: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    // "<id> <parent> <maj:min> <root> <mount point> <opts> [optional...] - <fstype> <source> <superopts>"
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fstype = right.split(' ')[0];
    if (fstype === 'cgroup' || fstype === 'cgroup2') roots.push(unescapeMountPath(left.split(' ')[4]!));
  }
  return roots;
}

/** The directories of cgroup `parent` (e.g. `/wt-abc123`) in every hierarchy where it exists. */
export function cgroupDirs(parent: string): string[] {
  assertParent(parent);
  return cgroupRoots()
    .map((root) => join(root, parent))
    .filter((dir) => existsSync(dir));
}

/** Every PID in cgroup `parent` or below, over all hierarchies. */
export function pidsInCgroup(parent: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string): void => {
    try {
      for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    } catch {
      // removed while we walked: nothing left there
    }
  };
  for (const dir of cgroupDirs(parent)) walk(dir);
  return [...pids];
}

/**
 * Removes cgroup `parent` and its children in every hierarchy, deepest first. A cgroup whose last
 * process has just died can stay busy for a moment, hence the retries.
 */
export async function removeCgroup(parent: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failures: string[] = [];
    for (const dir of cgroupDirs(parent)) removeTree(dir, failures);
    if (failures.length === 0) return;
    if (Date.now() > deadline) throw new Error(`cannot remove cgroups: ${failures.join('; ')}`);
    await sleep(100);
  }
}

function removeTree(dir: string, failures: string[]): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) removeTree(join(dir, e.name), failures);
  try {
    rmdirSync(dir); // a cgroup directory is removed with rmdir even though it lists control files
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') failures.push(`${dir}: ${code}`);
  }
}

function assertParent(parent: string): void {
  if (!/^\/[A-Za-z0-9_.-]+$/.test(parent)) throw new Error(`bad cgroup parent ${JSON.stringify(parent)}`);
}

function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
