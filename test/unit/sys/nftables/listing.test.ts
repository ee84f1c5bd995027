// Reading the kernel back: recorded `nft -j list table` output (test/golden/nftables/listing-*.json,
// taken from the kernel after loading LISTED_STATE) must compare equal to the desired state, and
// every kind of difference must be named.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canonical, networkElements, portElement } from '../../../../src/sys/nftables/elements.js';
import { parseNftTable, ruleCount, type ListedTable } from '../../../../src/sys/nftables/listing.js';
import { driftReason } from '../../../../src/sys/nftables/drift.js';
import { chains, DEFAULT_MARK } from '../../../../src/sys/nftables/schema.js';
import { checkState } from '../../../../src/sys/nftables/validate.js';
import { LISTED_STATE, NET_PLAIN, port } from '../../../golden/nftables/states.js';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), '../../../golden/nftables');
const raw = (f: 'inet' | 'bridge'): string => readFileSync(join(GOLDEN, `listing-${f}.json`), 'utf8');
const load = (): { inet: ListedTable; bridge: ListedTable } => ({
  inet: parseNftTable(raw('inet'), 'inet', 'weft'),
  bridge: parseNftTable(raw('bridge'), 'bridge', 'weft'),
});

describe('parseNftTable', () => {
  it('reads chains with their hooks and ordered rule comments', () => {
    const { inet, bridge } = load();
    const fwd = inet.chains.get('forward')!;
    expect(fwd.base).toEqual({ type: 'filter', hook: 'forward', prio: -5, policy: 'accept' });
    expect(fwd.comments[0]).toBe('weft:not-weft');
    expect(fwd.comments.at(-1)).toBe('weft:egress');
    expect(inet.chains.get('published')!.base).toBeUndefined();
    expect(inet.chains.get('weft-user')!.comments).toEqual([]);
    expect(bridge.chains.get('forward')!.comments).toEqual(['weft:published', 'weft:noicc-v4', 'weft:noicc-v6']);
    const all = chains(DEFAULT_MARK).reduce((n, c) => n + c.rules.length, 0);
    expect(ruleCount(inet) + ruleCount(bridge)).toBe(all);
  });

  it('reads elements into the same canonical form the renderer computes, prefixes and concatenations included', () => {
    const { inet, bridge } = load();
    const s = checkState(LISTED_STATE);
    const want = [...s.networks.flatMap(networkElements), ...s.ports.map(portElement)];
    for (const e of want) {
      const t = e.set.startsWith('noicc') ? bridge : inet;
      expect(t.sets.get(e.set)!.elements, e.set).toContain(canonical(e));
    }
    expect(inet.sets.get('dnat_v6')!.signature).toBe('ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service');
    expect(inet.sets.get('bridge_nets_v4')!.signature).toBe('ifname . ipv4_addr interval');
    // Raw values stay available (conntrack clean-up of mappings that sync removes).
    expect(inet.sets.get('dnat_v6')!.raw).toContainEqual({ key: ['2001:db8::1', 'udp', 53], data: ['fd00:10::2', 53] });
  });

  it('treats a single address and its /32 the same in an interval set', () => {
    const json = (elem: unknown): string =>
      JSON.stringify({ nftables: [{ set: { family: 'inet', table: 'weft', name: 'masq_v4', type: 'ipv4_addr', flags: ['interval'], elem: [elem] } }] });
    const a = parseNftTable(json('10.0.0.5'), 'inet', 'weft').sets.get('masq_v4')!.elements;
    const b = parseNftTable(json({ prefix: { addr: '10.0.0.5', len: 32 } }), 'inet', 'weft').sets.get('masq_v4')!.elements;
    const c = parseNftTable(json({ range: ['10.0.0.5', '10.0.0.5'] }), 'inet', 'weft').sets.get('masq_v4')!.elements;
    expect(a).toEqual(b);
    expect(a).toEqual(c);
  });

  it('ignores objects of other tables and families', () => {
    const t = parseNftTable(raw('inet'), 'inet', 'other');
    expect(t.chains.size).toBe(0);
    expect(t.sets.size).toBe(0);
  });
});

describe('driftReason', () => {
  const reason = (t: Partial<ReturnType<typeof load>>, state = LISTED_STATE): string | undefined => driftReason(t, checkState(state), DEFAULT_MARK);

  it('finds no drift between the recorded kernel and the state it was loaded from', () => {
    expect(reason(load())).toBeUndefined();
  });

  it('names a missing table, chain, rule, set or element, and extra ones', () => {
    expect(reason({ inet: load().inet })).toBe('table bridge missing');

    let t = load();
    t.inet.chains.delete('postrouting');
    expect(reason(t)).toBe('chain inet postrouting missing');

    t = load();
    t.inet.chains.get('forward')!.comments.splice(2, 1);
    expect(reason(t)).toBe('rules of chain inet forward differ');

    t = load();
    t.inet.chains.get('forward')!.base!.prio = 0;
    expect(reason(t)).toMatch(/forward has another hook, priority or policy/);

    t = load();
    t.inet.chains.set('intruder', { name: 'intruder', comments: [] });
    expect(reason(t)).toBe('unexpected chain inet intruder');

    t = load();
    t.inet.chains.delete('weft-user');
    expect(reason(t)).toBe('chain weft-user missing');

    t = load();
    t.inet.sets.get('dnat_any_v4')!.elements = [];
    expect(reason(t)).toBe('elements of inet dnat_any_v4 differ');

    t = load();
    t.bridge.sets.get('noicc_v4')!.signature = 'ipv4_addr';
    expect(reason(t)).toBe('set bridge noicc_v4 has another type');
  });

  it('sees a state change as drift: another network, another port', () => {
    expect(reason(load(), { ...LISTED_STATE, networks: [...LISTED_STATE.networks, NET_PLAIN] })).toBe('elements of inet bridges differ');
    expect(reason(load(), { ...LISTED_STATE, ports: [...LISTED_STATE.ports, port({ networkId: 'b2', containerIp: '10.10.0.3', hostPort: 1 })] })).toBe(
      'elements of inet dnat_any_v4 differ',
    );
  });
});
