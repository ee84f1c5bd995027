// Published ports: which host ports an endpoint's `-p` requests resolve to, reserved in the store
// so that two endpoints never get the same (protocol, host IP, host port) and a restart keeps
// them. A request for port 0 (`-p 80`, `-P`) gets a free port from the ephemeral range, like
// Docker; a host range (`-p 8000-8010:80`) gets the first free port of the range; matching ranges
// (`-p 9000-9010:9000-9010`) map port by port.

import { isIPv6 } from 'node:net';
import { ErrorCodes, WeftError } from '../../src/model/errors.js';
import type { PortMapping } from '../../src/model/network.js';
import type { Store } from '../../src/store/store.js';

/** One published port, resolved: what the firewall DNATs. */
export interface ResolvedPort {
  proto: PortMapping['proto'];
  family: 4 | 6;
  /** '' = every address of the host. */
  hostIp: string;
  hostPort: number;
  containerPort: number;
}

/** Docker's default ephemeral range for published ports. */
export const EPHEMERAL_FIRST = 49153;
export const EPHEMERAL_LAST = 60999;

interface Binding {
  hostIp: string;
  family: 4 | 6;
  endpointId: string;
}

const portKey = (proto: string, port: number) => `drivers/bridge/ports/${proto}/${port}`;

/** Two bindings of one proto/port collide when they share a family and an address, or either is a wildcard. */
function collides(a: Binding, b: { hostIp: string; family: 4 | 6 }): boolean {
  return a.family === b.family && (a.hostIp === '' || b.hostIp === '' || a.hostIp === b.hostIp);
}

interface Wanted {
  proto: PortMapping['proto'];
  family: 4 | 6;
  hostIp: string;
  containerPort: number;
  /** Host ports to try in order (one for a fixed port). */
  candidates: () => Iterable<number>;
  spec: string;
}

function* range(lo: number, hi: number): Iterable<number> {
  for (let p = lo; p <= hi; p++) yield p;
}

/** Expands -p requests into single-port wants per family. Pure. */
export function expandMappings(mappings: PortMapping[], families: { v4: boolean; v6: boolean }, hostBindingIpv4?: string): Wanted[] {
  const out: Wanted[] = [];
  for (const m of mappings) {
    const hostIp = m.hostIp === '' && hostBindingIpv4 ? hostBindingIpv4 : m.hostIp;
    const fams: (4 | 6)[] = hostIp === '' ? [...(families.v4 ? [4 as const] : []), ...(families.v6 ? [6 as const] : [])] : [isIPv6(hostIp) ? 6 : 4];
    const spec = `${m.hostIp ? `${m.hostIp}:` : ''}${m.hostPort ? `${m.hostPort}${m.hostPortEnd !== m.hostPort ? `-${m.hostPortEnd}` : ''}:` : ''}${m.containerPort}/${m.proto}`;
    for (const family of fams) {
      if ((family === 4 && !families.v4) || (family === 6 && !families.v6)) {
        throw new WeftError(ErrorCodes.INVALID_OPTION, `cannot publish ${spec}: the endpoint has no IPv${family} address`);
      }
      if (m.hostPort === 0) {
        out.push({ proto: m.proto, family, hostIp, containerPort: m.containerPort, candidates: () => range(EPHEMERAL_FIRST, EPHEMERAL_LAST), spec });
      } else {
        out.push({ proto: m.proto, family, hostIp, containerPort: m.containerPort, candidates: () => range(m.hostPort, m.hostPortEnd), spec });
      }
    }
  }
  return out;
}

export class PortReservations {
  constructor(private readonly store: Store) {}

  /** Reserves every wanted port for the endpoint, all or nothing. */
  async reserve(endpointId: string, wanted: Wanted[]): Promise<ResolvedPort[]> {
    const done: ResolvedPort[] = [];
    try {
      for (const w of wanted) done.push(await this.reserveOne(endpointId, w));
      return done;
    } catch (e) {
      await this.release(endpointId, done);
      throw e;
    }
  }

  private async reserveOne(endpointId: string, w: Wanted): Promise<ResolvedPort> {
    for (const port of w.candidates()) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const key = portKey(w.proto, port);
        const cur = await this.store.get<{ bindings: Binding[] }>(key);
        const bindings = cur?.value.bindings ?? [];
        const mine = { hostIp: w.hostIp, family: w.family };
        const taken = bindings.find((b) => collides(b, mine));
        if (taken && taken.endpointId !== endpointId) break; // try the next candidate
        if (taken) return { proto: w.proto, family: w.family, hostIp: w.hostIp, hostPort: port, containerPort: w.containerPort };
        const r = await this.store.txn({
          compares: [{ key, revision: cur?.modRevision ?? 0 }],
          success: [{ type: 'put', key, value: { bindings: [...bindings, { ...mine, endpointId }] } }],
        });
        if (r.succeeded) return { proto: w.proto, family: w.family, hostIp: w.hostIp, hostPort: port, containerPort: w.containerPort };
      }
    }
    const what = w.hostIp ? `${w.hostIp}:` : '';
    throw new WeftError(ErrorCodes.PORT_IN_USE, `cannot publish ${w.spec}: host port ${what}${describeCandidates(w)}/${w.proto} is already published by another endpoint`);
  }

  /** Gives back the endpoint's ports; releasing what is not held is fine. */
  async release(endpointId: string, ports: ResolvedPort[]): Promise<void> {
    for (const p of ports) {
      const key = portKey(p.proto, p.hostPort);
      for (let attempt = 0; attempt < 10; attempt++) {
        const cur = await this.store.get<{ bindings: Binding[] }>(key);
        if (!cur) break;
        const rest = cur.value.bindings.filter((b) => !(b.endpointId === endpointId && b.hostIp === p.hostIp && b.family === p.family));
        if (rest.length === cur.value.bindings.length) break;
        const r = await this.store.txn({
          compares: [{ key, revision: cur.modRevision }],
          success: rest.length ? [{ type: 'put', key, value: { bindings: rest } }] : [{ type: 'delete', key }],
        });
        if (r.succeeded) break;
      }
    }
  }
}

function describeCandidates(w: Wanted): string {
  const list = [...w.candidates()];
  return list.length === 1 ? String(list[0]) : `${list[0]}-${list[list.length - 1]}`;
}
