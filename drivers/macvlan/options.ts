// macvlan driver options, with Docker's keys (libnetwork drivers/macvlan: `parent`,
// `macvlan_mode`) plus weft's `host_access` and `mtu`. Pure: parse and validate, nothing else.

import { ErrorCodes, WeftError } from '../../src/model/errors.js';
import { isValidIfName } from '../../src/model/network.js';
import { MACVLAN_MODES, MAX_MTU, MAX_VLAN_ID, MIN_MTU, MIN_VLAN_ID, type MacvlanMode } from '../../src/sys/link-ops.js';

export interface MacvlanOptions {
  /** The lower device as the user named it (eth1, or eth1.30 for VLAN 30 on eth1); undefined
   *  only for --internal networks, which get a weft-owned bridge as their lower device. */
  parent?: string;
  /** Set when the parent is written NAME.ID: the 802.1q sub-interface weft creates if missing. */
  vlan?: { base: string; id: number };
  mode: MacvlanMode;
  /** A macvlan shim on the host, so the host reaches its containers (off by default). */
  hostAccess: boolean;
  mtu?: number;
}

const KEYS = {
  parent: 'parent',
  mode: 'macvlan_mode',
  hostAccess: 'host_access',
  mtu: ['com.docker.network.driver.mtu', 'mtu'],
} as const;

export const MACVLAN_OPTION_KEYS: readonly string[] = [KEYS.parent, KEYS.mode, KEYS.hostAccess, ...KEYS.mtu];

const bad = (key: string, value: string, want: string) =>
  new WeftError(ErrorCodes.INVALID_OPTION, `macvlan option ${key}=${JSON.stringify(value)} is not valid: ${want}`);

/** `eth1.30` -> { base: eth1, id: 30 }; a name without a numeric suffix is no VLAN. Throws on a
 *  VLAN id outside 1..4094. */
export function parseVlanParent(parent: string): { base: string; id: number } | undefined {
  const m = /^(.+)\.(\d+)$/.exec(parent);
  if (!m) return undefined;
  const id = Number(m[2]);
  if (!/^(0|[1-9]\d*)$/.test(m[2]!) || id < MIN_VLAN_ID || id > MAX_VLAN_ID) {
    throw bad(KEYS.parent, parent, `VLAN id ${m[2]} is out of range: use ${MIN_VLAN_ID} to ${MAX_VLAN_ID} (0 and 4095 are reserved by 802.1q)`);
  }
  return { base: m[1]!, id };
}

export function parseMacvlanOptions(options: Record<string, string>, internal: boolean): MacvlanOptions {
  const unknown = Object.keys(options).filter((k) => !MACVLAN_OPTION_KEYS.includes(k));
  if (unknown.length) {
    throw new WeftError(
      ErrorCodes.INVALID_OPTION,
      `driver macvlan does not know option ${unknown.map((k) => JSON.stringify(k)).join(', ')}: it takes parent, macvlan_mode, host_access, mtu`,
    );
  }
  const out: MacvlanOptions = { mode: 'bridge', hostAccess: false };

  const parent = options[KEYS.parent];
  if (parent !== undefined && parent !== '') {
    if (!isValidIfName(parent)) throw bad(KEYS.parent, parent, "an interface name of 1-15 letters, digits, '_', '.', '-'");
    out.parent = parent;
    const vlan = parseVlanParent(parent);
    if (vlan) out.vlan = vlan;
  } else if (!internal) {
    throw new WeftError(
      ErrorCodes.INVALID_OPTION,
      'macvlan needs a parent interface: give -o parent=IFACE (e.g. eth1, or eth1.30 for VLAN 30), or --internal for a host-only network',
    );
  }

  const mode = options[KEYS.mode];
  if (mode !== undefined) {
    if (!(MACVLAN_MODES as readonly string[]).includes(mode)) throw bad(KEYS.mode, mode, `use one of ${MACVLAN_MODES.join(', ')}`);
    out.mode = mode as MacvlanMode;
  }

  const ha = options[KEYS.hostAccess];
  if (ha !== undefined) {
    const v = ha.toLowerCase();
    if (v === 'true' || v === '1') out.hostAccess = true;
    else if (v !== 'false' && v !== '0') throw bad(KEYS.hostAccess, ha, 'use true or false');
  }
  // The shim is a bridge-mode macvlan: only bridge-mode siblings talk to it inside the kernel.
  if (out.hostAccess && out.mode !== 'bridge') {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `host_access=true needs macvlan_mode=bridge (got ${out.mode}): in ${out.mode} mode the kernel does not pass traffic between the host shim and the containers`);
  }

  const present = KEYS.mtu.filter((k) => options[k] !== undefined);
  if (present.length > 1) throw new WeftError(ErrorCodes.INVALID_OPTION, `macvlan options ${present.join(' and ')} mean the same thing: give one`);
  if (present[0]) {
    const raw = options[present[0]]!;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < MIN_MTU || n > MAX_MTU) throw bad(present[0], raw, `a whole number from ${MIN_MTU} to ${MAX_MTU}`);
    out.mtu = n;
  }
  return out;
}

/**
 * The L2 domain a network lives in: its parent (a VLAN sub-interface is a domain of its own), or,
 * for an --internal network without a parent, a domain of its own. Overlap checks compare subnets
 * only inside one domain; it is also the IPAM's `weft.l2domain` for weft-origin networks.
 */
export function l2DomainOf(opts: MacvlanOptions, networkId: string): string {
  return opts.parent ?? `internal-${networkId.slice(0, 12)}`;
}
