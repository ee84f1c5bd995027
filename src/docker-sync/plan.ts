// What docker-sync should do on this host's Docker engine, from three reads: the engine's networks,
// this host's bindings (Docker NetworkID -> cluster network) and the cluster's overlay networks.
// Pure, so every rule is tested without an engine.
//
// Read order matters (the caller keeps it): the engine's list first, then bindings, then the
// cluster. A Docker network is committed after its CreateNetwork wrote the cluster record, so a
// network in the engine's list always finds its cluster record in a later read, and is never
// removed for a record that was only not yet visible.

import type { NetworkRecord } from '../model/network.js';
import type { DockerBinding } from '../plugin/docker-bindings.js';
import { WEFT_NETWORK_OPTION } from '../../drivers/overlay/options.js';
import type { CreateNetworkBody, DockerNetwork } from '../docker/docker-api.js';

export const OVERLAY_DOCKER_DRIVER = 'weft-overlay';
export const IPAM_DOCKER_DRIVER = 'weft';
/** Label on the Docker networks docker-sync made (for people: nothing depends on it). */
export const SYNC_LABEL = 'org.weft.docker-sync';

export type SyncAction =
  | { op: 'create'; name: string; networkId: string; body: CreateNetworkBody }
  | { op: 'remove'; dockerId: string; name: string; why: string }
  | { op: 'bind'; dockerId: string; networkId: string; name: string }
  | { op: 'unbind'; dockerId: string; name: string }
  | { op: 'conflict'; dockerId: string; name: string; why: string };

export interface PlanInput {
  docker: DockerNetwork[];
  bindings: DockerBinding[];
  /** Overlay networks of the cluster (other drivers are ignored). */
  cluster: NetworkRecord[];
  now: number;
  /** Docker NetworkIDs the engine is removing (DeleteNetwork came in): neither bound nor counted. */
  dropped?: Set<string>;
  /** A binding whose Docker network is not listed is kept this long (a create in flight). */
  bindingGraceMs: number;
}

export function createBodyFor(net: NetworkRecord): CreateNetworkBody {
  return {
    Name: net.name,
    CheckDuplicate: true,
    Driver: OVERLAY_DOCKER_DRIVER,
    Internal: net.internal,
    EnableIPv6: net.ipv6.length > 0,
    Options: { [WEFT_NETWORK_OPTION]: net.name },
    Labels: { [SYNC_LABEL]: 'true' },
    IPAM: {
      Driver: IPAM_DOCKER_DRIVER,
      Options: { [WEFT_NETWORK_OPTION]: net.name },
      Config: [...net.ipv4, ...net.ipv6].map((e) => ({ Subnet: e.subnet })),
    },
  };
}

/** `retrySoon`: something is in flight on the engine (a copy being removed); look again shortly. */
export function planSync(input: PlanInput): { actions: SyncAction[]; retrySoon: boolean } {
  const actions: SyncAction[] = [];
  const dropped = input.dropped ?? new Set<string>();
  let retrySoon = false;
  const overlays = input.cluster.filter((n) => n.driver === 'overlay');
  const byId = new Map(overlays.map((n) => [n.id, n]));
  const byName = new Map(overlays.map((n) => [n.name, n]));
  const listed = new Map(input.docker.map((d) => [d.Id, d]));
  const bindingOf = new Map(input.bindings.map((b) => [b.dockerId, b]));
  /** Cluster networks this engine has a copy of (or is making one of). */
  const present = new Set<string>();

  for (const b of input.bindings) {
    if (listed.has(b.dockerId)) continue;
    if (input.now - Date.parse(b.boundAt) > input.bindingGraceMs) actions.push({ op: 'unbind', dockerId: b.dockerId, name: b.name });
    else present.add(b.networkId);
  }

  for (const d of input.docker) {
    if (d.Driver !== OVERLAY_DOCKER_DRIVER) continue;
    if (dropped.has(d.Id) && !bindingOf.has(d.Id)) {
      retrySoon = true;
      continue;
    }
    const b = bindingOf.get(d.Id);
    const identity = d.Options?.[WEFT_NETWORK_OPTION];
    const target = b ? byId.get(b.networkId) : identity ? byName.get(identity) : undefined;
    if (!target) {
      const why = b ? `cluster network ${b.name} was removed` : identity ? `there is no cluster network ${identity}` : `it has no ${WEFT_NETWORK_OPTION} identity`;
      actions.push({ op: 'remove', dockerId: d.Id, name: d.Name, why });
      continue;
    }
    if (!b) actions.push({ op: 'bind', dockerId: d.Id, networkId: target.id, name: target.name });
    present.add(target.id);
  }

  for (const n of overlays) {
    if (present.has(n.id)) continue;
    const clash = input.docker.find((d) => d.Name === n.name);
    if (clash && dropped.has(clash.Id)) {
      retrySoon = true; // the engine's old copy is still being removed
      continue;
    }
    if (clash) {
      actions.push({
        op: 'conflict',
        dockerId: clash.Id,
        name: n.name,
        why: clash.Driver === OVERLAY_DOCKER_DRIVER ? 'a weft-overlay network of that name is bound elsewhere' : `a ${clash.Driver} network has that name`,
      });
      continue;
    }
    actions.push({ op: 'create', name: n.name, networkId: n.id, body: createBodyFor(n) });
  }
  return { actions, retrySoon };
}
