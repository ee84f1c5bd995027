// Network namespace references. The daemon never enters a namespace itself (Node has no safe
// per-thread setns): a namespace is named by path, and commands that must run inside it are
// prefixed with `ip -n NAME` or `nsenter --net=PATH`.

import { stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, WeftError } from '../model/errors.js';
import type { SandboxRef } from '../model/network.js';

export const NETNS_DIR = '/var/run/netns';

/** Names `ip netns add` accepts, without anything that could climb out of NETNS_DIR. */
export function isValidNetnsName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/.test(name) && name !== '.' && name !== '..';
}

/**
 * Turns what a user typed (a namespace name, or a path) into a SandboxRef. Pure: checks only the
 * syntax. A path must be absolute and normalized (no `..`, no `//`), so that what is recorded is
 * what the kernel will open.
 */
export function parseNetnsArg(arg: string): SandboxRef {
  if (typeof arg !== 'string' || arg.length === 0) {
    throw new WeftError(ErrorCodes.INVALID_NAME, 'network namespace is empty: give a name (ns1) or a path (/var/run/netns/ns1, /proc/PID/ns/net)');
  }
  if (arg.includes('\0') || /[\n\r]/.test(arg)) {
    throw new WeftError(ErrorCodes.INVALID_NAME, `network namespace ${JSON.stringify(arg)} contains control characters`);
  }
  if (arg.includes('/')) {
    if (!path.isAbsolute(arg) || path.normalize(arg) !== arg || arg.endsWith('/') || arg.split('/').includes('..')) {
      throw new WeftError(ErrorCodes.INVALID_NAME, `network namespace path ${JSON.stringify(arg)} must be absolute and normalized`);
    }
    return { path: arg };
  }
  if (!isValidNetnsName(arg)) {
    throw new WeftError(ErrorCodes.INVALID_NAME, `network namespace name ${JSON.stringify(arg)} is not valid: use letters, digits, '_', '.', '-'`);
  }
  return { path: `${NETNS_DIR}/${arg}`, name: arg };
}

export interface NetnsIdentity {
  dev: number;
  ino: number;
}

/** The namespace's identity (nsfs device + inode): equal identities are the same namespace. */
export async function netnsIdentity(nsPath: string): Promise<NetnsIdentity> {
  try {
    const st = await stat(nsPath);
    return { dev: st.dev, ino: st.ino };
  } catch (e) {
    throw new WeftError(ErrorCodes.NETNS_NOT_FOUND, `network namespace ${nsPath} does not exist`, { cause: e });
  }
}

/** statfs type of nsfs: what a network namespace file (bind mount, /proc/PID/ns/net) reports. */
const NSFS_MAGIC = 0x6e736673;

/** False when the path is gone (ENOENT), or is a plain file with no namespace mounted on it: Docker
 *  unmounts a dead sandbox's namespace at once but deletes the file up to a minute later. Any
 *  other failure counts as "still there", so a transient error never deletes a live endpoint. */
export async function netnsPathExists(nsPath: string): Promise<boolean> {
  try {
    const fs = await statfs(nsPath);
    return fs.type === NSFS_MAGIC;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

export interface NetnsOps {
  /** Throws NETNS_NOT_FOUND unless the path is an existing network namespace. */
  verify(ref: SandboxRef): Promise<NetnsIdentity>;
  /** True when the namespace is the one weftd runs in (the "host" namespace). */
  isHostNamespace(ref: SandboxRef): Promise<boolean>;
}

export const NetnsOpsToken = Symbol.for('weft.NetnsOps');

export class LinuxNetnsOps implements NetnsOps {
  async verify(ref: SandboxRef): Promise<NetnsIdentity> {
    const [id, self] = await Promise.all([netnsIdentity(ref.path), netnsIdentity('/proc/self/ns/net')]);
    // Namespace files live on the nsfs pseudo filesystem: a file on any other device is no
    // namespace. (This is a stat, not a spawn: `nsenter --net=PATH true` cost 2-3 ms per attach.
    // A namespace of another type would still pass here; the kernel refuses to move a link into it.)
    if (id.dev !== self.dev) {
      throw new WeftError(ErrorCodes.NETNS_NOT_FOUND, `${ref.path} is not a network namespace`);
    }
    if (/^\/proc\/\d+\/(task\/\d+\/)?ns\//.test(ref.path) && !ref.path.endsWith('/ns/net')) {
      throw new WeftError(ErrorCodes.NETNS_NOT_FOUND, `${ref.path} is not a network namespace (use /proc/PID/ns/net)`);
    }
    return id;
  }

  async isHostNamespace(ref: SandboxRef): Promise<boolean> {
    const [target, self] = await Promise.all([netnsIdentity(ref.path), netnsIdentity('/proc/self/ns/net')]);
    return target.dev === self.dev && target.ino === self.ino;
  }
}
