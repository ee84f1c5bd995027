// Renders weft's firewall as `nft -f` text. Pure: the same state gives the same text (golden
// files in test/golden/nftables). The text is one transaction: nft applies all of it or nothing.
//
// The full ruleset never deletes the tables (that would take the operator's weft-user chain with
// them). Instead each weft chain is made to exist, flushed and deleted, then created afresh, and
// each set is made to exist and flushed; with a listing of what the kernel holds (`existing`),
// chains and sets that this version no longer has, or whose definition changed, are deleted too.

import { canonical, groupBySet, networkElements, portElement, renderElement, type Element } from './elements.js';
import type { ListedTable } from './listing.js';
import { chains, DEFAULT_MARK, isValidTableName, SETS, setSignature, USER_CHAIN, type ChainDef, type NftFamily, type SetDef } from './schema.js';
import { checkState, type CheckedState } from './validate.js';
import { ErrorCodes, WeftError } from '../../model/errors.js';
import type { FirewallState } from '../firewall.js';

export interface RenderOptions {
  /** What the kernel holds now, per family (from `nft -j list table`); absent = assume weft's own layout or nothing. */
  existing?: Partial<Record<NftFamily, ListedTable>>;
  /** Mark bit set on accepted traffic (default DEFAULT_MARK). */
  mark?: number;
}

export const FAMILIES: readonly NftFamily[] = ['inet', 'bridge'];

export function assertTableName(name: string): void {
  if (!isValidTableName(name)) {
    throw new WeftError(ErrorCodes.INVALID_NAME, `nftables table name ${JSON.stringify(name)} must be 1-32 letters, digits, '_' or '-', starting with a letter`);
  }
}

export function assertMark(mark: number): void {
  if (!Number.isInteger(mark) || mark <= 0 || mark > 0xffffffff || (mark & (mark - 1)) !== 0) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `firewall mark ${mark} must be a single bit (0x1 ... 0x80000000)`);
  }
}

function setDecl(table: string, s: SetDef): string {
  const kw = s.data ? 'map' : 'set';
  const type = s.data ? `${s.key.join(' . ')} : ${s.data.join(' . ')}` : s.key.join(' . ');
  const flags = s.interval ? ' flags interval;' : '';
  return `add ${kw} ${s.family} ${table} ${s.name} { type ${type};${flags} }`;
}

function chainDecl(table: string, c: ChainDef): string {
  const head = `add chain ${c.family} ${table} ${c.name}`;
  if (!c.base) return head;
  const b = c.base;
  return `${head} { type ${b.type} hook ${b.hook} priority ${b.priority}; policy ${b.policy}; }`;
}

function elementLines(table: string, verb: 'add' | 'delete', elements: Element[]): string[] {
  const lines: string[] = [];
  const groups = groupBySet(elements);
  for (const d of SETS) {
    const group = groups.get(d.name);
    if (group) lines.push(`${verb} element ${d.family} ${table} ${d.name} { ${group.map(renderElement).join(', ')} }`);
  }
  return lines;
}

/** Every element the state puts into weft's sets. */
export function stateElements(s: CheckedState): Element[] {
  return [...s.networks.flatMap(networkElements), ...s.ports.map(portElement)];
}

/** The full ruleset of a validated state. */
export function renderCheckedRuleset(s: CheckedState, table: string, opts: RenderOptions = {}): string {
  assertTableName(table);
  const mark = opts.mark ?? DEFAULT_MARK;
  assertMark(mark);
  const chainDefs = chains(mark);
  const out: string[] = [
    `# weft firewall, tables "inet ${table}" and "bridge ${table}". Generated: edit only chain ${USER_CHAIN}, which weft never touches.`,
  ];
  for (const f of FAMILIES) out.push(`add table ${f} ${table}`);
  out.push(`add chain inet ${table} ${USER_CHAIN}`);

  out.push('', '# clear what weft owns (existing chains first, since their rules reference the sets)');
  const clear: string[] = [];
  const remove: string[] = [];
  for (const f of FAMILIES) {
    const wanted = chainDefs.filter((c) => c.family === f).map((c) => c.name);
    const stale = [...(opts.existing?.[f]?.chains.keys() ?? [])].filter((n) => n !== USER_CHAIN && !wanted.includes(n));
    for (const name of [...wanted, ...stale.sort()]) {
      // `add chain` without a hook is accepted for an existing base chain too: then flush, delete.
      clear.push(`add chain ${f} ${table} ${name}`, `flush chain ${f} ${table} ${name}`);
      remove.push(`delete chain ${f} ${table} ${name}`);
    }
    for (const listed of opts.existing?.[f]?.sets.values() ?? []) {
      const def = SETS.find((d) => d.family === f && d.name === listed.name);
      // A set whose definition changed (or that this version dropped) must go; the others are kept
      // and flushed, so that rules in weft-user that look them up stay valid.
      if (!def || setSignature(def) !== listed.signature) remove.push(`delete ${listed.kind} ${f} ${table} ${listed.name}`);
    }
  }
  out.push(...clear, ...remove);

  out.push('', '# sets and maps: the only part that grows with networks and ports');
  for (const d of SETS) out.push(`# ${d.name}: ${d.doc}`, setDecl(table, d), `flush ${d.data ? 'map' : 'set'} ${d.family} ${table} ${d.name}`);

  for (const c of chainDefs) {
    out.push('', `# ${c.family} ${c.name}: ${c.doc}`, chainDecl(table, c));
    for (const r of c.rules) out.push(`add rule ${c.family} ${table} ${c.name} ${r.text} comment "weft:${r.id}"`);
  }

  const elements = elementLines(table, 'add', stateElements(s));
  if (elements.length > 0) out.push('', '# elements', ...elements);
  return `${out.join('\n')}\n`;
}

/** The full `nft -f` text for a state (validated here: invalid input throws before anything is rendered). */
export function renderRuleset(state: FirewallState, table: string, opts: RenderOptions = {}): string {
  return renderCheckedRuleset(checkState(state), table, opts);
}

export interface ElementChanges {
  add: Element[];
  delete: Element[];
}

/**
 * Element changes as one transaction. A delete is written as `add` then `delete` of the same
 * element, so that an element already gone is no error (nft 1.0.6 has no `destroy`); `exact`
 * (used after reading the kernel's content) writes plain deletes.
 */
export function renderElementChanges(table: string, changes: ElementChanges, opts: { exact?: boolean } = {}): string {
  assertTableName(table);
  const adding = new Set(changes.add.map(canonical));
  // An element both deleted and added (unchanged) is left alone.
  const del = changes.delete.filter((e) => !adding.has(canonical(e)));
  const deleting = new Set(del.map(canonical));
  const add = changes.add.filter((e) => !deleting.has(canonical(e)));
  const lines = [
    ...(opts.exact ? [] : elementLines(table, 'add', del)),
    ...elementLines(table, 'delete', del),
    ...elementLines(table, 'add', add),
  ];
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
