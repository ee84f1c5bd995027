// The VXLAN UDP port is one value for the whole cluster (kept in the cluster store): two hosts
// with different ports would each drop the other's packets without a word. The first host that
// starts with etcd records its --vxlan-port (4789 by default); a host started later with a
// different explicit port is refused, one started without the flag takes the cluster's.

import { ErrorCodes, WeftError, isWeftError } from '../model/errors.js';
import type { Store } from '../store/store.js';
import { checkPort } from '../sys/vxlan.js';

export const VXLAN_PORT_KEY = 'overlay/config/vxlan-port';
export const DEFAULT_VXLAN_PORT = 4789;

interface PortRecord {
  port: number;
  setBy: string;
}

/**
 * Returns the cluster's VXLAN port, recording `wanted` (or the default) when none is recorded yet.
 * `wanted` undefined = no --vxlan-port given: take whatever the cluster has.
 */
export async function resolveVxlanPort(store: Store, wanted: number | undefined, hostId: string): Promise<number> {
  if (wanted !== undefined) checkPort(wanted);
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = (await store.get<PortRecord>(VXLAN_PORT_KEY))?.value;
    if (cur) {
      if (wanted !== undefined && wanted !== cur.port) {
        throw new WeftError(
          ErrorCodes.INVALID_OPTION,
          `--vxlan-port ${wanted} differs from the cluster's VXLAN port ${cur.port} (set by host ${cur.setBy}): every host must use the same port; start without --vxlan-port, or with --vxlan-port ${cur.port}`,
        );
      }
      return cur.port;
    }
    const port = wanted ?? DEFAULT_VXLAN_PORT;
    try {
      await store.put(VXLAN_PORT_KEY, { port, setBy: hostId } satisfies PortRecord, { expectRevision: 0 });
      return port;
    } catch (e) {
      // Another host recorded it first: read and compare again.
      if (!isWeftError(e) || e.code !== ErrorCodes.STORE_CONFLICT) throw e;
    }
  }
  throw new WeftError(ErrorCodes.STORE_CONFLICT, 'could not record the cluster VXLAN port: too many concurrent writers');
}
