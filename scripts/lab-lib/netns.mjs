// Network namespaces and links of the lab, through `ip` (argv arrays only). Names are checked
// before they reach argv or a /run/netns path.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { run, runOk } from './proc.mjs';

const NETNS_DIR = '/run/netns';
const IP_TIMEOUT_MS = 10_000;

export function assertLinkName(name) {
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(name)) {
    throw new Error(`bad namespace or link name ${JSON.stringify(name)}`);
  }
  return name;
}

export function netnsPath(name) {
  return `${NETNS_DIR}/${assertLinkName(name)}`;
}

export function netnsExists(name) {
  return existsSync(netnsPath(name));
}

/** Names in /run/netns matching `pattern`. */
export function listNetns(pattern) {
  try {
    return readdirSync(NETNS_DIR).filter((n) => pattern.test(n));
  } catch {
    return [];
  }
}

/** `net:[INODE]`, as /proc/PID/ns/net reads, of a named namespace; undefined if it is not there. */
export function netnsId(name) {
  try {
    return `net:[${statSync(netnsPath(name)).ino}]`;
  } catch {
    return undefined;
  }
}

export function ip(args, opts = {}) {
  return runOk(['ip', ...args], { timeoutMs: IP_TIMEOUT_MS, ...opts });
}

export function ipIn(ns, args) {
  return ip(['-n', assertLinkName(ns), ...args]);
}

/** A fresh namespace with lo up. */
export async function createNetns(name) {
  await ip(['netns', 'add', assertLinkName(name)]);
  await ipIn(name, ['link', 'set', 'lo', 'up']);
}

/** Deletes a namespace; one already gone counts as deleted. */
export async function deleteNetns(name) {
  if (!netnsExists(name)) return;
  const r = await run(['ip', 'netns', 'delete', assertLinkName(name)], { timeoutMs: IP_TIMEOUT_MS });
  if (r.code !== 0 && netnsExists(name)) throw new Error(`ip netns delete ${name}: ${r.stderr.trim()}`);
}

/**
 * A veth pair born directly in its two namespaces (so its names never meet the machine's own
 * links): `nodeIf` in `nodeNs` with `cidr`, `portIf` in the switch namespace enslaved to the bridge.
 */
export async function plugIntoSwitch({ switchNs, bridge, portIf, nodeNs, nodeIf, cidr, mtu }) {
  await ip([
    'link', 'add', assertLinkName(nodeIf), 'netns', assertLinkName(nodeNs), 'mtu', String(mtu), 'type', 'veth',
    'peer', 'name', assertLinkName(portIf), 'netns', assertLinkName(switchNs), 'mtu', String(mtu),
  ]);
  await ipIn(switchNs, ['link', 'set', portIf, 'master', bridge, 'up']);
  await ipIn(nodeNs, ['addr', 'add', cidr, 'dev', nodeIf]);
  await ipIn(nodeNs, ['link', 'set', nodeIf, 'up']);
}
