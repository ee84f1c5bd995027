// Set and map elements: what a network or a port mapping adds to weft's sets. Each element has a
// rendering (nft text, built only from validated values) and a canonical key (numbers, not text),
// which is also computed from nft's JSON listing so that the kernel's content can be compared
// with the desired one whatever notation nft prints. Pure.

import type { SetName } from './schema.js';
import type { Addr, CheckedNetwork, CheckedPort, Proto, Subnet } from './validate.js';

export type Part =
  | { t: 'ifname'; v: string }
  | { t: 'addr'; a: Addr }
  | { t: 'net'; s: Subnet }
  | { t: 'proto'; v: Proto }
  | { t: 'port'; v: number };

export interface Element {
  set: SetName;
  key: Part[];
  data?: Part[];
}

export const PROTO_NUMBERS: Record<Proto, number> = { tcp: 6, udp: 17, sctp: 132 };

const ifname = (v: string): Part => ({ t: 'ifname', v });
const net = (s: Subnet): Part => ({ t: 'net', s });

/** The elements a network puts into weft's sets. */
export function networkElements(n: CheckedNetwork): Element[] {
  const out: Element[] = [{ set: 'bridges', key: [ifname(n.bridge)] }];
  if (n.icc) out.push({ set: 'icc_bridges', key: [ifname(n.bridge), ifname(n.bridge)] });
  if (n.internal) out.push({ set: 'internal_bridges', key: [ifname(n.bridge)] });
  for (const s of n.v4) out.push({ set: 'bridge_nets_v4', key: [ifname(n.bridge), net(s)] });
  for (const s of n.v6) out.push({ set: 'bridge_nets_v6', key: [ifname(n.bridge), net(s)] });
  // An internal network has no way out, so there is nothing to masquerade.
  if (n.masquerade && !n.internal) for (const s of n.v4) out.push({ set: 'masq_v4', key: [net(s)] });
  if (n.masqueradeV6 && !n.internal) for (const s of n.v6) out.push({ set: 'masq_v6', key: [net(s)] });
  if (!n.icc) {
    for (const s of n.v4) out.push({ set: 'noicc_v4', key: [net(s)] });
    for (const s of n.v6) out.push({ set: 'noicc_v6', key: [net(s)] });
  }
  return out;
}

/** The one map element a port mapping adds. */
export function portElement(p: CheckedPort): Element {
  const proto: Part = { t: 'proto', v: p.proto };
  const hostPort: Part = { t: 'port', v: p.hostPort };
  const data: Part[] = [{ t: 'addr', a: p.containerIp }, { t: 'port', v: p.containerPort }];
  if (p.hostIp) {
    return { set: p.family === 4 ? 'dnat_v4' : 'dnat_v6', key: [{ t: 'addr', a: p.hostIp }, proto, hostPort], data };
  }
  return { set: p.family === 4 ? 'dnat_any_v4' : 'dnat_any_v6', key: [proto, hostPort], data };
}

function renderPart(p: Part): string {
  switch (p.t) {
    case 'ifname':
      return `"${p.v}"`; // isValidIfName allows no quote, backslash or space
    case 'addr':
      return p.a.text;
    case 'net':
      return p.s.text;
    case 'proto':
      return p.v;
    case 'port':
      return String(p.v);
  }
}

export function renderElement(e: Element): string {
  const key = e.key.map(renderPart).join(' . ');
  return e.data ? `${key} : ${e.data.map(renderPart).join(' . ')}` : key;
}

function canonPart(p: Part): string {
  switch (p.t) {
    case 'ifname':
      return `if:${p.v}`;
    case 'addr':
      return `ip${p.a.family}:${p.a.value}`;
    case 'net':
      return `range${p.s.family}:${p.s.lo}-${p.s.hi}`;
    case 'proto':
      return `proto:${PROTO_NUMBERS[p.v]}`;
    case 'port':
      return `port:${p.v}`;
  }
}

/** Canonical text of the key alone (a map holds one element per key). */
export const canonicalKey = (e: Element): string => e.key.map(canonPart).join(' . ');

/** Canonical text of key and data. */
export function canonical(e: Element): string {
  const key = canonicalKey(e);
  return e.data ? `${key} : ${e.data.map(canonPart).join(' . ')}` : key;
}

/** Elements grouped by set, each group de-duplicated and sorted by canonical key (stable output). */
export function groupBySet(elements: Element[]): Map<SetName, Element[]> {
  const groups = new Map<SetName, Map<string, Element>>();
  for (const e of elements) {
    let g = groups.get(e.set);
    if (!g) groups.set(e.set, (g = new Map()));
    g.set(canonical(e), e);
  }
  const out = new Map<SetName, Element[]>();
  for (const [set, g] of groups) {
    out.set(set, [...g.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e));
  }
  return out;
}
