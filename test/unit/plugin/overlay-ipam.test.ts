// weft-overlay through Docker, IPAM and driver side (src/plugin/handlers/overlay-ipam.ts,
// overlay-network.ts): two hosts' engines asking weft's IPAM for "a pool" with --ipam-opt
// weft.network=NAME get the cluster network's one global pool, never hand out one address twice,
// and cannot release what the network holds. The IPAM is the real one (two IpamService instances,
// hosts h1 and h2, over one store holding the global space); the cluster network record is what
// the controller stand-in returns once it "exists".

import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Controller } from '../../../src/controller/controller.js';
import { ErrorCodes, WeftError, isWeftError } from '../../../src/model/errors.js';
import type { NetworkRecord } from '../../../src/model/network.js';
import { DockerBindings } from '../../../src/plugin/docker-bindings.js';
import type { HandlerContext } from '../../../src/plugin/handlers/context.js';
import { ipamDriverHandlers as ipamH } from '../../../src/plugin/handlers/ipam-driver.js';
import { networkDriverHandlers as netH } from '../../../src/plugin/handlers/network-driver.js';
import { mappedPoolId, parseMappedPoolId } from '../../../src/plugin/handlers/overlay-ipam.js';
import { makeFixture, type Fixture } from '../ipam/fixture.js';

const OPTS = { 'weft.network': 'ov1' };
const IPAM_PLUGIN = { name: 'weft', implements: ['IpamDriver'] as const };
const OVERLAY_PLUGIN = { name: 'weft-overlay', implements: ['NetworkDriver'] as const, driver: 'overlay' as const };

/** What the controller knows: the cluster network once "created", and what createNetwork got. */
class ClusterView {
  nets: NetworkRecord[] = [];
  created: unknown[] = [];
  deleted: unknown[] = [];
  controller(): Controller {
    const notFound = (n: string) => new WeftError(ErrorCodes.NETWORK_NOT_FOUND, `network "${n}" not found`);
    return {
      getNetwork: async (n: string) => this.nets.find((x) => x.name === n || x.id === n) ?? Promise.reject(notFound(n)),
      listNetworks: async () => this.nets,
      createNetwork: async (req: unknown) => {
        this.created.push(req);
        return req as NetworkRecord;
      },
      deleteNetwork: async (...args: unknown[]) => {
        this.deleted.push(args);
      },
    } as unknown as Controller;
  }
}

let fx: Fixture;
let view: ClusterView;
let host: Record<'h1' | 'h2', { ipam: HandlerContext; net: HandlerContext }>;

beforeEach(async () => {
  fx = await makeFixture();
  view = new ClusterView();
  const log = pino({ level: 'silent' });
  const mk = (hostId: string) => {
    const base = { controller: view.controller(), ipam: fx.ipam({ hostId }), log, bindings: new DockerBindings(fx.store) };
    return { ipam: { ...base, plugin: IPAM_PLUGIN }, net: { ...base, plugin: OVERLAY_PLUGIN } };
  };
  host = { h1: mk('h1'), h2: mk('h2') };
});
afterEach(async () => fx.cleanup());

const requestPool = (ctx: HandlerContext, body: Record<string, unknown>) =>
  ipamH['IpamDriver.RequestPool']!({ AddressSpace: 'local', Pool: '', SubPool: '', V6: false, Options: OPTS, ...body }, ctx) as Promise<{ PoolID: string; Pool: string; Data: Record<string, string> }>;
const requestAddress = (ctx: HandlerContext, PoolID: string, Address = '', gateway = false) =>
  ipamH['IpamDriver.RequestAddress']!({ PoolID, Address, Options: gateway ? { RequestAddressType: 'com.docker.network.gateway' } : null }, ctx) as Promise<{ Address: string }>;
const createNetwork = (ctx: HandlerContext, NetworkID: string, pool: string, generic: Record<string, string> = OPTS, AddressSpace = 'local') =>
  netH['NetworkDriver.CreateNetwork']!(
    { NetworkID, Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': generic }, IPv4Data: [{ AddressSpace, Pool: pool, Gateway: '10.60.0.1/24' }], IPv6Data: [] },
    ctx,
  );
async function rejection(p: Promise<unknown>): Promise<WeftError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isWeftError(e)) throw new Error(`expected a WeftError, got ${String(e)}`);
  return e;
}

/** The cluster network as the controller would record it after h1's create. */
function exists(poolId: string): NetworkRecord {
  const n: NetworkRecord = {
    id: 'a'.repeat(64),
    name: 'ov1',
    driver: 'overlay',
    origin: 'docker',
    options: OPTS,
    internal: false,
    enableIPv6: false,
    ipv4: [{ subnet: '10.60.0.0/24', gateway: '10.60.0.1', auxAddresses: {}, poolId }],
    ipv6: [],
    createdAt: '2026-01-01T00:00:00Z',
  };
  view.nets = [n];
  return n;
}

