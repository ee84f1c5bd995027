// docker-sync's decisions (src/docker-sync/plan.ts): which Docker networks to create, bind, remove
// or leave alone on one engine, from the engine's list, the host's bindings and the cluster.

import { describe, expect, it } from 'vitest';
import { createBodyFor, planSync, type PlanInput } from '../../../src/docker-sync/plan.js';
import type { DockerNetwork } from '../../../src/docker/docker-api.js';
import type { DockerBinding } from '../../../src/plugin/docker-bindings.js';
import { overlayRecord } from './overlay-record.js';

const NOW = Date.parse('2026-01-01T00:10:00Z');
const id = (c: string) => c.repeat(64);

const net = overlayRecord;
const dockerNet = (name: string, dockerId: string, driver = 'weft-overlay', identity: string | undefined = name): DockerNetwork => ({
  Id: dockerId,
  Name: name,
  Driver: driver,
  Options: identity ? { 'weft.network': identity } : {},
});
const binding = (dockerId: string, networkId: string, name: string, ageMs = 0): DockerBinding => ({
  dockerId,
  networkId,
  name,
  boundAt: new Date(NOW - ageMs).toISOString(),
});
const plan = (p: Partial<PlanInput>) => planSync({ docker: [], bindings: [], cluster: [], now: NOW, bindingGraceMs: 60_000, ...p });

describe('planSync', () => {
  it('creates a copy of every cluster overlay network the engine lacks, with weft\'s IPAM and the identity on both sides', () => {
    const ov = net('ov1', 'a', { internal: true, ipv6: [{ subnet: 'fd00:1::/64', auxAddresses: {}, poolId: 'global/fd00:1::/64' }] });
    const bridge = { ...net('br', 'b'), driver: 'bridge' as const };
    const { actions, retrySoon } = plan({ cluster: [ov, bridge] });
    expect(retrySoon).toBe(false);
    expect(actions).toEqual([{ op: 'create', name: 'ov1', networkId: id('a'), body: createBodyFor(ov) }]);
    expect(createBodyFor(ov)).toEqual({
      Name: 'ov1',
      CheckDuplicate: true,
      Driver: 'weft-overlay',
      Internal: true,
      EnableIPv6: true,
      Options: { 'weft.network': 'ov1' },
      Labels: { 'org.weft.docker-sync': 'true' },
      IPAM: { Driver: 'weft', Options: { 'weft.network': 'ov1' }, Config: [{ Subnet: '10.60.0.0/24' }, { Subnet: 'fd00:1::/64' }] },
    });
  });

  it('does nothing when every copy is there and bound', () => {
    expect(plan({ cluster: [net('ov1', 'a')], docker: [dockerNet('ov1', 'd1')], bindings: [binding('d1', id('a'), 'ov1')] }).actions).toEqual([]);
  });

  it('binds a listed copy whose binding is missing (weft lost its state), by its identity', () => {
    expect(plan({ cluster: [net('ov1', 'a')], docker: [dockerNet('ov1', 'd1')] }).actions).toEqual([{ op: 'bind', dockerId: 'd1', networkId: id('a'), name: 'ov1' }]);
  });

  it('removes copies of networks the cluster no longer has: bound to a removed id, or named after no network', () => {
    const { actions } = plan({
      cluster: [net('ov1', 'c')], // ov1 was removed and created again: new id
      docker: [dockerNet('ov1', 'd1'), dockerNet('gone', 'd2'), dockerNet('plain', 'd3', 'bridge', undefined)],
      bindings: [binding('d1', id('a'), 'ov1')],
    });
    expect(actions).toEqual([
      { op: 'remove', dockerId: 'd1', name: 'ov1', why: 'cluster network ov1 was removed' },
      { op: 'remove', dockerId: 'd2', name: 'gone', why: 'there is no cluster network gone' },
      // the new ov1 cannot be created while the old copy holds the name: reported, tried next pass
      { op: 'conflict', dockerId: 'd1', name: 'ov1', why: 'a weft-overlay network of that name is bound elsewhere' },
    ]);
  });

  it('never removes networks of other drivers, and reports a name taken by one', () => {
    const { actions } = plan({ cluster: [net('ov1', 'a')], docker: [dockerNet('ov1', 'd9', 'bridge', undefined)] });
    expect(actions).toEqual([{ op: 'conflict', dockerId: 'd9', name: 'ov1', why: 'a bridge network has that name' }]);
  });

  it('keeps a young binding whose copy is not listed yet (a create in flight) and drops an old one', () => {
    const cluster = [net('ov1', 'a'), net('ov2', 'b')];
    const { actions } = plan({ cluster, bindings: [binding('d1', id('a'), 'ov1', 5_000), binding('d2', id('b'), 'ov2', 120_000)] });
    expect(actions).toEqual([
      { op: 'unbind', dockerId: 'd2', name: 'ov2' },
      { op: 'create', name: 'ov2', networkId: id('b'), body: createBodyFor(cluster[1]!) },
    ]);
  });

  it('waits for a copy the engine is removing (DeleteNetwork came in) instead of binding it again', () => {
    const r = plan({ cluster: [net('ov1', 'a')], docker: [dockerNet('ov1', 'd1')], dropped: new Set(['d1']) });
    expect(r).toEqual({ actions: [], retrySoon: true });
    // Once the engine has removed it, the next pass makes a new copy.
    expect(plan({ cluster: [net('ov1', 'a')], dropped: new Set(['d1']) }).actions.map((a) => a.op)).toEqual(['create']);
  });
});
