// weftd's configuration. Every setting comes from, in order of precedence: a command-line flag,
// an environment variable (WEFT_<FLAG>), the config file (JSON, --config or WEFT_CONFIG, default
// /etc/weft/weftd.json when it exists), then the default. Pure: the caller reads the file.

import { isIP } from 'node:net';
import { ErrorCodes, WeftError } from '../model/errors.js';
import { parseMetricsAddr } from '../metrics/listen-address.js';

export interface DaemonConfig {
  stateDir: string;
  socket: string;
  /** Group name or numeric gid allowed on the sockets besides root. */
  socketGroup?: string;
  pluginDir: string;
  /** 'local' or 'etcd://host:port[,host:port...]' */
  store: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** --default-address-pool base=CIDR,size=N, repeatable; empty = Docker's defaults. */
  defaultAddressPools: string[];
  advertiseAddr?: string;
  /** etcd client TLS files (absolute paths), for --store etcd:// */
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
  /** Key prefix in etcd; every weft key lives below it. */
  etcdPrefix: string;
  /** Seconds of the host registration lease in the cluster. */
  hostTtl: number;
  /** Seconds a lost host's VTEP may stay silent before the others treat it as gone. */
  hostDeadAfter: number;
  /** Stable host id; default: generated once and kept in <state-dir>/host-id. */
  hostId?: string;
  /** VXLAN UDP port; one for the whole cluster (recorded by the first host, default 4789). */
  vxlanPort?: number;
  /** Seconds between anti-entropy passes over the overlay FDB/neighbour tables. */
  overlayRepairInterval: number;
  /** Transmit checksum offload on weft's VXLAN devices: `auto` (off only when the self-test at
   *  start finds wrong checksums) or `off` (always off, as flannel does). */
  vxlanTxChecksum: 'auto' | 'off';
  /** IP:PORT for /metrics over TCP (explicit address, loopback expected); unset = socket only. */
  metricsAddr?: string;
  /** Seconds between the reconciler's drift checks (firewall flushed, ...). */
  reconcileInterval: number;
  /** docker-sync (docs/overlay.md): give this host's Docker engine a copy of every cluster overlay
   *  network. 'auto': on with the cluster store, whenever the engine socket exists. */
  dockerSync: 'auto' | 'on' | 'off';
  /** The Docker engine's API socket: docker-sync, and `weft check` compares endpoints with Docker
   *  whenever this socket exists. */
  dockerSocket: string;
}

export const DEFAULT_CONFIG: DaemonConfig = {
  stateDir: '/var/lib/weft',
  socket: '/run/weft/weft.sock',
  pluginDir: '/run/docker/plugins',
  store: 'local',
  logLevel: 'info',
  defaultAddressPools: [],
  etcdPrefix: '/weft',
  hostTtl: 15,
  hostDeadAfter: 60,
  reconcileInterval: 10,
  overlayRepairInterval: 10,
  vxlanTxChecksum: 'auto',
  dockerSync: 'auto',
  dockerSocket: '/var/run/docker.sock',
};

export const DEFAULT_CONFIG_FILE = '/etc/weft/weftd.json';

type Key = keyof DaemonConfig;

