// Reads `nft -j list table FAMILY NAME` into what weft compares: chains (base spec, ordered rule
// comments), sets and maps (definition signature, canonical element keys). Pure, so it is tested
// on recorded output.

import { ipToBigInt } from '../../model/address.js';
import { signatureOf, type FieldType } from './schema.js';

export interface ListedChain {
  name: string;
  base?: { type: string; hook: string; prio: number; policy: string };
  /** Rule comments in order (undefined for a rule without one). */
  comments: (string | undefined)[];
}

export interface ListedSet {
  name: string;
  kind: 'set' | 'map';
  signature: string;
  /** Canonical text of every element (key, and ' : ' data for maps), as in elements.ts. */
  elements: string[];
  /** The same elements as nft printed their plain values (prefixes and ranges as objects). */
  raw: { key: Json[]; data?: Json[] }[];
}

export interface ListedTable {
  chains: Map<string, ListedChain>;
  sets: Map<string, ListedSet>;
}

export type Json = unknown;
const isObj = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

const PROTO_BY_NAME: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, icmp: 1, icmpv6: 58 };

/** nft prints a type as "a" or ["a", "b"] (sets) and a map's data as "a . b". */
function types(v: Json): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return v.split(' . ').map((s) => s.trim());
  return [];
}

function addrValue(v: string): bigint {
  return ipToBigInt(v);
}

function familyOf(t: string): 4 | 6 {
  return t === 'ipv6_addr' ? 6 : 4;
}

/** One value at one position of an element, in canonical form (see canonPart in elements.ts). */
function canonValue(type: string, interval: boolean, v: Json): string {
  if (isObj(v) && 'elem' in v && isObj(v.elem)) return canonValue(type, interval, v.elem.val);
  switch (type as FieldType) {
    case 'ifname':
      return `if:${String(v)}`;
    case 'inet_proto':
      return `proto:${typeof v === 'number' ? v : (PROTO_BY_NAME[String(v)] ?? String(v))}`;
    case 'inet_service':
      return `port:${Number(v)}`;
    case 'ipv4_addr':
    case 'ipv6_addr': {
      const f = familyOf(type);
      const width = f === 4 ? 32 : 128;
      if (isObj(v) && isObj(v.prefix)) {
        const lo = addrValue(String(v.prefix.addr));
        const len = Number(v.prefix.len);
        return `range${f}:${lo}-${lo | ((1n << BigInt(width - len)) - 1n)}`;
      }
      if (isObj(v) && Array.isArray(v.range)) {
        return `range${f}:${addrValue(String(v.range[0]))}-${addrValue(String(v.range[1]))}`;
      }
      const value = addrValue(String(v));
      return interval ? `range${f}:${value}-${value}` : `ip${f}:${value}`;
    }
    default:
      return `${type}:${JSON.stringify(v)}`;
  }
}

function canonTuple(ts: string[], interval: boolean, v: Json): string {
  if (isObj(v) && 'elem' in v && isObj(v.elem)) return canonTuple(ts, interval, v.elem.val);
  const parts = isObj(v) && Array.isArray(v.concat) ? v.concat : [v];
  return parts.map((p, i) => canonValue(ts[i] ?? '?', interval, p)).join(' . ');
}

function plain(v: Json): Json[] {
  if (isObj(v) && 'elem' in v && isObj(v.elem)) return plain(v.elem.val);
  return isObj(v) && Array.isArray(v.concat) ? v.concat : [v];
}

function parseSet(kind: 'set' | 'map', s: Record<string, Json>): ListedSet {
  const key = types(s.type);
  const data = kind === 'map' ? types(s.map) : undefined;
  const flags = Array.isArray(s.flags) ? s.flags.map(String) : [];
  const interval = flags.includes('interval');
  const elements = (Array.isArray(s.elem) ? s.elem : []).map((e) => {
    if (kind === 'map' && Array.isArray(e)) {
      return `${canonTuple(key, interval, e[0])} : ${canonTuple(data ?? [], false, e[1])}`;
    }
    return canonTuple(key, interval, e);
  });
  const raw = (Array.isArray(s.elem) ? s.elem : []).map((e) =>
    kind === 'map' && Array.isArray(e) ? { key: plain(e[0]), data: plain(e[1]) } : { key: plain(e) },
  );
  // Flags other than interval (constant, timeout, dynamic...) are never weft's: keep them in the signature.
  const extra = flags.filter((f) => f !== 'interval').sort();
  return { name: String(s.name), kind, signature: signatureOf(key, data, interval) + extra.map((f) => ` ${f}`).join(''), elements, raw };
}

/** Parses one table's JSON listing; only the objects of table `name` in `family` are read. */
export function parseNftTable(json: string, family: string, name: string): ListedTable {
  const doc = JSON.parse(json) as { nftables?: Json[] };
  const out: ListedTable = { chains: new Map(), sets: new Map() };
  const mine = (o: Record<string, Json>): boolean => o.family === family && o.table === name;
  for (const item of doc.nftables ?? []) {
    if (!isObj(item)) continue;
    if (isObj(item.chain) && mine(item.chain)) {
      const c = item.chain;
      const chain: ListedChain = { name: String(c.name), comments: [] };
      if (typeof c.hook === 'string') {
        chain.base = { type: String(c.type), hook: c.hook, prio: Number(c.prio), policy: String(c.policy ?? 'accept') };
      }
      out.chains.set(chain.name, chain);
    } else if (isObj(item.rule) && mine(item.rule)) {
      const r = item.rule;
      const chain = out.chains.get(String(r.chain));
      // nft lists a chain before its rules; a rule of an unseen chain still counts, as drift.
      if (chain) chain.comments.push(typeof r.comment === 'string' ? r.comment : undefined);
      else out.chains.set(String(r.chain), { name: String(r.chain), comments: [typeof r.comment === 'string' ? r.comment : undefined] });
    } else if (isObj(item.set) && mine(item.set)) {
      const s = parseSet('set', item.set);
      out.sets.set(s.name, s);
    } else if (isObj(item.map) && mine(item.map)) {
      const s = parseSet('map', item.map);
      out.sets.set(s.name, s);
    }
  }
  return out;
}

/** Number of rules in a listing (all chains), for the "rules do not grow" check. */
export function ruleCount(t: ListedTable): number {
  let n = 0;
  for (const c of t.chains.values()) n += c.comments.length;
  return n;
}
