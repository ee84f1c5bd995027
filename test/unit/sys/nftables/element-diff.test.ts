// `weft check`'s element-level comparison of weft's nft sets (drift.ts elementDiff), on recorded
// kernel listings (test/golden/nftables/listing-*.json, taken after loading LISTED_STATE).

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { elementDiff } from '../../../../src/sys/nftables/drift.js';
import { parseNftTable } from '../../../../src/sys/nftables/listing.js';
import { checkState } from '../../../../src/sys/nftables/validate.js';
import { LISTED_STATE, port } from '../../../golden/nftables/states.js';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), '../../../golden/nftables');
const load = () => ({
  inet: parseNftTable(readFileSync(join(GOLDEN, 'listing-inet.json'), 'utf8'), 'inet', 'weft'),
  bridge: parseNftTable(readFileSync(join(GOLDEN, 'listing-bridge.json'), 'utf8'), 'bridge', 'weft'),
});

describe('elementDiff', () => {
  it('finds nothing when the kernel holds exactly the desired elements', () => {
    expect(elementDiff(load(), checkState(LISTED_STATE))).toEqual({ extra: [], missing: [] });
  });

  it('names a kernel element no record asks for (extra) in nft notation', () => {
    const fewer = { ...LISTED_STATE, ports: LISTED_STATE.ports.filter((p) => p.proto !== 'sctp') };
    const d = elementDiff(load(), checkState(fewer));
    expect(d.missing).toEqual([]);
    expect(d.extra).toEqual([{ set: 'dnat_any_v4', element: 'sctp . 9000 : 10.20.0.5 . 9000' }]);
  });

  it('names a desired element the kernel lacks (missing), and every element of a set that is gone', () => {
    const more = { ...LISTED_STATE, ports: [...LISTED_STATE.ports, port({ networkId: 'e5', containerIp: '10.40.0.3', hostPort: 8090 })] };
    expect(elementDiff(load(), checkState(more))).toEqual({ extra: [], missing: [{ set: 'dnat_v4', element: '192.0.2.10 . tcp . 8090 : 10.40.0.3 . 80' }] }); // e5 binds 192.0.2.10 (host_binding_ipv4)
    const t = load();
    t.bridge.sets.delete('noicc_v4');
    const d = elementDiff(t, checkState(LISTED_STATE));
    expect(d.extra).toEqual([]);
    expect(d.missing.length).toBeGreaterThan(0);
    expect(d.missing.every((m) => m.set === 'noicc_v4')).toBe(true);
  });
});