/** Flag name <-> config key <-> environment variable. */
export const SETTINGS: { key: Key; flag: string; env: string }[] = [
  { key: 'stateDir', flag: 'state-dir', env: 'WEFT_STATE_DIR' },
  { key: 'socket', flag: 'socket', env: 'WEFT_SOCKET' },
  { key: 'socketGroup', flag: 'socket-group', env: 'WEFT_SOCKET_GROUP' },
  { key: 'pluginDir', flag: 'plugin-dir', env: 'WEFT_PLUGIN_DIR' },
  { key: 'store', flag: 'store', env: 'WEFT_STORE' },
  { key: 'logLevel', flag: 'log-level', env: 'WEFT_LOG_LEVEL' },
  { key: 'defaultAddressPools', flag: 'default-address-pool', env: 'WEFT_DEFAULT_ADDRESS_POOL' },
  { key: 'advertiseAddr', flag: 'advertise-addr', env: 'WEFT_ADVERTISE_ADDR' },
  { key: 'etcdCacert', flag: 'etcd-cacert', env: 'WEFT_ETCD_CACERT' },
  { key: 'etcdCert', flag: 'etcd-cert', env: 'WEFT_ETCD_CERT' },
  { key: 'etcdKey', flag: 'etcd-key', env: 'WEFT_ETCD_KEY' },
  { key: 'etcdPrefix', flag: 'etcd-prefix', env: 'WEFT_ETCD_PREFIX' },
  { key: 'hostTtl', flag: 'host-ttl', env: 'WEFT_HOST_TTL' },
  { key: 'hostDeadAfter', flag: 'host-dead-after', env: 'WEFT_HOST_DEAD_AFTER' },
  { key: 'hostId', flag: 'host-id', env: 'WEFT_HOST_ID' },
  { key: 'vxlanPort', flag: 'vxlan-port', env: 'WEFT_VXLAN_PORT' },
  { key: 'overlayRepairInterval', flag: 'overlay-repair-interval', env: 'WEFT_OVERLAY_REPAIR_INTERVAL' },
  { key: 'vxlanTxChecksum', flag: 'vxlan-tx-checksum', env: 'WEFT_VXLAN_TX_CHECKSUM' },
  { key: 'reconcileInterval', flag: 'reconcile-interval', env: 'WEFT_RECONCILE_INTERVAL' },
  { key: 'metricsAddr', flag: 'metrics-addr', env: 'WEFT_METRICS_ADDR' },
  { key: 'dockerSync', flag: 'docker-sync', env: 'WEFT_DOCKER_SYNC' },
  { key: 'dockerSocket', flag: 'docker-socket', env: 'WEFT_DOCKER_SOCKET' },
];

const SYNC_MODES: Record<string, DaemonConfig['dockerSync']> = { auto: 'auto', on: 'on', true: 'on', '1': 'on', yes: 'on', off: 'off', false: 'off', '0': 'off', no: 'off' };

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const invalid = (what: string, why: string) => new WeftError(ErrorCodes.INVALID_OPTION, `invalid ${what}: ${why}`);

/** Parses the config file's JSON text; keys are the flag names or the camelCase keys. */
export function parseConfigFile(text: string, file: string): Partial<Record<Key, unknown>> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalid(`config file ${file}`, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(`config file ${file}`, 'expected a JSON object');
  const out: Partial<Record<Key, unknown>> = {};
  for (const [k, v] of Object.entries(raw)) {
    const s = SETTINGS.find((x) => x.flag === k || x.key === k);
    if (!s) throw invalid(`config file ${file}`, `unknown setting ${JSON.stringify(k)}`);
    out[s.key] = v;
  }
  return out;
}

function fromEnv(env: NodeJS.ProcessEnv): Partial<Record<Key, unknown>> {
  const out: Partial<Record<Key, unknown>> = {};
  for (const s of SETTINGS) {
    const v = env[s.env];
    if (v === undefined || v === '') continue;
    // Several pools in one variable are separated by ';' or whitespace (a pool itself has a ',').
    out[s.key] = s.key === 'defaultAddressPools' ? v.split(/[;\s]+/).filter(Boolean) : v;
  }
  return out;
}

/** Merges flags > env > file > defaults and validates the result. */
export function resolveConfig(
  flags: Partial<Record<Key, unknown>>,
  env: NodeJS.ProcessEnv,
  file: Partial<Record<Key, unknown>>,
): DaemonConfig {
  const merged: Record<string, unknown> = { ...DEFAULT_CONFIG };
  for (const layer of [file, fromEnv(env), flags]) {
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) merged[k] = v;
  }
  return validateConfig(merged);
}

