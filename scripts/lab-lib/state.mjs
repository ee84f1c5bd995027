// The lab's state file (RUN_DIR/lab.json) and the lock that keeps two mutating `lab` commands on
// the same lab from interleaving. The state is rewritten (atomically: temp file + rename) after
// every resource is made, so that a crashed `lab up` still leaves a record to clean up from.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { STATE_VERSION, UsageError } from './layout.mjs';
import { isSameAlive, startTimeOf } from './proc.mjs';

export const STATE_FILE = 'lab.json';
const LOCK_FILE = 'lab.lock';

export function statePath(dir) {
  return path.join(dir, STATE_FILE);
}

/** The recorded state, or undefined when there is none; a damaged file is an error naming it. */
export function readState(dir) {
  const file = statePath(dir);
  if (!existsSync(file)) return undefined;
  let s;
  try {
    s = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read lab state ${file}: ${e.message} (\`lab down\` cleans up without it)`);
  }
  if (s?.version !== STATE_VERSION || !Array.isArray(s.hosts) || !Array.isArray(s.etcd)) {
    throw new Error(`lab state ${file} is not a version ${STATE_VERSION} lab state`);
  }
  return s;
}

/** The state of a lab that must exist (for exec, status, stop, start, link). */
export function requireState(dir, name) {
  const s = readState(dir);
  if (!s) throw new UsageError(`no lab "${name}" (no ${statePath(dir)}): run \`lab up\` first`);
  return s;
}

export function writeState(state) {
  mkdirSync(state.dir, { recursive: true });
  const file = statePath(state.dir);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

/**
 * Takes the lab's lock (a file holding our PID and start time) and returns its release function.
 * A lock whose holder has gone is taken over.
 */
export function lock(dir) {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  const me = { pid: process.pid, start: startTimeOf(process.pid) ?? '' };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, JSON.stringify(me));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let holder;
      try {
        holder = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        holder = undefined;
      }
      if (holder && isSameAlive(holder)) {
        throw new UsageError(`lab in ${dir} is busy: another lab command (PID ${holder.pid}) is running`);
      }
      rmSync(file, { force: true }); // stale: its holder has gone
    }
  }
  throw new Error(`cannot take the lab lock ${file}`);
}
