// VXLAN network identifiers, one per overlay network, allocated cluster-wide in the cluster store
// with compare-and-swap (two hosts creating networks at once never get the same VNI):
//
//   overlay/vnis/<vni>          { networkId }   the VNI is taken
//   overlay/networks/<netId>    { vni }         the network's VNI (read by every host)
//
// Both keys are written in one transaction, and deleted in one.

import { ErrorCodes, WeftError } from '../model/errors.js';
import type { Store } from '../store/store.js';
import { checkVni } from '../sys/vxlan.js';

/** First VNI weft hands out (below it: room for VNIs set by hand elsewhere, as libnetwork's 4096). */
export const FIRST_VNI = 4096;
export const LAST_VNI = 16_777_215;

export const vniKey = (vni: number) => `overlay/vnis/${vni}`;
export const overlayNetworkKey = (networkId: string) => `overlay/networks/${networkId}`;
const VNIS_PREFIX = 'overlay/vnis/';

export interface OverlayNetworkRecord {
  vni: number;
}

export class VniAllocator {
  constructor(private readonly store: Store) {}

  /** Allocates `wanted` (refused when taken) or the lowest free VNI from 4096 for a network. */
  async allocate(networkId: string, wanted?: number): Promise<number> {
    if (wanted !== undefined) checkVni(wanted);
    const existing = await this.of(networkId);
    if (existing !== undefined) return existing;
    for (let attempt = 0; attempt < 20; attempt++) {
      let vni = wanted;
      if (vni === undefined) {
        const taken = new Set((await this.store.list<{ networkId: string }>(VNIS_PREFIX)).map((kv) => Number(kv.key.slice(VNIS_PREFIX.length))));
        vni = FIRST_VNI;
        while (taken.has(vni)) vni++;
        if (vni > LAST_VNI) throw new WeftError(ErrorCodes.POOL_EXHAUSTED, 'no free VXLAN id left');
      }
      const r = await this.store.txn({
        compares: [
          { key: vniKey(vni), revision: 0 },
          { key: overlayNetworkKey(networkId), revision: 0 },
        ],
        success: [
          { type: 'put', key: vniKey(vni), value: { networkId } },
          { type: 'put', key: overlayNetworkKey(networkId), value: { vni } satisfies OverlayNetworkRecord },
        ],
      });
      if (r.succeeded) return vni;
      if (wanted !== undefined) {
        const owner = (await this.store.get<{ networkId: string }>(vniKey(wanted)))?.value.networkId;
        if (owner && owner !== networkId) {
          throw new WeftError(ErrorCodes.NETWORK_EXISTS, `VXLAN id ${wanted} is taken by network ${owner.slice(0, 12)}: choose another -o vni=, or leave it out to get a free one`);
        }
      }
      const again = await this.of(networkId);
      if (again !== undefined) return again;
    }
    throw new WeftError(ErrorCodes.STORE_CONFLICT, 'could not allocate a VXLAN id: too many concurrent writers');
  }

  async of(networkId: string): Promise<number | undefined> {
    return (await this.store.get<OverlayNetworkRecord>(overlayNetworkKey(networkId)))?.value.vni;
  }

  async release(networkId: string): Promise<void> {
    const vni = await this.of(networkId);
    if (vni === undefined) return;
    await this.store.txn({ compares: [], success: [{ type: 'delete', key: vniKey(vni) }, { type: 'delete', key: overlayNetworkKey(networkId) }] });
  }
}