function validateConfig(c: Record<string, unknown>): DaemonConfig {
  const str = (k: Key): string => {
    const v = c[k];
    if (typeof v !== 'string' || v.length === 0 || /[\0\n]/.test(v)) throw invalid(k, `expected a non-empty string`);
    return v;
  };
  const absPath = (k: Key): string => {
    const v = str(k);
    if (!v.startsWith('/')) throw invalid(k, `${JSON.stringify(v)} must be an absolute path`);
    return v;
  };
  const logLevel = str('logLevel');
  if (!LEVELS.includes(logLevel)) throw invalid('log-level', `${JSON.stringify(logLevel)}: use one of ${LEVELS.join(', ')}`);
  const store = str('store');
  if (store !== 'local' && !/^etcd:\/\/[^\s,/]+(,[^\s,/]+)*$/.test(store)) {
    throw invalid('store', `${JSON.stringify(store)}: use "local" or etcd://HOST:PORT[,HOST:PORT...]`);
  }
  const pools = c.defaultAddressPools;
  const poolList = typeof pools === 'string' ? [pools] : pools;
  if (!Array.isArray(poolList) || poolList.some((p) => typeof p !== 'string')) throw invalid('default-address-pool', 'expected base=CIDR,size=N');
  const out: DaemonConfig = {
    stateDir: absPath('stateDir'),
    socket: absPath('socket'),
    pluginDir: absPath('pluginDir'),
    store,
    logLevel: logLevel as DaemonConfig['logLevel'],
    defaultAddressPools: poolList as string[],
    etcdPrefix: '/weft',
    hostTtl: 15,
    hostDeadAfter: 60,
    reconcileInterval: 10,
    overlayRepairInterval: 10,
    vxlanTxChecksum: 'auto',
    dockerSync: 'auto',
    dockerSocket: '/var/run/docker.sock',
  };
  const sync = SYNC_MODES[String(c.dockerSync).toLowerCase()];
  if (sync === undefined) throw invalid('docker-sync', `${JSON.stringify(c.dockerSync)}: use auto, on or off (true/false)`);
  out.dockerSync = sync;
  out.dockerSocket = absPath('dockerSocket');
  const seconds = (k: Key, min: number, max: number): number => {
    const v = typeof c[k] === 'string' ? Number(c[k]) : c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(k, `${JSON.stringify(c[k])}: expected whole seconds from ${min} to ${max}`);
    return v;
  };
  out.hostTtl = seconds('hostTtl', 1, 3600);
  out.hostDeadAfter = seconds('hostDeadAfter', 1, 86_400);
  out.overlayRepairInterval = seconds('overlayRepairInterval', 1, 3600);
  if (c.vxlanPort !== undefined) {
    const v = typeof c.vxlanPort === 'string' ? Number(c.vxlanPort) : c.vxlanPort;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw invalid('vxlan-port', `${JSON.stringify(c.vxlanPort)}: expected a UDP port from 1 to 65535`);
    out.vxlanPort = v;
  }
  out.reconcileInterval = seconds('reconcileInterval', 1, 3600);
  const txc = str('vxlanTxChecksum');
  if (txc !== 'auto' && txc !== 'off') throw invalid('vxlan-tx-checksum', `${JSON.stringify(txc)}: use auto or off`);
  out.vxlanTxChecksum = txc;
  out.etcdPrefix = str('etcdPrefix');
  if (!/^\/[A-Za-z0-9_.\/-]*$/.test(out.etcdPrefix) || out.etcdPrefix.includes('..')) throw invalid('etcd-prefix', `${JSON.stringify(out.etcdPrefix)}: expected an absolute key path like /weft`);
  for (const k of ['etcdCacert', 'etcdCert', 'etcdKey', 'dockerSocket'] as const) if (c[k] !== undefined) out[k] = absPath(k);
  if (c.hostId !== undefined) {
    const id = str('hostId');
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(id)) throw invalid('host-id', `${JSON.stringify(id)}: letters, digits, '_', '.', '-' (at most 63)`);
    out.hostId = id;
  }
  if (c.socketGroup !== undefined) {
    const g = str('socketGroup');
    if (!/^[a-z_][a-z0-9_-]*\$?$|^\d+$/.test(g)) throw invalid('socket-group', `${JSON.stringify(g)} is not a group name or gid`);
    out.socketGroup = g;
  }
  if (c.metricsAddr !== undefined) {
    const a = str('metricsAddr');
    parseMetricsAddr(a); // validated here, parsed again where weftd listens
    out.metricsAddr = a;
  }
  if (c.advertiseAddr !== undefined) {
    const a = str('advertiseAddr');
    if (isIP(a) === 0) throw invalid('advertise-addr', `${JSON.stringify(a)} is not an IP address`);
    out.advertiseAddr = a;
  }
  return out;
}
