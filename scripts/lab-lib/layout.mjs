// The lab's layout, as data: names, addresses and paths of every node, computed from the options
// of `lab up` alone (pure: no I/O). The result is what lab.json records, plus the PIDs that the
// commands fill in as they start things.
//
//   switch   NAME-sw    bridge br0, one port per node (port name = node name), no address, no uplink
//   etcd     NAME-e1..3 eth0 = 198.18.0.2..4/24, client :2379, peer :2380
//   hosts    NAME-h1..N eth0 = 198.18.0.11../24, weftd (+ dockerd) in the host's own mount + UTS ns
//
// 198.18.0.0/15 is reserved for benchmarking (RFC 2544): it is never routed on the Internet and
// is unlikely to clash with a real network on the machine. No node has a default route.

import path from 'node:path';

export const STATE_VERSION = 1;
export const UNDERLAY_NET = '198.18.0.0';
export const UNDERLAY_PREFIX = 24;
export const SWITCH_BRIDGE = 'br0';
export const UPLINK = 'eth0';
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const MAX_HOSTS = 50;
export const DEFAULT_NAME = 'weft';
export const DEFAULT_MTU = 1500;
/** Unix socket paths are limited to 107 bytes; containerd adds the longest tail below. */
const MAX_SOCKET_PATH = 100;
const LONGEST_SOCKET_TAIL = '/docker/exec/containerd/containerd.sock.ttrpc';

export class UsageError extends Error {}

/**
 * A lab name prefixes every namespace (`NAME-h12` must fit the kernel's 15 characters with room),
 * the cgroup and the default run dir, so it is short and plain.
 */
export function validateName(name) {
  if (typeof name !== 'string' || !/^[a-z][a-z0-9-]{0,7}$/.test(name)) {
    throw new UsageError(`bad lab name ${JSON.stringify(name)}: 1 to 8 characters, a-z 0-9 '-', starting with a letter`);
  }
  return name;
}

export function defaultDir(name) {
  return `/run/weft-lab/${name}`;
}

export function validateDir(dir) {
  if (typeof dir !== 'string' || !path.isAbsolute(dir) || path.normalize(dir) !== dir || dir === '/' || /[\0\n]/.test(dir)) {
    throw new UsageError(`bad lab dir ${JSON.stringify(dir)}: an absolute, normalized path other than /`);
  }
  if ((dir + '/h50' + LONGEST_SOCKET_TAIL).length > MAX_SOCKET_PATH) {
    throw new UsageError(`lab dir ${dir} is too long for unix socket paths below it (keep it under ${MAX_SOCKET_PATH - LONGEST_SOCKET_TAIL.length - 4} characters)`);
  }
  return dir;
}

export function intIn(what, value, min, max) {
  const n = typeof value === 'number' ? value : /^\d+$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`bad ${what} ${JSON.stringify(value)}: a whole number from ${min} to ${max}`);
  return n;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function validateLogLevel(l) {
  if (!LOG_LEVELS.includes(l)) throw new UsageError(`bad --log-level ${JSON.stringify(l)}: ${LOG_LEVELS.join(', ')}`);
  return l;
}

export function hostAddr(i) {
  return `198.18.0.${10 + i}`;
}

export function etcdAddr(j) {
  return `198.18.0.${1 + j}`;
}

/** The etcd:// store URL weftd gets, listing every member. */
export function etcdStoreUrl(etcd) {
  return `etcd://${etcd.map((m) => `${m.addr}:${ETCD_CLIENT_PORT}`).join(',')}`;
}

/**
 * Validated options of `lab up` -> the lab state without PIDs.
 * opts: { name, dir, hosts, etcd, docker, mtu, store, hostTtl?, hostDeadAfter?, weftdArgs[], logLevel, repo, node }
 */
