// Comparing what the kernel holds (listing.ts) with what weft wants: drift detection for the
// reconciler, and narrowing a failed element change to what is really missing or present. Pure.

import { parseIp } from '../../model/address.js';
import { canonical, canonicalKey, renderElement, type Element } from './elements.js';
import type { ListedTable } from './listing.js';
import { FAMILIES, stateElements, type ElementChanges } from './render.js';
import { chains, SETS, setSignature, USER_CHAIN, type NftFamily } from './schema.js';
import type { CheckedState } from './validate.js';

export type Tables = Partial<Record<NftFamily, ListedTable>>;

/** Why the kernel differs from the desired state, or undefined when it matches. */
export function driftReason(t: Tables, s: CheckedState, mark: number): string | undefined {
  for (const f of FAMILIES) if (!t[f]) return `table ${f} missing`;
  const defs = chains(mark);
  for (const f of FAMILIES) {
    const listed = t[f]!;
    const wanted = defs.filter((c) => c.family === f);
    for (const c of wanted) {
      const l = listed.chains.get(c.name);
      if (!l) return `chain ${f} ${c.name} missing`;
      if (c.base) {
        const b = l.base;
        if (!b || b.type !== c.base.type || b.hook !== c.base.hook || b.prio !== c.base.priority || b.policy !== c.base.policy) {
          return `chain ${f} ${c.name} has another hook, priority or policy`;
        }
      } else if (l.base) return `chain ${f} ${c.name} should not be a base chain`;
      const want = c.rules.map((r) => `weft:${r.id}`);
      if (want.length !== l.comments.length || want.some((w, i) => w !== l.comments[i])) return `rules of chain ${f} ${c.name} differ`;
    }
    for (const name of listed.chains.keys()) {
      if (!(f === 'inet' && name === USER_CHAIN) && !wanted.some((c) => c.name === name)) return `unexpected chain ${f} ${name}`;
    }
    if (f === 'inet' && !listed.chains.has(USER_CHAIN)) return `chain ${USER_CHAIN} missing`;
  }
  const desired = new Map<string, Set<string>>();
  for (const e of stateElements(s)) {
    let g = desired.get(e.set);
    if (!g) desired.set(e.set, (g = new Set()));
    g.add(canonical(e));
  }
  for (const d of SETS) {
    const l = t[d.family]!.sets.get(d.name);
    if (!l) return `set ${d.family} ${d.name} missing`;
    if (l.signature !== setSignature(d)) return `set ${d.family} ${d.name} has another type`;
    const want = desired.get(d.name) ?? new Set<string>();
    if (l.elements.length !== want.size || l.elements.some((e) => !want.has(e))) return `elements of ${d.family} ${d.name} differ`;
  }
  for (const f of FAMILIES) {
    for (const name of t[f]!.sets.keys()) if (!SETS.some((d) => d.family === f && d.name === name)) return `unexpected set ${f} ${name}`;
  }
  return undefined;
}
/** One set/map element as `weft check` shows it. */
export interface ElementView {
  set: string;
  /** nft notation: `"wf-1234" . 10.1.0.0/24`, `tcp . 8080 : 10.1.0.2 . 80`. */
  element: string;
}

/**
 * Element by element: what the kernel holds in weft's sets that the desired state does not name
 * (`extra`: a published port, isolation entry... with no record behind it), and what the desired
 * state names that the kernel lacks (`missing`). A set that is missing altogether counts all its
 * desired elements as missing. Pure.
 */
export function elementDiff(t: Tables, s: CheckedState): { extra: ElementView[]; missing: ElementView[] } {
  const desired = new Map<string, Map<string, Element>>();
  for (const e of stateElements(s)) {
    let g = desired.get(e.set);
    if (!g) desired.set(e.set, (g = new Map()));
    g.set(canonical(e), e);
  }
  const extra: ElementView[] = [];
  const missing: ElementView[] = [];
  for (const d of SETS) {
    const listed = t[d.family]?.sets.get(d.name);
    const want = desired.get(d.name) ?? new Map<string, Element>();
    const have = new Set(listed?.elements ?? []);
    for (const [canon, e] of want) if (!have.has(canon)) missing.push({ set: d.name, element: renderElement(e) });
    listed?.elements.forEach((canon, i) => {
      if (!want.has(canon)) extra.push({ set: d.name, element: renderRaw(listed.raw[i]) });
    });
  }
  return { extra, missing };
}

/** An element as nft listed it, in nft's own notation (for people; never parsed back). */
function renderRaw(raw: { key: unknown[]; data?: unknown[] } | undefined): string {
  if (!raw) return '?';
  const one = (v: unknown): string => {
    if (typeof v === 'string' || typeof v === 'number') return String(v);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (o.elem && typeof o.elem === 'object') return one((o.elem as Record<string, unknown>).val);
      if (o.prefix && typeof o.prefix === 'object') {
        const p = o.prefix as Record<string, unknown>;
        return `${String(p.addr)}/${String(p.len)}`;
      }
      if (Array.isArray(o.range)) return `${one(o.range[0])}-${one(o.range[1])}`;
    }
    return JSON.stringify(v);
  };
  const key = raw.key.map(one).join(' . ');
  return raw.data ? `${key} : ${raw.data.map(one).join(' . ')}` : key;
}

/** weft's sets (and tables) that the kernel does not have. */
export function missingSets(t: Tables): string[] {
  return SETS.filter((d) => !t[d.family]?.sets.has(d.name)).map((d) => `${d.family} ${d.name}`);
}

/** The change reduced to what the kernel lacks (adds) and holds (deletes); a map key held with other data is replaced. */
export function narrow(change: ElementChanges, t: Tables): ElementChanges {
  const present = (e: Element): Set<string> => new Set(t[SETS.find((d) => d.name === e.set)!.family]?.sets.get(e.set)?.elements ?? []);
  const del = change.delete.filter((e) => present(e).has(canonical(e)));
  const add: Element[] = [];
  for (const e of change.add) {
    const have = present(e);
    if (have.has(canonical(e))) continue;
    if (e.data) {
      const key = canonicalKey(e);
      const stale = [...have].find((c) => c.split(' : ')[0] === key);
      if (stale) del.push(...staleElementFor(e, stale, t));
    }
    add.push(e);
  }
  return { add, delete: del };
}

/** A map element that holds `e`'s key with other data, rebuilt from the listing so it can be deleted. */
function staleElementFor(e: Element, staleCanon: string, t: Tables): Element[] {
  const fam = SETS.find((d) => d.name === e.set)!.family;
  const s = t[fam]?.sets.get(e.set);
  const i = s?.elements.indexOf(staleCanon) ?? -1;
  const raw = i >= 0 ? s!.raw[i] : undefined;
  if (!raw?.data || raw.data.length !== 2) return [];
  try {
    const ip = parseIp(String(raw.data[0]), 'address in nft listing');
    const port = Number(raw.data[1]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return [];
    return [{ ...e, data: [{ t: 'addr', a: { family: ip.family, value: ip.value, text: ip.ip.toLowerCase() } }, { t: 'port', v: port }] }];
  } catch {
    return [];
  }
}
