// Clean-up after a test process that died without calling DockerdHandle.stop() (a killed vitest
// worker, a CI timeout). The kernel then ends the anchor and dockerd (they run with a parent-death
// signal) and dockerd's containerd, but containerd-shim processes, containers, the netns, the
// cgroups and the temp dir stay. Every handle writes `owner.json` into its temp dir; the next
// startDockerd (or a direct call) removes whatever belongs to a handle whose owner is gone.
// Processes are ended by PID and only when provably the handle's: their command line names the
// handle's unique temp dir (shims do), or they sit in its unique cgroup parent (containers).

import { readFileSync, readdirSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidsInCgroup, removeCgroup } from './cgroups.js';
import { assertName, deleteNetns } from './netns.js';
import { killPids, pidsWithCmdline } from './process.js';

export const OWNER_FILE = 'owner.json';
export const TMP_PREFIX = 'wtd-';

export interface Owner {
  /** The test process that made the handle, and its start time (PIDs get reused). */
  pid: number;
  startTime: string;
  netns: string;
  cgroupParent: string;
}

export async function writeOwner(tmpDir: string, netns: string, cgroupParent: string): Promise<void> {
  const owner: Owner = { pid: process.pid, startTime: startTimeOf(process.pid) ?? '', netns, cgroupParent };
  await writeFile(join(tmpDir, OWNER_FILE), `${JSON.stringify(owner)}\n`);
}

/** Removes the leftovers of every handle whose owning process has gone; returns the dirs cleaned. */
export async function sweepOrphans(parent = tmpdir()): Promise<string[]> {
  const cleaned: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(parent).filter((e) => e.startsWith(TMP_PREFIX));
  } catch {
    return cleaned;
  }
  for (const entry of entries) {
    const dir = join(parent, entry);
    const owner = await readOwner(dir);
    if (!owner || ownerAlive(owner)) continue;
    await sweepOne(dir, owner);
    cleaned.push(dir);
  }
  return cleaned;
}

async function sweepOne(dir: string, owner: Owner): Promise<void> {
  const pids = new Set([...(await pidsWithCmdline(dir)), ...pidsInCgroup(owner.cgroupParent)]);
  await killPids([...pids], 1_000);
  await removeCgroup(owner.cgroupParent);
  await deleteNetns(owner.netns);
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

async function readOwner(dir: string): Promise<Owner | undefined> {
  try {
    const o = JSON.parse(await readFile(join(dir, OWNER_FILE), 'utf8')) as Owner;
    if (!Number.isInteger(o.pid) || typeof o.startTime !== 'string') return undefined;
    assertName(o.netns);
    if (!/^\/[A-Za-z0-9_.-]+$/.test(o.cgroupParent)) return undefined;
    return o;
  } catch {
    return undefined; // no owner file (a handle still booting, or not ours): leave it alone
  }
}

function ownerAlive(o: Owner): boolean {
  const now = startTimeOf(o.pid);
  return now !== undefined && now === o.startTime;
}

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot; with the PID, unique. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
