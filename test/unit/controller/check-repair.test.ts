// The decisions of `weft check --repair` (check-repair.ts): what it fixes, what it leaves alone and
// says why, the order, and that it acts under the network's lock. The kernel side is covered by
// test/integration/check-repair.test.ts.

import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { repairFindings, type RepairDeps } from '../../../src/controller/check-repair.js';
import type { Finding } from '../../../src/controller/checker.js';
import type { DriverRegistry } from '../../../src/controller/driver-registry.js';
import type { EndpointRepairer } from '../../../src/controller/endpoint-repair.js';
import type { NetworkDriver } from '../../../src/driver-api/driver.js';
import type { Allocation } from '../../../src/ipam/ipam.js';
import type { EndpointRecord, NetworkRecord } from '../../../src/model/network.js';

const NET = 'a'.repeat(64);

function fakeDeps(opts: { endpoints?: EndpointRecord[]; bridgeRepairs?: number; allocations?: Allocation[]; orphanGraceMs?: number } = {}) {
  const calls: string[] = [];
  const locked: string[] = [];
  let inLock = false;
  const bridge = { name: 'bridge', repair: async () => (calls.push('bridge.repair'), opts.bridgeRepairs ?? 1) } as unknown as NetworkDriver;
  const deps: RepairDeps = {
    controller: {
      withNetworkLock: async <T>(networkId: string, fn: () => Promise<T>) => {
        locked.push(networkId);
        inLock = true;
        try {
          return await fn();
        } finally {
          inLock = false;
        }
      },
      deleteEndpoint: async (n: string, e: string) => void calls.push(`deleteEndpoint ${n.slice(0, 2)} ${e.slice(0, 2)}`),
    },
    ipam: {
      releaseAddress: async (p: string, a: string) => void calls.push(`release ${p} ${a}${inLock ? ' (locked)' : ''}`),
      requestAddress: async () => ({ address: '' }),
      allocations: async () => opts.allocations ?? ['10.1.0.7', '10.1.0.8', '10.1.0.9'].map((address) => ({ address, kind: 'endpoint' as const })),
    },
    records: {
      network: async (id: string) => (id === NET ? ({ id: NET } as NetworkRecord) : undefined),
      endpoint: async () => undefined,
      endpoints: async () => opts.endpoints ?? [],
      networks: async () => [],
      deleteEndpoint: async () => undefined,
    },
    links: { getLink: async () => undefined, deleteLink: async (n: string) => void calls.push(`deleteLink ${n}`), listLinks: async () => [] },
    drivers: { all: () => [bridge], get: () => bridge } as unknown as DriverRegistry,
    endpoints: {} as EndpointRepairer,
    hostId: 'h1',
    ...(opts.orphanGraceMs !== undefined ? { orphanGraceMs: opts.orphanGraceMs } : {}),
    logger: pino({ level: 'silent' }),
  };
  return { deps, calls, locked };
}

const f = (kind: Finding['kind'], object: string, details: Record<string, unknown>): Finding => ({ kind, object, message: '', details });