describe('mapped pool ids', () => {
  it('carry the network name and the global pool id, and nothing else parses as one', () => {
    expect(mappedPoolId('ov1', 'global/10.60.0.0/24')).toBe('weft.network/ov1/global/10.60.0.0/24');
    expect(parseMappedPoolId('weft.network/ov1/global/10.60.0.0/24')).toEqual({ name: 'ov1', poolId: 'global/10.60.0.0/24' });
    for (const other of ['global/10.60.0.0/24', 'local/10.1.0.0/24', 'weft.network/ov1', 'weft.network//x', 'weft.network/-bad/global/x']) expect(parseMappedPoolId(other)).toBeUndefined();
  });
});

describe('RequestPool with --ipam-opt weft.network', () => {
  it('creates the global pool named after the network, whatever space the engine asks in; a second engine gets the same pool', async () => {
    const first = await requestPool(host.h1.ipam, { Pool: '10.60.0.0/24' });
    expect(first).toEqual({ PoolID: 'weft.network/ov1/global/10.60.0.0/24', Pool: '10.60.0.0/24', Data: {} });
    const pools = await fx.ipam().listPools();
    expect(pools.map((p) => [p.poolId, p.network])).toEqual([['global/10.60.0.0/24', 'ov1']]);
    // Before the network record exists (a concurrent or retried create): the same pending pool.
    expect((await requestPool(host.h2.ipam, {})).PoolID).toBe(first.PoolID);
  });

  it('answers the existing network\'s pool with its gateway, and refuses a different --subnet or --gateway', async () => {
    const first = await requestPool(host.h1.ipam, { Pool: '10.60.0.0/24' });
    const gw = await requestAddress(host.h1.ipam, first.PoolID, '', true);
    expect(gw.Address).toBe('10.60.0.1/24');
    exists('global/10.60.0.0/24');
    expect(await requestPool(host.h2.ipam, {})).toEqual({ PoolID: first.PoolID, Pool: '10.60.0.0/24', Data: { 'com.docker.network.gateway': '10.60.0.1/24' } });
    const e = await rejection(requestPool(host.h2.ipam, { Pool: '10.61.0.0/24' }));
    expect(e.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(e.message).toMatch(/has subnet 10\.60\.0\.0\/24, not 10\.61\.0\.0\/24/);
    // --gateway on a bound engine: the network's own is fine, another is refused; no second gateway is taken.
    expect((await requestAddress(host.h2.ipam, first.PoolID, '10.60.0.1', true)).Address).toBe('10.60.0.1/24');
    expect((await rejection(requestAddress(host.h2.ipam, first.PoolID, '10.60.0.9', true))).message).toMatch(/has gateway 10\.60\.0\.1, not 10\.60\.0\.9/);
    expect((await fx.ipam().allocations('global/10.60.0.0/24')).filter((a) => a.kind === 'gateway')).toHaveLength(1);
  });

  it('hands out every container address once across engines, and never releases the network\'s gateway or pool', async () => {
    const { PoolID } = await requestPool(host.h1.ipam, { Pool: '10.60.0.0/24' });
    await requestAddress(host.h1.ipam, PoolID, '', true);
    exists('global/10.60.0.0/24');
    const got: string[] = [];
    for (let i = 0; i < 6; i++) got.push((await requestAddress(i % 2 ? host.h2.ipam : host.h1.ipam, PoolID)).Address);
    expect(new Set(got).size).toBe(6);
    expect(got).not.toContain('10.60.0.1/24');
    // An engine dropping its copy: releases the gateway, then the pool. Both stay while the network exists.
    await ipamH['IpamDriver.ReleaseAddress']!({ PoolID, Address: '10.60.0.1' }, host.h2.ipam);
    await ipamH['IpamDriver.ReleasePool']!({ PoolID }, host.h2.ipam);
    const pool = await fx.ipam().getPool('global/10.60.0.0/24');
    expect(pool?.network).toBe('ov1');
    expect((await fx.ipam().allocations('global/10.60.0.0/24')).map((a) => a.address)).toContain('10.60.0.1');
    // A container address is the engine's to release.
    await ipamH['IpamDriver.ReleaseAddress']!({ PoolID, Address: got[0]!.split('/')[0] }, host.h1.ipam);
    expect((await fx.ipam().allocations('global/10.60.0.0/24')).map((a) => a.address)).not.toContain(got[0]!.split('/')[0]);
  });

  it('releases the pool of a create that was rolled back (no network holds it)', async () => {
    const { PoolID } = await requestPool(host.h1.ipam, { Pool: '10.60.0.0/24' });
    await requestAddress(host.h1.ipam, PoolID, '', true);
    await ipamH['IpamDriver.ReleaseAddress']!({ PoolID, Address: '10.60.0.1' }, host.h1.ipam);
    await ipamH['IpamDriver.ReleasePool']!({ PoolID }, host.h1.ipam);
    expect(await fx.ipam().listPools()).toEqual([]);
  });
});

describe('CreateNetwork on weft-overlay', () => {
  it('refuses a network without -o weft.network, naming the command to run', async () => {
    const e = await rejection(createNetwork(host.h1.net, 'b'.repeat(64), '10.60.0.0/24', {}));
    expect(e.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(e.message).toMatch(/two hosts would hand out the same addresses/);
    expect(e.message).toContain('docker network create -d weft-overlay -o weft.network=NAME --ipam-driver weft --ipam-opt weft.network=NAME --subnet 10.60.0.0/24 NAME');
    expect(view.created).toEqual([]);
  });

  it('refuses pools that weft\'s IPAM did not give for the network: Docker\'s default IPAM, or weft\'s without --ipam-opt', async () => {
    const byDocker = await rejection(createNetwork(host.h1.net, 'b'.repeat(64), '10.60.0.0/24', OPTS, 'LocalDefault'));
    expect(byDocker.code).toBe(ErrorCodes.NOT_SUPPORTED);
    expect(byDocker.message).toMatch(/not Docker's default IPAM.*two hosts would hand out the same addresses/);
    expect(byDocker.message).toContain('docker network create -d weft-overlay -o weft.network=ov1 --ipam-driver weft --ipam-opt weft.network=ov1 --subnet 10.60.0.0/24 ov1');
    const noOpt = await rejection(createNetwork(host.h1.net, 'b'.repeat(64), '10.60.0.0/24', OPTS, 'local'));
    expect(noOpt.message).toMatch(/needs --ipam-opt weft\.network=ov1/);
    expect(view.created).toEqual([]);
  });

  it('creates the cluster network named after the identity, then binds a second engine\'s NetworkID to it', async () => {
    await requestPool(host.h1.ipam, { Pool: '10.60.0.0/24' });
    await createNetwork(host.h1.net, 'a'.repeat(64), '10.60.0.0/24');
    expect(view.created).toMatchObject([{ id: 'a'.repeat(64), name: 'ov1', driver: 'overlay', origin: 'docker' }]);
    expect(await host.h1.net.bindings!.get('a'.repeat(64))).toMatchObject({ networkId: 'a'.repeat(64), name: 'ov1' });
    exists('global/10.60.0.0/24');
    // A claim is used once: the same create cannot be replayed without its RequestPool.
    expect((await rejection(createNetwork(host.h2.net, 'c'.repeat(64), '10.60.0.0/24'))).code).toBe(ErrorCodes.NOT_SUPPORTED);
    await requestPool(host.h2.ipam, {});
    await createNetwork(host.h2.net, 'c'.repeat(64), '10.60.0.0/24');
    expect(view.created).toHaveLength(1);
    expect(await host.h2.net.bindings!.resolve('c'.repeat(64))).toBe('a'.repeat(64));
  });

  it("DeleteNetwork of an id that is no overlay network (a bridge network's, an unknown one) deletes nothing", async () => {
    const ov = exists('global/10.60.0.0/24');
    view.nets.push({ ...ov, id: 'b'.repeat(64), name: 'docker-bbbbbbbbbbbb', driver: 'bridge', ipv4: [] });
    for (const id of ['b'.repeat(64), 'd'.repeat(64)]) {
      expect(await netH['NetworkDriver.DeleteNetwork']!({ NetworkID: id }, host.h1.net)).toEqual({});
    }
    expect(view.deleted).toEqual([]);
  });

  it('DeleteNetwork of a copy only unbinds it; of the creating engine\'s network removes it from the cluster', async () => {
    exists('global/10.60.0.0/24');
    await host.h2.net.bindings!.put({ dockerId: 'c'.repeat(64), networkId: 'a'.repeat(64), name: 'ov1' });
    await host.h1.net.bindings!.put({ dockerId: 'a'.repeat(64), networkId: 'a'.repeat(64), name: 'ov1' });
    await netH['NetworkDriver.DeleteNetwork']!({ NetworkID: 'c'.repeat(64) }, host.h2.net);
    expect(view.deleted).toEqual([]);
    expect(await host.h2.net.bindings!.get('c'.repeat(64))).toBeUndefined();
    expect(host.h2.net.bindings!.dropped()).toEqual(new Set(['c'.repeat(64)]));
    await netH['NetworkDriver.DeleteNetwork']!({ NetworkID: 'a'.repeat(64) }, host.h1.net);
    expect(view.deleted).toEqual([['a'.repeat(64), 'docker']]);
  });
});
