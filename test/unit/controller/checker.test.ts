import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../../src/controller/checker.js';
import type { Controller } from '../../../src/controller/controller.js';
import type { NetworkDriver } from '../../../src/driver-api/driver.js';
import { IpamService } from '../../../src/ipam/ipam-service.js';
import type { EndpointRecord, NetworkRecord } from '../../../src/model/network.js';
import { openLocalStore, type LocalStore } from '../../../src/store/local-store.js';

describe('weft check (store and IPAM part)', () => {
  let dir: string;
  let store: LocalStore;
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports orphan allocations, unallocated and duplicate addresses, and orphan endpoints', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'weft-check-'));
    store = await openLocalStore({ path: path.join(dir, 'store') });
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
    dir = await mkdtemp(path.join(tmpdir(), 'weft-check-'));
    store = await openLocalStore({ path: path.join(dir, 'store') });
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
});
