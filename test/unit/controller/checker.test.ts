import { describe, expect, it } from 'vitest';
import { repairFindings, type RepairDeps } from '../../../src/controller/check-repair.js';
import { findOrphanAllocations, runCheck } from '../../../src/controller/checker.js';
import type { Controller } from '../../../src/controller/controller.js';
import type { NetworkDriver } from '../../../src/driver-api/driver.js';
import { IpamService } from '../../../src/ipam/ipam-service.js';
import type { EndpointRecord, NetworkRecord } from '../../../src/model/network.js';
import { silentLogger, unitScopePerTest } from '../../helpers/unit-container.js';

describe('weft check (store and IPAM part)', () => {
  const scope = unitScopePerTest();

  it('reports orphan allocations, unallocated and duplicate addresses, and orphan endpoints', async () => {
    const { store } = await scope.store('weft-check-');
    const ipam = new IpamService(store, async () => [], {});
    const pool = await ipam.requestPool({ addressSpace: 'local', pool: '10.7.0.0/24', v6: false, network: 'n' });
    await ipam.requestAddress({ poolId: pool.poolId, kind: 'gateway', owner: 'gateway' });
    const held = await ipam.requestAddress({ poolId: pool.poolId, kind: 'endpoint', owner: 'e1' });
    const orphan = await ipam.requestAddress({ poolId: pool.poolId, kind: 'endpoint', owner: 'gone' });
    const net: NetworkRecord = { id: 'a'.repeat(64), name: 'n', driver: 'none', origin: 'weft', options: {}, internal: false, enableIPv6: false, ipv4: [{ subnet: '10.7.0.0/24', gateway: '10.7.0.1', auxAddresses: {}, poolId: pool.poolId }], ipv6: [], createdAt: '' };
    const ep = (id: string, addressV4: string, networkId = net.id): EndpointRecord => ({ id: id.padEnd(64, '0'), networkId, origin: 'weft', addressV4, createdAt: '' });
    const endpoints = [ep('e1', held.address), ep('e2', held.address), ep('e3', '10.7.0.99/24'), ep('e4', '10.9.0.2/24', 'f'.repeat(64))];
    const controller = { listNetworks: async () => [net], listEndpoints: async () => endpoints } as unknown as Controller;
    const report = await runCheck({ controller, ipam, links: async () => [], driver: () => ({}) as NetworkDriver });
    expect(report.clean).toBe(false);
    const kinds = report.findings.map((f) => f.kind).sort();
    expect(kinds).toEqual(['duplicate-address', 'orphan-allocation', 'orphan-endpoint', 'unallocated-address']);
    expect(report.findings.find((f) => f.kind === 'orphan-allocation')?.message).toContain(orphan.address.split('/')[0]);
    expect(report.findings.find((f) => f.kind === 'unallocated-address')?.message).toContain('10.7.0.99');

    const consistent = await runCheck({ controller: { listNetworks: async () => [net], listEndpoints: async () => [ep('e1', held.address), ep('e5', orphan.address)] } as unknown as Controller, ipam, links: async () => [], driver: () => ({}) as NetworkDriver });
    expect(consistent).toMatchObject({ clean: true, findings: [] });
  });

  it('in a global (overlay) pool checks only this host\'s allocations against its endpoints', async () => {
    const { store } = await scope.store('weft-check-');
    const h1 = new IpamService(store, async () => [], { hostId: 'h1' });
    const h2 = new IpamService(store, async () => [], { hostId: 'h2' });
    const pool = await h1.requestPool({ addressSpace: 'global', pool: '10.8.0.0/24', v6: false, network: 'ov' });
    await h1.requestAddress({ poolId: pool.poolId, kind: 'gateway', owner: 'gateway' });
    const mine = await h1.requestAddress({ poolId: pool.poolId, kind: 'endpoint' });
    await h2.requestAddress({ poolId: pool.poolId, kind: 'endpoint' }); // a container on h2
    const orphan = await h1.requestAddress({ poolId: pool.poolId, kind: 'endpoint' });
    const net: NetworkRecord = { id: 'b'.repeat(64), name: 'ov', driver: 'overlay', origin: 'docker', options: {}, internal: false, enableIPv6: false, ipv4: [{ subnet: '10.8.0.0/24', gateway: '10.8.0.1', auxAddresses: {}, poolId: pool.poolId }], ipv6: [], createdAt: '' };
    const eps: EndpointRecord[] = [{ id: '1'.repeat(64), networkId: net.id, origin: 'docker', addressV4: mine.address, createdAt: '' }];
    const controller = { listNetworks: async () => [net], listEndpoints: async () => eps } as unknown as Controller;
    const report = await runCheck({ controller, ipam: h1, links: async () => [], driver: () => ({}) as NetworkDriver, hostId: 'h1' });
    expect(report.findings.map((f) => [f.kind, f.details?.address])).toEqual([['orphan-allocation', orphan.address.split('/')[0]]]);
  });

  it('a Docker network\'s addresses: only an old one that no one holds is released; gateway, aux, young, live, Docker-held and unknown networks\' are kept', async () => {
    const { store } = await scope.store('weft-check-');
    let now = Date.now() - 120_000;
    const ipam = new IpamService(store, async () => [], { now: () => now });
    const pool = await ipam.requestPool({ addressSpace: 'local', pool: '10.9.0.0/24', v6: false });
    const foreign = await ipam.requestPool({ addressSpace: 'local', pool: '10.10.0.0/24', v6: false });
    const take = (poolId: string, address: string, kind: 'endpoint' | 'gateway' = 'endpoint') => ipam.requestAddress({ poolId, kind, address });
    // As Docker asks: the gateway typed, the aux address as a plain address, endpoints' addresses plain.
    await take(pool.poolId, '10.9.0.1', 'gateway');
    await take(pool.poolId, '10.9.0.200'); // --aux-address router=10.9.0.200
    await take(pool.poolId, '10.9.0.254'); // --gateway given with an older Docker that asks without the type
    await take(pool.poolId, '10.9.0.2'); // a live endpoint's
    await take(pool.poolId, '10.9.0.3'); // a container Docker lists that weft has no record of
    await take(pool.poolId, '10.9.0.4'); // the orphan: the RequestAddress answered into a crash
    await take(foreign.poolId, '10.10.0.5'); // Docker's own bridge driver with weft's IPAM: no weft record
    now = Date.now();
    await take(pool.poolId, '10.9.0.5'); // young: Docker's CreateEndpoint is on its way
    const net: NetworkRecord = {
      id: 'd'.repeat(64), name: 'docker-dddddddddddd', driver: 'bridge', origin: 'docker', options: {}, internal: false, enableIPv6: false,
      ipv4: [{ subnet: '10.9.0.0/24', gateway: '10.9.0.254', auxAddresses: { router: '10.9.0.200' }, poolId: pool.poolId }], ipv6: [], createdAt: '',
    };
    const eps: EndpointRecord[] = [{ id: '2'.repeat(64), networkId: net.id, origin: 'docker', addressV4: '10.9.0.2/24', createdAt: '' }];
    const controller = { listNetworks: async () => [net], listEndpoints: async () => eps } as unknown as Controller;
    const docker = async () => [{ id: net.id, name: 'dn', driver: 'weft-bridge', endpoints: [{ endpointId: '3'.repeat(64), container: 'c3', ipv4: '10.9.0.3/24' }] }];

    const report = await runCheck({ controller, ipam, links: async () => [], driver: () => ({}) as NetworkDriver, docker });
    expect(report.findings.filter((f) => f.kind === 'orphan-allocation').map((f) => f.object)).toEqual(['address 10.9.0.4', 'address 10.9.0.5']);
    const found = await findOrphanAllocations({ controller, ipam, docker });
    expect(found.map((f) => f.object)).toEqual(['address 10.9.0.4', 'address 10.9.0.5']);
    expect(found[0]!.details).toMatchObject({ origin: 'docker', allocatedAt: expect.any(String) });
    // Without Docker's view the container weft does not know is one more finding (never released
    // by the periodic pass, which reads Docker's view before it releases anything).
    expect((await findOrphanAllocations({ controller, ipam })).map((f) => f.object)).toContain('address 10.9.0.3');

    const deps: RepairDeps = {
      controller: { withNetworkLock: (_n, fn) => fn(), deleteEndpoint: async () => undefined },
      ipam,
      records: { network: async (id) => (id === net.id ? net : undefined), endpoint: async () => undefined, endpoints: async () => eps, networks: async () => [net], deleteEndpoint: async () => undefined },
      links: { getLink: async () => undefined, deleteLink: async () => undefined, listLinks: async () => [] },
      drivers: {} as RepairDeps['drivers'],
      endpoints: {} as RepairDeps['endpoints'],
      orphanGraceMs: 60_000,
      logger: silentLogger,
    };
    const acts = await repairFindings(found, deps);
    expect(acts.map((a) => [a.object, a.outcome])).toEqual([['address 10.9.0.4', 'repaired'], ['address 10.9.0.5', 'skipped']]);
    expect((await ipam.allocations(pool.poolId)).map((a) => a.address)).toEqual(['10.9.0.1', '10.9.0.2', '10.9.0.3', '10.9.0.5', '10.9.0.200', '10.9.0.254']);
    expect((await ipam.allocations(foreign.poolId)).map((a) => a.address)).toEqual(['10.10.0.5']);
  });
});
