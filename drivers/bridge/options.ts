// Bridge driver options, with Docker's keys and meanings (libnetwork drivers/bridge), plus short
// aliases for weft's CLI (-o mtu=1400). Pure: parse and validate, nothing else.

import { isIPv4 } from 'node:net';
import { ErrorCodes, WeftError } from '../../src/model/errors.js';
import { isValidIfName } from '../../src/model/network.js';

export interface BridgeOptions {
  /** Bridge name given by the user (adopted when it exists); undefined = weft names it. */
  bridgeName?: string;
  mtu?: number;
  icc: boolean;
  masquerade: boolean;
  /** NAT66 for IPv6 subnets: off by default (Docker's ip6tables default), on with enable_ip6_masquerade. */
  masqueradeV6: boolean;
  /** Default host IP for published ports without one. */
  hostBindingIpv4?: string;
  /** Hairpin on the bridge ports: a container can reach itself through a published port. */
  hairpin: boolean;
  /** Prefix of the container interface (eth -> eth0). */
  ifacePrefix: string;
}

/** Every accepted key, the Docker one first, then weft's short alias. */
const KEYS = {
  bridgeName: ['com.docker.network.bridge.name', 'bridge'],
  mtu: ['com.docker.network.driver.mtu', 'mtu'],
  icc: ['com.docker.network.bridge.enable_icc', 'enable_icc'],
  masquerade: ['com.docker.network.bridge.enable_ip_masquerade', 'enable_ip_masquerade'],
  masqueradeV6: ['com.docker.network.bridge.enable_ip6_masquerade', 'enable_ip6_masquerade'],
  hostBindingIpv4: ['com.docker.network.bridge.host_binding_ipv4', 'host_binding_ipv4'],
  hairpin: ['com.docker.network.bridge.hairpin', 'hairpin'],
  ifacePrefix: ['com.docker.network.container_iface_prefix'],
} as const;

/** Docker sends these on its own bridge networks; accepted and ignored (weft has no default bridge). */
const IGNORED = ['com.docker.network.bridge.default_bridge', 'com.docker.network.bridge.inhibit_ipv4'];

export const BRIDGE_OPTION_KEYS: readonly string[] = [...Object.values(KEYS).flat(), ...IGNORED];

const bad = (key: string, value: string, want: string) =>
  new WeftError(ErrorCodes.INVALID_OPTION, `bridge option ${key}=${JSON.stringify(value)} is not valid: ${want}`);

function pick(options: Record<string, string>, keys: readonly string[]): [string, string] | undefined {
  const present = keys.filter((k) => options[k] !== undefined);
  if (present.length > 1) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `bridge options ${present.join(' and ')} mean the same thing: give one`);
  }
  const k = present[0];
  return k === undefined ? undefined : [k, options[k]!];
}

function bool(options: Record<string, string>, keys: readonly string[], dflt: boolean): boolean {
  const kv = pick(options, keys);
  if (!kv) return dflt;
  const v = kv[1].toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw bad(kv[0], kv[1], 'use true or false');
}

export function parseBridgeOptions(options: Record<string, string>): BridgeOptions {
  const unknown = Object.keys(options).filter((k) => !BRIDGE_OPTION_KEYS.includes(k));
  if (unknown.length) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `driver bridge does not know option ${unknown.map((k) => JSON.stringify(k)).join(', ')}: it takes ${Object.values(KEYS).map((k) => k[k.length - 1]).join(', ')} (or their com.docker.network.* names)`);
  }
  const out: BridgeOptions = {
    icc: bool(options, KEYS.icc, true),
    masquerade: bool(options, KEYS.masquerade, true),
    masqueradeV6: bool(options, KEYS.masqueradeV6, false),
    hairpin: bool(options, KEYS.hairpin, true),
    ifacePrefix: 'eth',
  };
  const name = pick(options, KEYS.bridgeName);
  if (name) {
    if (!isValidIfName(name[1])) throw bad(name[0], name[1], "an interface name of 1-15 letters, digits, '_', '.', '-'");
    out.bridgeName = name[1];
  }
  const mtu = pick(options, KEYS.mtu);
  if (mtu) {
    const n = Number(mtu[1]);
    if (!/^\d+$/.test(mtu[1]) || n < 68 || n > 65535) throw bad(mtu[0], mtu[1], 'a whole number from 68 to 65535');
    out.mtu = n;
  }
  const hb = pick(options, KEYS.hostBindingIpv4);
  if (hb) {
    if (!isIPv4(hb[1])) throw bad(hb[0], hb[1], 'an IPv4 address');
    out.hostBindingIpv4 = hb[1];
  }
  const prefix = pick(options, KEYS.ifacePrefix);
  if (prefix) {
    // prefix + index must stay within 15 characters.
    if (!/^[a-z][a-z0-9]{0,11}$/.test(prefix[1])) throw bad(prefix[0], prefix[1], 'lower-case letters and digits, at most 12');
    out.ifacePrefix = prefix[1];
  }
  return out;
}