describe('repairFindings', () => {
  it('releases an orphan allocation of a weft network under that network\'s lock', async () => {
    const { deps, calls, locked } = fakeDeps();
    const [a] = await repairFindings([f('orphan-allocation', 'address 10.1.0.9', { poolId: 'p1', address: '10.1.0.9', networkId: NET, origin: 'weft' })], deps);
    expect(a).toMatchObject({ outcome: 'repaired', kind: 'orphan-allocation', object: 'address 10.1.0.9' });
    expect(calls).toEqual(['release p1 10.1.0.9 (locked)']);
    expect(locked).toEqual([NET]);
  });

  it('leaves alone what it cannot be sure of, and says what a person can do', async () => {
    const { deps, calls } = fakeDeps();
    const out = await repairFindings(
      [
        f('orphan-allocation', 'address 10.1.0.8', { poolId: 'p1', address: '10.1.0.8', networkId: NET, origin: 'docker' }),
        f('orphan-allocation', 'address 10.1.0.7', { poolId: 'p1', address: '10.1.0.7', networkId: NET, origin: 'weft', host: 'h2' }),
        f('docker-endpoint-unknown', 'endpoint x', { endpointId: 'x', networkId: NET }),
        f('duplicate-address', 'address 10.8.0.5', { address: '10.8.0.5', endpoints: ['1', '2'], networkId: NET, crossHost: true }),
      ],
      deps,
    );
    expect(out.map((a) => a.outcome)).toEqual(['skipped', 'skipped', 'skipped', 'skipped']);
    expect(out[0]!.action).toContain('no allocation time');
    expect(out[1]!.action).toContain('run weft check --repair there');
    // Sorted: duplicates before what Docker holds.
    expect(out[2]!.action).toContain('disconnect one');
    expect(out[3]!.action).toContain('docker network disconnect');
    expect(calls).toEqual([]);
  });

  it('keeps an allocation an endpoint took meanwhile (re-read under the lock)', async () => {
    const { deps, calls } = fakeDeps({ endpoints: [{ id: '1'.repeat(64), networkId: NET, origin: 'weft', addressV4: '10.1.0.9/24', createdAt: '' }] });
    const [a] = await repairFindings([f('orphan-allocation', 'address 10.1.0.9', { poolId: 'p1', address: '10.1.0.9', networkId: NET, origin: 'weft' })], deps);
    expect(a!.outcome).toBe('skipped');
    expect(calls).toEqual([]);
  });

  it('runs the firewall re-sync once for any number of nft findings, after the endpoint repairs', async () => {
    const { deps, calls } = fakeDeps();
    const out = await repairFindings(
      [
        f('orphan-nft-element', 'nft a', {}),
        f('missing-nft-element', 'nft b', {}),
        f('orphan-allocation', 'address 10.1.0.9', { poolId: 'p1', address: '10.1.0.9', networkId: NET, origin: 'weft' }),
      ],
      deps,
    );
    expect(out.map((a) => a.kind)).toEqual(['orphan-allocation', 'orphan-nft-element', 'missing-nft-element']);
    expect(calls.filter((c) => c === 'bridge.repair')).toHaveLength(1);
    expect(out.every((a) => a.outcome === 'repaired')).toBe(true);
  });

  it('reports a repair that threw as failed and goes on with the others', async () => {
    const { deps } = fakeDeps();
    deps.links.getLink = async () => {
      throw new Error('netlink down');
    };
    const out = await repairFindings([f('orphan-link', 'link wfx', { link: 'wfx', owner: 'b'.repeat(64) }), f('orphan-nft-element', 'nft a', {})], deps);
    expect(out.map((a) => a.outcome)).toEqual(['failed', 'repaired']);
    expect(out[0]!.action).toContain('netlink down');
  });

  describe('an address Docker\'s IPAM handed out that no endpoint has', () => {
    const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
    const docker = (address: string, allocatedAt?: string) =>
      f('orphan-allocation', `address ${address}`, { poolId: 'p1', address, networkId: NET, origin: 'docker', ...(allocatedAt ? { allocatedAt } : {}) });

    it('is released once older than the grace, under the network\'s lock, saying why', async () => {
      const at = ago(120);
      const { deps, calls, locked } = fakeDeps({ allocations: [{ address: '10.1.0.8', kind: 'endpoint', allocatedAt: at }] });
      const [a] = await repairFindings([docker('10.1.0.8', at)], deps);
      expect(a).toMatchObject({ outcome: 'repaired', kind: 'orphan-allocation' });
      expect(a!.action).toMatch(/^address released \(Docker asked for it 120 s ago/);
      expect(calls).toEqual(['release p1 10.1.0.8 (locked)']);
      expect(locked).toEqual([NET]);
    });

    it('is kept while young: Docker creates the endpoint right after asking (grace configurable)', async () => {
      const at = ago(10);
      const { deps, calls, locked } = fakeDeps({ allocations: [{ address: '10.1.0.8', kind: 'endpoint', allocatedAt: at }] });
      const [a] = await repairFindings([docker('10.1.0.8', at)], deps);
      expect(a!.outcome).toBe('skipped');
      expect(a!.action).toContain('released only once older than 60 s');
      expect(calls).toEqual([]);
      expect(locked).toEqual([]);
      // A shorter grace makes the same address old enough.
      const short = fakeDeps({ allocations: [{ address: '10.1.0.8', kind: 'endpoint', allocatedAt: at }], orphanGraceMs: 5_000 });
      expect((await repairFindings([docker('10.1.0.8', at)], short.deps))[0]!.outcome).toBe('repaired');
      expect(short.calls).toEqual(['release p1 10.1.0.8 (locked)']);
    });

    it('is kept when the IPAM has no allocation time for it (an older weft allocated it)', async () => {
      const { deps, calls } = fakeDeps();
      const [a] = await repairFindings([docker('10.1.0.8')], deps);
      expect(a!.outcome).toBe('skipped');
      expect(a!.action).toContain('no allocation time');
      expect(calls).toEqual([]);
    });

    it('is kept when it was released and handed out again since the check (its time changed)', async () => {
      const { deps, calls } = fakeDeps({ allocations: [{ address: '10.1.0.8', kind: 'endpoint', allocatedAt: ago(1) }] });
      const [a] = await repairFindings([docker('10.1.0.8', ago(120))], deps);
      expect(a!.outcome).toBe('skipped');
      expect(a!.action).toContain('allocated again since the check');
      expect(calls).toEqual([]);
    });

    it('is kept when an endpoint has it by the time the lock is held', async () => {
      const at = ago(120);
      const { deps, calls } = fakeDeps({
        allocations: [{ address: '10.1.0.8', kind: 'endpoint', allocatedAt: at }],
        endpoints: [{ id: '2'.repeat(64), networkId: NET, origin: 'docker', addressV4: '10.1.0.8/24', createdAt: '' }],
      });
      const [a] = await repairFindings([docker('10.1.0.8', at)], deps);
      expect(a!.outcome).toBe('skipped');
      expect(calls).toEqual([]);
    });

    it('is left to the network delete when the network went meanwhile', async () => {
      const at = ago(120);
      const { deps, calls } = fakeDeps({ allocations: [{ address: '10.1.0.8', kind: 'endpoint', allocatedAt: at }] });
      const [a] = await repairFindings([{ ...docker('10.1.0.8', at), details: { poolId: 'p1', address: '10.1.0.8', networkId: 'c'.repeat(64), origin: 'docker', allocatedAt: at } }], deps);
      expect(a!.outcome).toBe('skipped');
      expect(calls).toEqual([]);
    });
  });
});
