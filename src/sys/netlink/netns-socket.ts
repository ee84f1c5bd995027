// An rtnetlink socket inside another network namespace, made without a process: the native call
// (native/netns.c) runs `createRtNetlink()` with the calling thread in the target namespace for
// that one socket(2) call and puts it back; the socket then stays bound to the target namespace
// and is used from weftd's own. This is what lets an attach configure the container side
// (name, addresses, routes) with netlink instead of spawning `ip -n` or `nsenter` (issue 8).
//
// Optional: the native file is built by scripts/build-native.mjs; when it is missing (no C
// compiler at build time) or does not load, loadNetnsNative() says why and callers keep the
// iproute2 path.

import { closeSync, existsSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as Netlink from 'netlink';
import { ErrorCodes, WeftError } from '../../model/errors.js';
import type { SandboxRef } from '../../model/network.js';

export interface NetnsNative {
  withNetns<T>(fd: number, fn: () => T): T;
}

const require = createRequire(import.meta.url);

/** dist/native/netns.node seen from dist/src/sys/netlink (the daemon) or from src/sys/netlink (tests). */
const CANDIDATES = ['../../../native/netns.node', '../../../dist/native/netns.node'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));

/** Loads the native call; throws (with the reason) when it is not built or does not load. */
export function loadNetnsNative(): NetnsNative {
  const file = CANDIDATES.find((f) => existsSync(f));
  if (!file) throw new Error(`native/netns.node is not built (looked for ${CANDIDATES.join(', ')}; scripts/build-native.mjs builds it)`);
  const mod = require(file) as Partial<NetnsNative>;
  if (typeof mod.withNetns !== 'function') throw new Error(`${file} has no withNetns`);
  return mod as NetnsNative;
}

/** An rtnetlink socket living in the namespace at ref.path. */
export function openRtNetlinkIn(nl: typeof Netlink, native: NetnsNative, ref: SandboxRef): Netlink.RtNetlinkSocket {
  let fd: number;
  try {
    fd = openSync(ref.path, 'r');
  } catch (e) {
    throw new WeftError(ErrorCodes.NETNS_NOT_FOUND, `network namespace ${ref.name ?? ref.path} does not exist`, { cause: e });
  }
  try {
    return native.withNetns(fd, () => nl.createRtNetlink());
  } catch (e) {
    // setns refuses a file that is not a network namespace (EINVAL).
    throw new WeftError(ErrorCodes.NETNS_NOT_FOUND, `${ref.path} is not a network namespace weft can enter: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  } finally {
    closeSync(fd);
  }
}
