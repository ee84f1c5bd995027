// ScopedRecords: overlay networks in the cluster store, everything else and every endpoint in the
// host's own store; names unique across both.

import { beforeEach, describe, expect, it } from 'vitest';
import { Records } from '../../../src/controller/records.js';
import { ScopedRecords } from '../../../src/controller/scoped-records.js';
import type { DriverName, NetworkRecord } from '../../../src/model/network.js';
import type { LocalStore } from '../../../src/store/local-store.js';
import { unitScopePerTest } from '../../helpers/unit-container.js';

const rec = (id: string, name: string, driver: DriverName): NetworkRecord => ({
  id: id.repeat(64),
  name,
  driver,
  origin: 'weft',
  options: {},
  internal: false,
  enableIPv6: false,
  ipv4: [],
  ipv6: [],
  createdAt: new Date().toISOString(),
});

describe('ScopedRecords', () => {
  const scope = unitScopePerTest();
  let local: LocalStore;
  let cluster: LocalStore;
  let other: LocalStore;
  beforeEach(async () => {
    const dir = await scope.tempDir('weft-scoped-');
    local = await scope.openStore(dir, 'local');
    cluster = await scope.openStore(dir, 'cluster');
    other = await scope.openStore(dir, 'other-host');
  });

  const scoped = (mine: LocalStore) => new ScopedRecords(mine, cluster, (d) => d === 'overlay');

  it('keeps overlay networks in the cluster store, visible from every host', async () => {
    const h1 = scoped(local);
    const h2 = scoped(other);
    expect(await h1.createNetwork(rec('a', 'ov', 'overlay'))).toBe(true);
    expect(await h1.createNetwork(rec('b', 'br', 'bridge'))).toBe(true);
    expect((await new Records(cluster).networks()).map((n) => n.name)).toEqual(['ov']);
    expect((await new Records(local).networks()).map((n) => n.name)).toEqual(['br']);
    expect((await h2.networks()).map((n) => n.name)).toEqual(['ov']);
    expect(await h2.networkIdByName('ov')).toBe('a'.repeat(64));
    expect((await h2.network('a'.repeat(64)))?.driver).toBe('overlay');
  });

  it('keeps names unique across both stores', async () => {
    const h1 = scoped(local);
    const h2 = scoped(other);
    expect(await h1.createNetwork(rec('a', 'n1', 'overlay'))).toBe(true);
    expect(await h2.createNetwork(rec('b', 'n1', 'bridge'))).toBe(false);
    expect(await h2.createNetwork(rec('c', 'n2', 'bridge'))).toBe(true);
    expect(await h2.createNetwork(rec('d', 'n2', 'overlay'))).toBe(false);
  });

  it('keeps endpoints per host and deletes a global network with this host\'s endpoint records', async () => {
    const h1 = scoped(local);
    const net = rec('a', 'ov', 'overlay');
    await h1.createNetwork(net);
    await h1.createEndpoint({ id: 'e'.repeat(64), networkId: net.id, origin: 'weft', createdAt: new Date().toISOString() });
    expect(await new Records(local).endpoints(net.id)).toHaveLength(1);
    expect(await new Records(cluster).endpoints(net.id)).toHaveLength(0);
    await h1.deleteNetwork(net);
    expect(await h1.networks()).toEqual([]);
    expect(await new Records(local).endpoints(net.id)).toEqual([]);
  });
});
