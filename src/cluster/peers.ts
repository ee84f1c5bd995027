// The overlay peer table (docs/overlay.md): every endpoint of every overlay network, with the host
// and VTEP it lives on, in the cluster store. Each host with endpoints on a network reads it and
// programs its VXLAN device's FDB and neighbour tables from it.
//
//   overlay/peers/<networkId>/<endpointId>   PeerRecord   written by the endpoint's host
//
// Not leased: a host whose weftd is restarting ("lost") keeps its peers, so traffic to its
// containers never stops; they are ignored (not deleted) while the host is "gone".

import type { Store } from '../store/store.js';

export const PEERS_PREFIX = 'overlay/peers/';
export const peersOf = (networkId: string) => `${PEERS_PREFIX}${networkId}/`;
export const peerKey = (networkId: string, endpointId: string) => `${PEERS_PREFIX}${networkId}/${endpointId}`;

export interface PeerRecord {
  host: string;
  /** The host's underlay address (--advertise-addr). */
  vtep: string;
  mac: string;
  /** Bare addresses. */
  ipv4?: string;
  ipv6?: string;
}

/** Network id of a key under PEERS_PREFIX, or undefined. */
export function networkOfPeerKey(key: string): string | undefined {
  if (!key.startsWith(PEERS_PREFIX)) return undefined;
  const rest = key.slice(PEERS_PREFIX.length);
  const slash = rest.indexOf('/');
  return slash > 0 ? rest.slice(0, slash) : undefined;
}

export class PeerTable {
  constructor(private readonly store: Store) {}

  async list(networkId: string): Promise<Array<PeerRecord & { endpointId: string }>> {
    const prefix = peersOf(networkId);
    return (await this.store.list<PeerRecord>(prefix)).map((kv) => ({ ...kv.value, endpointId: kv.key.slice(prefix.length) }));
  }

  async put(networkId: string, endpointId: string, p: PeerRecord): Promise<void> {
    await this.store.put(peerKey(networkId, endpointId), p);
  }

  async delete(networkId: string, endpointId: string): Promise<void> {
    await this.store.delete(peerKey(networkId, endpointId));
  }

  async deleteNetwork(networkId: string): Promise<void> {
    await this.store.txn({ compares: [], success: [{ type: 'deletePrefix', prefix: peersOf(networkId) }] });
  }
}
