// Crash recovery at start (src/controller/recovery.ts): each half-state a SIGKILL can leave is
// planted in a real embedded store, then settled: unanswered creates rolled back, started deletes
// finished, addresses and pools taken for records never written released. The `none` driver keeps
// the kernel out of it; the e2e churn test does the same with bridges, veths and Docker.

import { describe, expect, it } from 'vitest';
import { Records } from '../../../src/controller/records.js';
import { CrashRecovery } from '../../../src/controller/recovery.js';
import type { EndpointRecord, NetworkRecord } from '../../../src/model/network.js';
import { unitScopePerTest } from '../../helpers/unit-container.js';

const id = (c: string) => c.repeat(64);

describe('crash recovery', () => {
  const scope = unitScopePerTest();

  it('rolls back unanswered creates, finishes started deletes, releases what no record holds', async () => {
    const { s, store, logger, runner } = await scope.container('weft-recovery-');
    const records = new Records(store);
    const space = s.ipam.defaultAddressSpaces().local;
    const now = new Date().toISOString();
    const net = (i: string, over: Partial<NetworkRecord>): NetworkRecord => ({ id: id(i), name: `n${i}`, driver: 'none', origin: 'weft', options: {}, internal: false, enableIPv6: false, ipv4: [], ipv6: [], createdAt: now, ...over });
    const ep = (i: string, networkId: string, over: Partial<EndpointRecord>): EndpointRecord => ({ id: id(i), networkId, origin: 'weft', createdAt: now, ...over });

    // A weft network with its pool, as `network create` leaves it.
    const pool = await s.ipam.requestPool({ addressSpace: space, pool: '10.9.1.0/24', v6: false, network: 'n1' });
    await records.createNetwork(net('1', { ipv4: [{ subnet: '10.9.1.0/24', auxAddresses: {}, poolId: pool.poolId }] }));
    // Connected and joined: stays, with its address.
    const kept = await s.ipam.requestAddress({ poolId: pool.poolId, kind: 'endpoint', owner: id('a') });
    await records.createEndpoint(ep('a', id('1'), { addressV4: kept.address, sandbox: { path: '/proc/self/ns/net' } }));
    // Connect cut after the record, before the join: rolled back, address released.
    const cut = await s.ipam.requestAddress({ poolId: pool.poolId, kind: 'endpoint', owner: id('b') });
    await records.createEndpoint(ep('b', id('1'), { addressV4: cut.address }));
    // Connect cut after the address, before the record: address released.
    const lost = await s.ipam.requestAddress({ poolId: pool.poolId, kind: 'endpoint', owner: id('c') });
    // Disconnect cut midway: finished.
    const leaving = await s.ipam.requestAddress({ poolId: pool.poolId, kind: 'endpoint', owner: id('d') });
    await records.createEndpoint(ep('d', id('1'), { addressV4: leaving.address, sandbox: { path: '/proc/self/ns/net' }, deleting: true }));
    // Docker's own request (no owner) is Docker's business: kept.
    const docker = await s.ipam.requestAddress({ poolId: pool.poolId, kind: 'endpoint' });

    // Network create cut before the kernel: rolled back with its pool.
    const pendingPool = await s.ipam.requestPool({ addressSpace: space, pool: '10.9.2.0/24', v6: false, network: 'n2' });
    await records.createNetwork(net('2', { pending: true, ipv4: [{ subnet: '10.9.2.0/24', auxAddresses: {}, poolId: pendingPool.poolId }] }));
    // Pools taken for a network whose record was never written: released.
    await s.ipam.requestPool({ addressSpace: space, pool: '10.9.3.0/24', v6: false, network: 'n3' });
    // A pool Docker took through weft's IPAM (no network name): kept.
    const dockerPool = await s.ipam.requestPool({ addressSpace: space, pool: '10.9.4.0/24', v6: false });

    // Docker network: an endpoint never joined (Docker forgot it) goes, a joined one stays.
    await records.createNetwork(net('5', { origin: 'docker', name: 'docker-555555555555' }));
    await records.createEndpoint(ep('e', id('5'), { origin: 'docker' }));
    await records.createEndpoint(ep('f', id('5'), { origin: 'docker', sandbox: { path: '/proc/self/ns/net' } }));

    const report = await new CrashRecovery(records, s.drivers, s.ipam, runner, logger).run();

    expect(report.failed).toEqual([]);
    expect(report.rolledBackNetworks).toEqual([id('2')]);
    expect(report.rolledBackEndpoints.sort()).toEqual([id('b'), id('e')]);
    expect(report.finishedDeletes).toEqual([id('d')]);
    expect((await records.networks()).map((n) => n.id).sort()).toEqual([id('1'), id('5')]);
    expect((await records.endpoints()).map((e) => e.id).sort()).toEqual([id('a'), id('f')]);
    const held = (await s.ipam.allocations(pool.poolId)).filter((a) => a.kind === 'endpoint').map((a) => a.address).sort();
    expect(held).toEqual([kept.address, docker.address].map((a) => a.split('/')[0]!).sort());
    expect(held).not.toContain(lost.address.split('/')[0]);
    expect((await s.ipam.listPools()).map((p) => p.pool).sort()).toEqual(['10.9.1.0/24', '10.9.4.0/24']);
    expect(dockerPool.pool).toBe('10.9.4.0/24');

    // A second run finds nothing to do.
    const again = await new CrashRecovery(records, s.drivers, s.ipam, runner, logger).run();
    expect([again.rolledBackNetworks, again.rolledBackEndpoints, again.finishedDeletes, again.releasedAddresses, again.releasedPools].flat()).toEqual([]);
  });
});
