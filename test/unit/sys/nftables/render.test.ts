// The renderer against golden files (test/golden/nftables/<case>.nft). The integration test
// loads the same text into the kernel. To accept an intended change: WEFT_UPDATE_GOLDEN=1 npx
// vitest run test/unit/sys/nftables/render.test.ts, then read the diff.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isWeftError } from '../../../../src/model/errors.js';
import { parseNftTable } from '../../../../src/sys/nftables/listing.js';
import { renderElementChanges, renderRuleset } from '../../../../src/sys/nftables/render.js';
import { chains, SETS } from '../../../../src/sys/nftables/schema.js';
import { networkElements, portElement } from '../../../../src/sys/nftables/elements.js';
import { checkNetwork, checkPort } from '../../../../src/sys/nftables/validate.js';
import { GOLDEN_STATES, NET_DUAL, NET_PLAIN, port } from '../../../golden/nftables/states.js';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), '../../../golden/nftables');

function golden(name: string, text: string): void {
  const file = join(GOLDEN, `${name}.nft`);
  if (process.env.WEFT_UPDATE_GOLDEN === '1') writeFileSync(file, text);
  expect(text).toBe(readFileSync(file, 'utf8'));
}

const rules = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('add rule '));

describe('renderRuleset', () => {
  it.each(Object.keys(GOLDEN_STATES))('renders %s as in its golden file', (name) => {
    golden(name, renderRuleset(GOLDEN_STATES[name]!, 'weft'));
  });

  it('renders the same rules whatever the state: only elements differ', () => {
    const texts = Object.values(GOLDEN_STATES).map((s) => rules(renderRuleset(s, 'weft')));
    for (const t of texts) expect(t).toEqual(texts[0]);
    expect(texts[0]!.length).toBe(chains(0x100000).reduce((n, c) => n + c.rules.length, 0));
  });

  it('is deterministic: the order of networks and ports does not change the text', () => {
    const s = GOLDEN_STATES['dual-stack-nat66']!;
    const reversed = { networks: [...s.networks].reverse(), ports: [...s.ports].reverse() };
    expect(renderRuleset(reversed, 'weft')).toBe(renderRuleset(s, 'weft'));
  });

  it('never deletes the tables and never flushes or deletes weft-user', () => {
    const text = renderRuleset(GOLDEN_STATES['default-bridge']!, 'weft');
    expect(text).not.toMatch(/delete table|flush table|flush ruleset/);
    expect(text).not.toMatch(/(flush|delete) chain inet weft weft-user/);
    expect(text).toContain('add chain inet weft weft-user\n');
  });

  it('uses the table name and mark it is given', () => {
    const text = renderRuleset(GOLDEN_STATES['default-bridge']!, 'wft_test1', { mark: 0x40 });
    expect(text).toContain('add table inet wft_test1');
    expect(text).toContain('add table bridge wft_test1');
    expect(text).not.toMatch(/ (inet|bridge) weft /);
    expect(text).toContain('meta mark set meta mark | 0x00000040 accept');
    expect(() => renderRuleset(GOLDEN_STATES.empty!, 'weft; flush ruleset')).toThrow(/table name/);
    expect(() => renderRuleset(GOLDEN_STATES.empty!, 'weft', { mark: 3 })).toThrow(/single bit/);
  });

  it('with a listing of the kernel, deletes stale chains and sets whose type changed, and keeps the others', () => {
    // A table as an older weft might have left it: an extra chain, a set of another type, an extra map.
    const listing = JSON.stringify({
      nftables: [
        { table: { family: 'inet', name: 'weft' } },
        { chain: { family: 'inet', table: 'weft', name: 'weft-user' } },
        { chain: { family: 'inet', table: 'weft', name: 'old-chain', type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
        { set: { family: 'inet', table: 'weft', name: 'bridges', type: 'ifname' } },
        { set: { family: 'inet', table: 'weft', name: 'masq_v4', type: 'ipv4_addr' } },
        { map: { family: 'inet', table: 'weft', name: 'old_map', type: 'inet_service', map: 'ipv4_addr' } },
      ],
    });
    const text = renderRuleset(GOLDEN_STATES['default-bridge']!, 'weft', { existing: { inet: parseNftTable(listing, 'inet', 'weft') } });
    golden('upgrade-from-listing', text);
    expect(text).toContain('flush chain inet weft old-chain\n');
    expect(text).toContain('delete chain inet weft old-chain\n');
    expect(text).toContain('delete set inet weft masq_v4\n'); // was not an interval set
    expect(text).toContain('delete map inet weft old_map\n');
    expect(text).not.toContain('delete set inet weft bridges'); // same definition: flushed, kept
    expect(text.indexOf('delete set inet weft masq_v4')).toBeLessThan(text.indexOf('add set inet weft masq_v4'));
  });

  it('refuses bad input before rendering anything', () => {
    const bad = [
      { ...NET_PLAIN, bridge: 'wf0" ; flush ruleset ; "' },
      { ...NET_PLAIN, bridge: 'a-very-long-bridge-name' },
      { ...NET_PLAIN, subnetsV4: ['172.18.0.1/16'] },
      { ...NET_PLAIN, subnetsV4: ['172.18.0.0/16 } ; flush ruleset'] },
      { ...NET_PLAIN, subnetsV4: ['fd00::/64'] },
      { ...NET_PLAIN, hostBindingIpv4: 'fd00::1' },
      { ...NET_PLAIN, id: 'not hex' },
      { ...NET_PLAIN, icc: 'yes' as unknown as boolean },
    ];
    for (const n of bad) {
      let err: unknown;
      try {
        renderRuleset({ networks: [n], ports: [] }, 'weft');
      } catch (e) {
        err = e;
      }
      expect(isWeftError(err), JSON.stringify(n)).toBe(true);
    }
  });
});

describe('renderElementChanges', () => {
  const n = checkNetwork(NET_DUAL);
  const p = checkPort(port({ networkId: 'b2', containerIp: '10.10.0.2' }), n);

  it('adds a network as elements only', () => {
    const text = renderElementChanges('weft', { add: networkElements(n), delete: [] });
    expect(text.split('\n').filter(Boolean).every((l) => l.startsWith('add element '))).toBe(true);
    expect(text).toContain('add element inet weft bridges { "wf-b2" }');
    expect(text).toContain('add element inet weft icc_bridges { "wf-b2" . "wf-b2" }');
    expect(text).toContain('add element inet weft bridge_nets_v6 { "wf-b2" . fd00:10::/64 }');
    expect(text).toContain('add element inet weft masq_v6 { fd00:10::/64 }');
    expect(text).not.toContain('noicc');
  });

  it('writes a delete as add-then-delete so an element already gone is no error; exact mode deletes only', () => {
    expect(renderElementChanges('weft', { add: [], delete: [portElement(p)] })).toBe(
      'add element inet weft dnat_any_v4 { tcp . 8080 : 10.10.0.2 . 80 }\ndelete element inet weft dnat_any_v4 { tcp . 8080 : 10.10.0.2 . 80 }\n',
    );
    expect(renderElementChanges('weft', { add: [], delete: [portElement(p)] }, { exact: true })).toBe(
      'delete element inet weft dnat_any_v4 { tcp . 8080 : 10.10.0.2 . 80 }\n',
    );
  });

  it('leaves an element that is both deleted and added alone, and renders nothing for no change', () => {
    const text = renderElementChanges('weft', { add: [portElement(p)], delete: [portElement(p)] });
    expect(text).not.toContain('delete');
    expect(renderElementChanges('weft', { add: [], delete: [] })).toBe('');
  });

  it('knows every set it writes to', () => {
    for (const e of [...networkElements(n), portElement(p)]) expect(SETS.some((s) => s.name === e.set)).toBe(true);
  });
});
