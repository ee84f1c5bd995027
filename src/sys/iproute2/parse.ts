// Parsers for `ip -j` output. Pure, and tested on recorded output (test/unit/sys/fixtures).

import type { LinkInfo } from '../link-ops.js';

interface IpLinkRow {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu: number;
  operstate?: string;
  address?: string;
  ifalias?: string;
  master?: string;
  /** The lower/peer device's name, when it is in the same namespace. */
  link?: string;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string; info_data?: { mode?: string; id?: number } };
}

function toLinkInfo(r: IpLinkRow): LinkInfo {
  const kind = r.linkinfo?.info_kind;
  return {
    name: r.ifname,
    index: r.ifindex,
    mtu: r.mtu,
    ...(r.address ? { mac: r.address.toLowerCase() } : {}),
    ...(r.ifalias ? { alias: r.ifalias } : {}),
    ...(kind ? { kind } : {}),
    ...(r.master ? { master: r.master } : {}),
    operstate: r.operstate ?? 'UNKNOWN',
    up: (r.flags ?? []).includes('UP'),
    ...(kind === 'veth' && r.link && r.link_netnsid === undefined ? { peer: r.link } : {}),
    ...(kind !== 'veth' && r.link && r.link_netnsid === undefined ? { parent: r.link } : {}),
    ...(kind === 'macvlan' && r.linkinfo?.info_data?.mode ? { macvlanMode: r.linkinfo.info_data.mode } : {}),
    ...(kind === 'vlan' && typeof r.linkinfo?.info_data?.id === 'number' ? { vlanId: r.linkinfo.info_data.id } : {}),
  };
}

/** `ip -j -d link show [dev X]` (-d is what adds linkinfo, so the kind). */
export function parseLinks(stdout: string): LinkInfo[] {
  const rows = JSON.parse(stdout.trim() || '[]') as IpLinkRow[];
  return rows.map(toLinkInfo);
}

export interface AddressInfo {
  link: string;
  family: 4 | 6;
  /** CIDR with host bits: 10.1.0.1/24. */
  cidr: string;
  nodad: boolean;
}

interface IpAddrRow {
  ifname: string;
  addr_info?: Array<{ family: string; local?: string; prefixlen?: number; nodad?: boolean }>;
}

/** `ip -j addr show [dev X]`. */
export function parseAddresses(stdout: string): AddressInfo[] {
  const rows = JSON.parse(stdout.trim() || '[]') as IpAddrRow[];
  const out: AddressInfo[] = [];
  for (const r of rows) {
    for (const a of r.addr_info ?? []) {
      if ((a.family !== 'inet' && a.family !== 'inet6') || !a.local || a.prefixlen === undefined) continue;
      out.push({ link: r.ifname, family: a.family === 'inet' ? 4 : 6, cidr: `${a.local}/${a.prefixlen}`, nodad: a.nodad === true });
    }
  }
  return out;
}
