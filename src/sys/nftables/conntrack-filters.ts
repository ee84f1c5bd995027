// Conntrack filters for port mappings: the flows a mapping DNATed (to delete when it goes), the
// flows to a host port tracked before it was published, and the mappings found in a listing of
// the kernel (so sync can clean up after mappings it removes). Pure.

import { parseIp } from '../../model/address.js';
import type { ConntrackFilter } from '../conntrack.js';
import type { ListedTable } from './listing.js';
import { SETS, setSignature } from './schema.js';
import type { CheckedPort } from './validate.js';

/** Flows DNATed by a mapping: to its host port (and address), answered by the container. */
export function removedFilter(p: CheckedPort): ConntrackFilter {
  return {
    family: p.family,
    proto: p.proto,
    origPortDst: p.hostPort,
    ...(p.hostIp ? { origDst: p.hostIp.text } : {}),
    replySrc: p.containerIp.text,
    replyPortSrc: p.containerPort,
  };
}

/** Flows to a newly published host port that were tracked before (and so not DNATed). */
export function addedFilter(p: CheckedPort): ConntrackFilter {
  return { family: p.family, proto: p.proto, origPortDst: p.hostPort, ...(p.hostIp ? { origDst: p.hostIp.text } : {}) };
}

export interface ListedPort {
  canon: string;
  filter: ConntrackFilter;
}

/** The port mappings in a listing of the inet table (for conntrack clean-up of mappings sync removes). */
export function portsInListing(t: ListedTable | undefined): ListedPort[] {
  const out: ListedPort[] = [];
  if (!t) return out;
  for (const [name, family, specific] of [
    ['dnat_v4', 4, true],
    ['dnat_any_v4', 4, false],
    ['dnat_v6', 6, true],
    ['dnat_any_v6', 6, false],
  ] as const) {
    const s = t.sets.get(name);
    if (!s || s.signature !== setSignature(SETS.find((d) => d.name === name)!)) continue;
    s.raw.forEach((r, i) => {
      try {
        const key = r.key.map(String);
        const data = (r.data ?? []).map(String);
        const [hostIp, proto, hostPort] = specific ? key : [undefined, key[0], key[1]];
        if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') return;
        const filter: ConntrackFilter = {
          family,
          proto,
          origPortDst: validPort(hostPort),
          replySrc: parseIp(data[0]!, 'address in nft listing').ip,
          replyPortSrc: validPort(data[1]),
        };
        if (hostIp !== undefined) filter.origDst = parseIp(hostIp, 'address in nft listing').ip;
        out.push({ canon: s.elements[i]!, filter });
      } catch {
        /* an element weft cannot read back is left to nft; no conntrack clean-up for it */
      }
    });
  }
  return out;
}

function validPort(v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`bad port ${v}`);
  return n;
}
