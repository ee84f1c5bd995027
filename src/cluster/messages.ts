// The membership errors users see (`weft host rm`, `weft host ls`), worded in one place.

import { ErrorCodes, WeftError } from '../model/errors.js';
import type { HostInfo } from './host-records.js';

export function hostNotFound(ref: string): WeftError {
  return new WeftError(ErrorCodes.HOST_NOT_FOUND, `host ${JSON.stringify(ref)} not found: weft host ls lists the hosts of the cluster`, {
    details: { host: ref },
  });
}

export function hostUp(h: HostInfo): WeftError {
  const name = h.hostname && h.hostname !== h.id ? `${h.id} (${h.hostname})` : h.id;
  const seen = h.lastSeen ? ` (last refresh ${h.lastSeen})` : '';
  return new WeftError(
    ErrorCodes.HOST_UP,
    `host ${name} is up: its weftd holds its registration${seen}; stop weftd there first (it then shows as lost), or use --force (its global addresses are freed and may be handed out again while its containers still use them)`,
    { details: { id: h.id, hostname: h.hostname } },
  );
}
