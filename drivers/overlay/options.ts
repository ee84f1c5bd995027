// Overlay driver options: -o vni=N (Docker's com.docker.network.driver.overlay.vxlanid_list
// too, one id), -o mtu=N (com.docker.network.driver.mtu). Pure: parse and validate.

import { ErrorCodes, WeftError } from '../../src/model/errors.js';

export interface OverlayOptions {
  vni?: number;
  mtu?: number;
}

const KEYS = {
  vni: ['com.docker.network.driver.overlay.vxlanid_list', 'vni'],
  mtu: ['com.docker.network.driver.mtu', 'mtu'],
} as const;

export const OVERLAY_OPTION_KEYS: readonly string[] = Object.values(KEYS).flat();

const bad = (key: string, value: string, want: string) =>
  new WeftError(ErrorCodes.INVALID_OPTION, `overlay option ${key}=${JSON.stringify(value)} is not valid: ${want}`);

function pick(options: Record<string, string>, keys: readonly string[]): [string, string] | undefined {
  const present = keys.filter((k) => options[k] !== undefined);
  if (present.length > 1) throw new WeftError(ErrorCodes.INVALID_OPTION, `overlay options ${present.join(' and ')} mean the same thing: give one`);
  const k = present[0];
  return k === undefined ? undefined : [k, options[k]!];
}

export function parseOverlayOptions(options: Record<string, string>): OverlayOptions {
  const unknown = Object.keys(options).filter((k) => !OVERLAY_OPTION_KEYS.includes(k));
  if (unknown.length) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `driver overlay does not know option ${unknown.map((k) => JSON.stringify(k)).join(', ')}: it takes vni, mtu (or their com.docker.network.* names)`);
  }
  const out: OverlayOptions = {};
  const vni = pick(options, KEYS.vni);
  if (vni) {
    const n = Number(vni[1]);
    if (!/^\d+$/.test(vni[1]) || n < 1 || n > 16_777_215) throw bad(vni[0], vni[1], 'one VXLAN id, a whole number from 1 to 16777215');
    out.vni = n;
  }
  const mtu = pick(options, KEYS.mtu);
  if (mtu) {
    const n = Number(mtu[1]);
    if (!/^\d+$/.test(mtu[1]) || n < 68 || n > 65485) throw bad(mtu[0], mtu[1], 'a whole number from 68 to 65485');
    out.mtu = n;
  }
  return out;
}
