// Removes everything a lab made: its processes (graceful first, then by namespace and cgroup),
// cgroups, namespaces and files. Works from the state file when there is one, and from the lab's
// name alone when there is not (a crash before the first write, or a damaged file): every
// namespace `NAME-sw|hN|eN` and the cgroup `/weft-lab.NAME` belong to the lab of that name.
// Used by `lab down`, and by `lab up` before it builds a lab.

import { existsSync, readdirSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { cgroupDirs, pidsInCgroup, removeCgroup } from './cgroups.mjs';
import { stopMember } from './etcd.mjs';
import { docker, stopHostDaemons } from './host.mjs';
import { ownedNetnsPattern } from './layout.mjs';
import { deleteNetns, listNetns, netnsId } from './netns.mjs';
import { isSameAlive, namespaceOf, pidsInNamespaces, run, stopPids } from './proc.mjs';
import { STATE_FILE, readState } from './state.mjs';

/** Files and folders a lab makes in its dir (never anything else is removed from it). */
const OWNED_ENTRY = /^(h\d{1,2}|e\d|bin|docker-cli|busybox-\w+|lab\.json(\.tmp)?)$/;

/** What is there to clean for the lab `name` in `dir` (for `lab up` to say whether it cleaned). */
export function leftovers(name, dir) {
  const found = [];
  if (existsSync(path.join(dir, STATE_FILE))) found.push(path.join(dir, STATE_FILE));
  found.push(...listNetns(ownedNetnsPattern(name)).map((n) => `netns ${n}`));
  found.push(...cgroupDirs(`/weft-lab.${name}`));
  return found;
}

/**
 * Tears the lab down. Tries every step and reports every failure at the end, so that one stuck
 * piece does not leave the rest behind.
 */
export async function teardown(name, dir) {
  const errors = [];
  const attempt = async (what, fn) => {
    try {
      await fn();
    } catch (e) {
      errors.push(`${what}: ${e.message}`);
    }
  };
  let state;
  await attempt('read state', async () => {
    state = readState(dir);
  });
  const cgroup = `/weft-lab.${name}`;

  // 1. Containers first, while dockerd and weftd still answer (weft sees the leaves, and dockerd
  //    would otherwise give each container its stop timeout, 10 s by default).
  // 2. Daemons, gracefully and in parallel: dockerd, then weftd, which closes its store.
  if (state) {
    await attempt('remove containers', async () => {
      await Promise.all(state.hosts.filter((h) => h.docker && isSameAlive(h.dockerd)).map((h) => removeContainers(state, h)));
    });
    await attempt('stop daemons', async () => {
      await Promise.all(state.hosts.map((h) => stopHostDaemons(h)));
      // etcd's data goes with the lab: no need to wait for members that try to hand over
      // leadership to peers that are stopping too.
      await Promise.all(state.etcd.map((m) => stopMember(m, { kill: true })));
    });
  }

  // 3. Whatever is left that the lab caused: in its cgroups, in its network namespaces, in the
  //    hosts' mount namespaces (the anchors are found there too). Repeat: a dying containerd
  //    may still start a shim.
  await attempt('stop remaining processes', async () => {
    const mntIds = new Set();
    for (const h of state?.hosts ?? []) {
      if (isSameAlive(h.anchor)) {
        const id = namespaceOf(h.anchor.pid, 'mnt');
        if (id && id !== namespaceOf(process.pid, 'mnt')) mntIds.add(id);
      }
    }
    const netIds = new Set(listNetns(ownedNetnsPattern(name)).map(netnsId).filter(Boolean));
    netIds.delete(namespaceOf(process.pid, 'net'));
    for (let round = 0; round < 6; round++) {
      const pids = new Set([...pidsInCgroup(cgroup), ...pidsInNamespaces('net', netIds), ...pidsInNamespaces('mnt', mntIds)]);
      pids.delete(process.pid);
      if (pids.size === 0) return;
      await stopPids([...pids], { graceMs: 3_000 });
    }
    throw new Error('processes kept appearing in the lab');
  });

  await attempt('remove cgroups', () => removeCgroup(cgroup));

  await attempt('delete namespaces', async () => {
    const names = new Set(listNetns(ownedNetnsPattern(name)));
    for (const n of names) await deleteNetns(n);
  });

  // 4. Mounts: all of them lived in the hosts' own mount namespaces, which are gone now. One seen
  //    from here below the lab dir would be a bug; take it away before removing files under it.
  await attempt('unmount', async () => {
    for (const m of mountsBelow(dir).reverse()) await run(['umount', '-l', m], { timeoutMs: 10_000 });
  });

  await attempt('remove files', async () => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir)) {
      if (OWNED_ENTRY.test(entry)) rmSync(path.join(dir, entry), { recursive: true, force: true, maxRetries: 3 });
    }
  });

  if (errors.length > 0) throw new Error(`lab down (${name}, ${dir}) left something behind:\n  ${errors.join('\n  ')}`);
}

async function removeContainers(state, host) {
  const ps = await docker(state, host, ['ps', '-aq'], { timeoutMs: 20_000 });
  const ids = ps.stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await docker(state, host, ['rm', '-f', ...ids], { timeoutMs: 60_000 });
}

/** After the lock is released: the lab dir itself, if nothing else is in it. */
export function removeDirIfEmpty(dir) {
  try {
    rmdirSync(dir);
  } catch {
    // not empty (someone else's files) or already gone
  }
}

/** Mount points at or below `dir` in this mount namespace. */
export function mountsBelow(dir) {
  const out = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = mp.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    if (p === dir || p.startsWith(`${dir}/`)) out.push(p);
  }
  return out;
}
