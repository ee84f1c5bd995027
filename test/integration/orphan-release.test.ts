// An address a Docker network's IPAM (weft's) handed out and no endpoint has: the built weftd's
// periodic pass releases it by itself once older than WEFT_ORPHAN_GRACE, and keeps the network's
// gateway, its aux address, a live endpoint's address and the addresses of a pool no weft network
// uses (Docker's own driver with weft's IPAM). No dockerd: the test speaks dockerd's side of the
// plugin wire, as `docker network create -d weft-bridge --ipam-driver weft --aux-address ...` and
// a RequestAddress whose answer a crash lost would.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsScopePerFile } from '../helpers/netns.js';
import { sleep } from '../helpers/process.js';
import { closeAgents, pluginCall, rawCall } from '../helpers/weft-wire.js';
import { startWeftdInNetns, type WeftdHandle } from '../helpers/weftd.js';

const GRACE_S = 3;

describe('orphan addresses of a Docker network', () => {
  const scope = netnsScopePerFile();
  let weftd: WeftdHandle;
  let poolId = '';
  let foreignPool = '';

  const plugin = async (name: string, method: string, body: unknown) => {
    const r = await pluginCall(`${weftd.pluginDir}/${name}.sock`, method, JSON.stringify(body));
    return { status: r.status, body: JSON.parse(r.body || '{}') as Record<string, string> };
  };
  const pluginOk = async (name: string, method: string, body: unknown) => {
    const r = await plugin(name, method, body);
    if (r.status !== 200) throw new Error(`${method}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const orphanFindings = async () => {
    const r = await rawCall(weftd.socket, 'GET', '/v1/check');
    const report = JSON.parse(r.body) as { findings: { kind: string; object: string }[] };
    return report.findings.filter((f) => f.kind === 'orphan-allocation').map((f) => f.object);
  };
  /** Whether the IPAM holds the address: asking for it again is refused with ADDRESS_IN_USE. */
  const held = async (pool: string, address: string) => {
    const r = await plugin('weft', 'IpamDriver.RequestAddress', { PoolID: pool, Address: address, Options: null });
    if (r.status === 200) {
      await pluginOk('weft', 'IpamDriver.ReleaseAddress', { PoolID: pool, Address: address });
      return false;
    }
    expect(JSON.stringify(r.body)).toContain('WEFT_ERR_ADDRESS_IN_USE');
    return true;
  };

  beforeAll(async () => {
    const host = await scope.create();
    const sandbox = await scope.create();
    weftd = await startWeftdInNetns(scope, host, { args: ['--reconcile-interval', '1'], env: { WEFT_ORPHAN_GRACE: String(GRACE_S) } });
    poolId = (await pluginOk('weft', 'IpamDriver.RequestPool', { AddressSpace: 'local', Pool: '10.47.0.0/24', SubPool: '', Options: {}, V6: false })).PoolID!;
    const gw = await pluginOk('weft', 'IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } });
    // Docker asks for aux addresses as plain addresses, with no type.
    await pluginOk('weft', 'IpamDriver.RequestAddress', { PoolID: poolId, Address: '10.47.0.200', Options: null });
    const networkId = randomBytes(32).toString('hex');
    await pluginOk('weft-bridge', 'NetworkDriver.CreateNetwork', {
      NetworkID: networkId,
      Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': {} },
      IPv4Data: [{ AddressSpace: 'local', Pool: '10.47.0.0/24', Gateway: gw.Address, AuxAddresses: { router: '10.47.0.200/24' } }],
      IPv6Data: [],
    });
    const addr = await pluginOk('weft', 'IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: null });
    expect(addr.Address).toBe('10.47.0.2/24');
    const endpointId = randomBytes(32).toString('hex');
    await pluginOk('weft-bridge', 'NetworkDriver.CreateEndpoint', { NetworkID: networkId, EndpointID: endpointId, Interface: { Address: addr.Address, AddressIPv6: '', MacAddress: '' }, Options: {} });
    await pluginOk('weft-bridge', 'NetworkDriver.Join', { NetworkID: networkId, EndpointID: endpointId, SandboxKey: sandbox.path, Options: {} });
    // A pool no weft network uses (Docker's own bridge driver with weft's IPAM): never touched.
    foreignPool = (await pluginOk('weft', 'IpamDriver.RequestPool', { AddressSpace: 'local', Pool: '10.48.0.0/24', SubPool: '', Options: {}, V6: false })).PoolID!;
    await pluginOk('weft', 'IpamDriver.RequestAddress', { PoolID: foreignPool, Address: '10.48.0.5', Options: null });
  }, 60_000);

  afterAll(() => {
    closeAgents();
  });

  it('is released by the periodic pass once older than the grace, the rest kept', async () => {
    expect(await orphanFindings()).toEqual([]);
    // The RequestAddress whose answer a crash lost: no CreateEndpoint follows.
    await pluginOk('weft', 'IpamDriver.RequestAddress', { PoolID: poolId, Address: '10.47.0.50', Options: null });
    const released = () => weftd.log().split('\n').find((l) => l.includes('"object":"address 10.47.0.50"') && l.includes('"outcome":"repaired"'));
    const deadline = Date.now() + 30_000;
    while (!released() && Date.now() < deadline) await sleep(250);
    const line = released();
    expect(line, 'the release is logged').toBeDefined();
    expect(line).toContain('address released (Docker asked for it');
    expect(await orphanFindings()).toEqual([]);
    expect(await held(poolId, '10.47.0.50')).toBe(false);
    // Kept: the gateway, the aux address, the live endpoint's, the foreign pool's.
    expect(await held(poolId, '10.47.0.1')).toBe(true);
    expect(await held(poolId, '10.47.0.200')).toBe(true);
    expect(await held(poolId, '10.47.0.2')).toBe(true);
    expect(await held(foreignPool, '10.48.0.5')).toBe(true);
    // Released no earlier than the grace after it was handed out.
    const ages = /Docker asked for it (\d+) s ago/.exec(line!);
    expect(Number(ages?.[1])).toBeGreaterThanOrEqual(GRACE_S);
  }, 60_000);
});
