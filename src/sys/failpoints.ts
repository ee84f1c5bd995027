// Failpoints: named places where weftd kills itself with SIGKILL, to test that a crash at that
// exact point is repaired at the next start (docs/reliability.md). Armed once at start from
// WEFT_FAILPOINTS=name[,name@N...] (`@N`: die on the Nth hit of that name, default the first).
// Unarmed (the normal case) a call is one comparison: no lookup, no allocation.
//
// The death is a real crash: no handler runs, no socket is removed, nothing is flushed but the
// one log line written synchronously just before, so tests can tell which failpoint fired.

import { writeSync } from 'node:fs';
import { ErrorCodes, WeftError } from '../model/errors.js';

/** Every failpoint weft has, and where it sits. Tests and docs/reliability.md use these names. */
export const FAILPOINTS = {
  'network-create.after-store': 'network record written, driver not yet called (no bridge)',
  'connect.after-store': 'endpoint record and address written, no kernel object yet',
  'connect.veth-created': 'veth pair created in the namespace, not yet named, addressed or up',
  'disconnect.mid': 'disconnect marked in the store, interface gone, record and address not yet released',
  'network-delete.mid': 'network record deleted, bridge and firewall elements not yet removed, pools not yet released',
  'plugin.create-endpoint.before-reply': 'Docker CreateEndpoint: record and veth made, no answer sent',
  'plugin.join.before-reply': 'Docker Join: sandbox recorded, no answer sent',
  'docker-delete-endpoint.mid': 'Docker DeleteEndpoint: delete marked, veth removed, record not yet deleted',
} as const;

export type FailpointName = keyof typeof FAILPOINTS;

/** name -> hits left before it fires; undefined when nothing is armed. */
let armed: Map<string, number> | undefined;

/** Parses WEFT_FAILPOINTS; throws WEFT_ERR_INVALID_OPTION on an unknown name or a bad count. */
export function parseFailpoints(spec: string | undefined): Map<string, number> | undefined {
  if (spec === undefined || spec.trim() === '') return undefined;
  const out = new Map<string, number>();
  for (const item of spec.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^([a-z.-]+)(?:@(\d{1,6}))?$/.exec(item);
    if (!m || !(m[1]! in FAILPOINTS)) {
      throw new WeftError(ErrorCodes.INVALID_OPTION, `WEFT_FAILPOINTS: ${JSON.stringify(item)} is not a failpoint: use NAME or NAME@N with NAME one of ${Object.keys(FAILPOINTS).join(', ')}`);
    }
    const n = m[2] === undefined ? 1 : Number(m[2]);
    if (n < 1) throw new WeftError(ErrorCodes.INVALID_OPTION, `WEFT_FAILPOINTS: ${JSON.stringify(item)}: N counts from 1`);
    out.set(m[1]!, n);
  }
  return out.size > 0 ? out : undefined;
}

/** Arms the failpoints named in the spec (weftd calls it once, at start, with WEFT_FAILPOINTS). */
export function armFailpoints(spec: string | undefined): string[] {
  armed = parseFailpoints(spec);
  return armed ? [...armed.keys()] : [];
}

/** Dies here (SIGKILL of this process) when this failpoint is armed and its hit count is reached. */
export function failpoint(name: FailpointName): void {
  if (armed === undefined) return;
  const left = armed.get(name);
  if (left === undefined) return;
  if (left > 1) {
    armed.set(name, left - 1);
    return;
  }
  // pino's line format, written synchronously: the process is gone right after.
  const line = JSON.stringify({ level: 60, time: Date.now(), pid: process.pid, name: 'weftd', failpoint: name, msg: 'failpoint hit' });
  try {
    writeSync(1, `${line}\n`);
  } catch {
    // stdout closed: die anyway
  }
  process.kill(process.pid, 'SIGKILL');
}
