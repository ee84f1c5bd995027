// Opens the store weftd's --store asks for: `local` (the embedded LMDB store in
// <state-dir>/store) or `etcd://HOST:PORT[,HOST:PORT...]` (the etcd store, with --etcd-prefix and
// the --etcd-cacert/--etcd-cert/--etcd-key TLS files). Takes the fields of weftd's DaemonConfig
// it needs, so the store layer does not depend on the daemon's config module.

import path from 'node:path';
import { ErrorCodes, WeftError } from '../model/errors.js';
import { ETCD_SCHEME, parseEtcdStoreUrl } from './etcd-endpoints.js';
import { openLocalStore } from './local-store.js';
import type { Store } from './store.js';

export interface OpenStoreConfig {
  /** "local" or "etcd://HOST:PORT[,HOST:PORT...]". */
  store: string;
  /** weftd's --state-dir; the local store lives in <stateDir>/store. */
  stateDir: string;
  /** --etcd-prefix (default /weft). */
  etcdPrefix?: string;
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
}

export interface OpenStoreHooks {
  /** A watch callback threw, or a watch had to stop (default: a process warning). */
  onWatchError?: (err: unknown, prefix: string) => void;
  /** etcd only: limits for opening and for each request (default 5,000 ms each). */
  dialTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export const DEFAULT_ETCD_PREFIX = '/weft';

export async function openStore(config: OpenStoreConfig, hooks: OpenStoreHooks = {}): Promise<Store> {
  const hook = hooks.onWatchError ? { onWatchError: hooks.onWatchError } : {};
  if (config.store === 'local') {
    if (typeof config.stateDir !== 'string' || !path.isAbsolute(config.stateDir)) {
      throw new WeftError(ErrorCodes.INVALID_OPTION, `invalid state dir ${JSON.stringify(config.stateDir)}: must be an absolute path`);
    }
    return openLocalStore({ path: path.join(config.stateDir, 'store'), ...hook });
  }
  if (typeof config.store === 'string' && config.store.startsWith(ETCD_SCHEME)) {
    const tls = {
      ...(config.etcdCacert !== undefined ? { cacert: config.etcdCacert } : {}),
      ...(config.etcdCert !== undefined ? { cert: config.etcdCert } : {}),
      ...(config.etcdKey !== undefined ? { key: config.etcdKey } : {}),
    };
    // Loaded only for --store etcd://: the etcd client (gRPC, protobufs) is about 20 MB of a
    // daemon's memory that a single host on the embedded store does not need (issue 8).
    const { openEtcdStore } = await import('./etcd-store.js');
    return openEtcdStore({
      endpoints: parseEtcdStoreUrl(config.store),
      prefix: config.etcdPrefix ?? DEFAULT_ETCD_PREFIX,
      ...(Object.keys(tls).length > 0 ? { tls } : {}),
      ...(hooks.dialTimeoutMs !== undefined ? { dialTimeoutMs: hooks.dialTimeoutMs } : {}),
      ...(hooks.requestTimeoutMs !== undefined ? { requestTimeoutMs: hooks.requestTimeoutMs } : {}),
      ...hook,
    });
  }
  throw new WeftError(ErrorCodes.INVALID_OPTION, `invalid store ${JSON.stringify(config.store)}: use "local" or etcd://HOST:PORT[,HOST:PORT...]`);
}
