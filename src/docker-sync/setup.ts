// Whether weftd runs docker-sync, from its configuration (--docker-sync, --docker-socket).
// Only with the cluster store: without it there are no cluster networks to copy.

import type { Logger } from 'pino';
import type { DaemonConfig } from '../daemon/config.js';
import type { NetworkRecord } from '../model/network.js';
import type { DockerBindings } from '../plugin/docker-bindings.js';
import type { Store } from '../store/store.js';
import { DockerApi } from '../docker/docker-api.js';
import { DockerSync } from './sync-loop.js';

export function createDockerSync(
  config: Pick<DaemonConfig, 'dockerSync' | 'dockerSocket' | 'reconcileInterval'>,
  deps: { clustered: boolean; bindings: DockerBindings; clusterStore: Store; listNetworks: () => Promise<NetworkRecord[]>; logger: Logger; onEngineReachable?: () => void },
): DockerSync | undefined {
  if (config.dockerSync === 'off') return undefined;
  if (!deps.clustered) {
    if (config.dockerSync === 'on') deps.logger.warn('--docker-sync has nothing to do without --store etcd:// (overlay networks need the cluster store)');
    return undefined;
  }
  return new DockerSync({
    api: new DockerApi(config.dockerSocket),
    bindings: deps.bindings,
    clusterStore: deps.clusterStore,
    listNetworks: deps.listNetworks,
    logger: deps.logger,
    mode: config.dockerSync,
    intervalMs: config.reconcileInterval * 1000,
    ...(deps.onEngineReachable ? { onEngineReachable: deps.onEngineReachable } : {}),
  });
}
