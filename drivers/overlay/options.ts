// Overlay driver options: -o vni=N (Docker's com.docker.network.driver.overlay.vxlanid_list
// too, one id), -o mtu=N (com.docker.network.driver.mtu), and -o weft.network=NAME, the cluster
// identity a Docker engine's network is bound to (docs/overlay.md, "Through Docker"). Pure.

import { ErrorCodes, WeftError } from '../../src/model/errors.js';
import { isValidNetworkName } from '../../src/model/network.js';

export interface OverlayOptions {
  vni?: number;
  mtu?: number;
  /** The cluster network a Docker network stands for (`-o weft.network=NAME`). */
  identity?: string;
}

/** The option (driver `-o` and IPAM `--ipam-opt`) that names the cluster network. */
export const WEFT_NETWORK_OPTION = 'weft.network';

const KEYS = {
  vni: ['com.docker.network.driver.overlay.vxlanid_list', 'vni'],
  mtu: ['com.docker.network.driver.mtu', 'mtu'],
  identity: [WEFT_NETWORK_OPTION],
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
    throw new WeftError(ErrorCodes.INVALID_OPTION, `driver overlay does not know option ${unknown.map((k) => JSON.stringify(k)).join(', ')}: it takes vni, mtu (or their com.docker.network.* names) and weft.network`);
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
  const identity = pick(options, KEYS.identity);
  if (identity) {
    if (!isValidNetworkName(identity[1])) throw bad(identity[0], identity[1], "a network name: a letter or digit, then letters, digits, '_', '.', '-' (at most 64)");
    out.identity = identity[1];
  }
  return out;
}