export function planLab(opts) {
  const name = validateName(opts.name);
  const dir = validateDir(opts.dir);
  const hosts = intIn('--hosts', opts.hosts, 1, MAX_HOSTS);
  const store = opts.store;
  if (store !== 'etcd' && store !== 'local') throw new UsageError(`bad --store ${JSON.stringify(store)}: etcd or local`);
  const etcdCount = opts.etcd === undefined ? (store === 'etcd' ? 1 : 0) : intIn('--etcd', opts.etcd, 0, 3);
  if (![0, 1, 3].includes(etcdCount)) throw new UsageError(`bad --etcd ${etcdCount}: 1 or 3 members (a 2-member cluster cannot lose any)`);
  if (store === 'etcd' && etcdCount === 0) throw new UsageError('--store etcd needs --etcd 1 or 3');
  const mtu = intIn('--mtu', opts.mtu ?? DEFAULT_MTU, 576, 9216);
  const cgroup = `/weft-lab.${name}`;

  const etcd = [];
  for (let j = 1; j <= etcdCount; j++) {
    const d = path.join(dir, `e${j}`);
    etcd.push({
      name: `e${j}`,
      kind: 'etcd',
      netns: `${name}-e${j}`,
      addr: etcdAddr(j),
      dir: d,
      dataDir: path.join(d, 'data'),
      log: path.join(d, 'etcd.log'),
      cgroup: `${cgroup}/e${j}/lab`,
      etcd: null,
    });
  }
  const hostList = [];
  for (let i = 1; i <= hosts; i++) {
    const d = path.join(dir, `h${i}`);
    hostList.push({
      name: `h${i}`,
      kind: 'host',
      netns: `${name}-h${i}`,
      addr: hostAddr(i),
      dir: d,
      stateDir: path.join(d, 'state'),
      socket: path.join(d, 'weft.sock'),
      pluginDir: path.join(d, 'plugins'),
      netnsDir: path.join(d, 'netns'),
      anchorLog: path.join(d, 'anchor.log'),
      weftdLog: path.join(d, 'weftd.log'),
      cgroup: `${cgroup}/h${i}/lab`,
      docker: opts.docker
        ? {
            root: path.join(d, 'docker'),
            socket: path.join(d, 'docker.sock'),
            log: path.join(d, 'dockerd.log'),
            cgroupParent: `${cgroup}/h${i}/docker`,
          }
        : null,
      anchor: null,
      weftd: null,
      dockerd: null,
    });
  }
  return {
    version: STATE_VERSION,
    name,
    dir,
    createdAt: new Date().toISOString(),
    repo: opts.repo,
    node: opts.node,
    options: {
      hosts,
      etcd: etcdCount,
      docker: Boolean(opts.docker),
      mtu,
      store,
      hostTtl: opts.hostTtl === undefined ? undefined : intIn('--host-ttl', opts.hostTtl, 1, 3600),
      hostDeadAfter: opts.hostDeadAfter === undefined ? undefined : intIn('--host-dead-after', opts.hostDeadAfter, 1, 86_400),
      weftdArgs: opts.weftdArgs ?? [],
      logLevel: validateLogLevel(opts.logLevel ?? 'debug'),
    },
    underlay: { cidr: `${UNDERLAY_NET}/${UNDERLAY_PREFIX}`, bridge: SWITCH_BRIDGE, mtu },
    switch: { name: 'sw', kind: 'switch', netns: `${name}-sw` },
    cgroup,
    etcd,
    hosts: hostList,
  };
}

/** Every namespace a lab of this name may have made (for clean-up without a state file). */
export function ownedNetnsPattern(name) {
  const esc = name.replace(/[-]/g, '\\-');
  return new RegExp(`^${esc}-(sw|h\\d{1,2}|e\\d)$`);
}

/** A node of the state by its name (h2, e1, sw). */
export function findNode(state, nodeName) {
  if (nodeName === 'sw' || nodeName === 'switch') return state.switch;
  return [...state.hosts, ...state.etcd].find((n) => n.name === nodeName);
}
