import { describe, expect, it } from 'vitest';
import { ErrorCodes, WeftError, isWeftError } from '../../../src/model/errors.js';
import { activateHandlers } from '../../../src/plugin/handlers/activate.js';
import { addressKindOf, ipamDriverHandlers as h } from '../../../src/plugin/handlers/ipam-driver.js';
import { PLUGINS, handlersFor } from '../../../src/plugin/plugins.js';
import { IPAM_PLUGIN, fixture, makeCtx } from './recording-fakes.js';

const ipamCtx = () => makeCtx(IPAM_PLUGIN);
const call = (method: string, body: unknown, env = ipamCtx()) => h[method]!(body, env.ctx);

async function rejectsWith(p: Promise<unknown>, code: string): Promise<WeftError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isWeftError(e, code as never), `expected ${code}, got ${String(e)}`).toBe(true);
  return e as WeftError;
}

describe('IpamDriver.GetCapabilities and GetDefaultAddressSpaces', () => {
  it('declares no MAC and no replay, without asking anybody', async () => {
    const env = ipamCtx();
    expect(await call('IpamDriver.GetCapabilities', undefined, env)).toEqual({ RequiresMACAddress: false, RequiresRequestReplay: false });
    expect(env.ipam.calls).toEqual([]);
  });

  it('answers the IPAM\'s default address spaces', async () => {
    const env = ipamCtx();
    env.ipam.spaces = { local: 'weft-local', global: 'weft-global' };
    expect(await call('IpamDriver.GetDefaultAddressSpaces', undefined, env)).toEqual({
      LocalDefaultAddressSpace: 'weft-local',
      GlobalDefaultAddressSpace: 'weft-global',
    });
  });
});

describe('IpamDriver.RequestPool', () => {
  it('maps --subnet, --ip-range and --ipam-opt, and answers PoolID/Pool/Data', async () => {
    const env = ipamCtx();
    env.ipam.poolInfo = { ...env.ipam.poolInfo, data: { 'com.docker.network.gateway': '10.50.0.1/16' } };
    expect(await call('IpamDriver.RequestPool', fixture('IpamDriver.RequestPool'), env)).toEqual({
      PoolID: 'local/10.50.0.0/16',
      Pool: '10.50.0.0/16',
      Data: { 'com.docker.network.gateway': '10.50.0.1/16' },
    });
    expect(env.ipam.calls).toEqual([
      {
        op: 'requestPool',
        args: [{ addressSpace: 'local', pool: '10.50.0.0/16', subPool: '10.50.1.0/24', options: { 'weft.owner': 'blue' }, v6: false }],
      },
    ]);
  });

  it('asks for a default pool when Docker sends none, with the family from V6', async () => {
    const env = ipamCtx();
    await call('IpamDriver.RequestPool', { AddressSpace: 'local', Pool: '', SubPool: '', Options: null, V6: true }, env);
    expect(env.ipam.calls[0]!.args[0]).toEqual({ addressSpace: 'local', v6: true });
  });

  it('takes the family from an explicit pool when V6 is missing', async () => {
    const env = ipamCtx();
    await call('IpamDriver.RequestPool', { AddressSpace: 'local', Pool: 'fd00:50::/64' }, env);
    expect(env.ipam.calls[0]!.args[0]).toEqual({ addressSpace: 'local', pool: 'fd00:50::/64', v6: true });
  });

  it('passes an IPAM refusal through', async () => {
    const env = ipamCtx();
    env.ipam.fail.requestPool = new WeftError(ErrorCodes.POOL_OVERLAP, '10.50.0.0/16 overlaps pool of network red');
    await rejectsWith(call('IpamDriver.RequestPool', fixture('IpamDriver.RequestPool'), env), ErrorCodes.POOL_OVERLAP);
  });
});

describe('IpamDriver.ReleasePool', () => {
  it('releases, and answers {} even when the IPAM fails (logged)', async () => {
    const env = ipamCtx();
    expect(await call('IpamDriver.ReleasePool', fixture('IpamDriver.ReleasePool'), env)).toEqual({});
    env.ipam.fail.releasePool = new WeftError(ErrorCodes.STORE_UNAVAILABLE, 'store down');
    expect(await call('IpamDriver.ReleasePool', fixture('IpamDriver.ReleasePool'), env)).toEqual({});
    expect(env.ipam.calls.map((c) => c.args)).toEqual([['local/10.50.0.0/16'], ['local/10.50.0.0/16']]);
    expect(env.lines().find((l) => l.level === 40)).toMatchObject({ poolId: 'local/10.50.0.0/16' });
  });
});

describe('IpamDriver.RequestAddress', () => {
  it('marks the gateway request as kind gateway', async () => {
    const env = ipamCtx();
    env.ipam.addressInfo = { address: '10.50.0.1/16' };
    expect(await call('IpamDriver.RequestAddress', fixture('IpamDriver.RequestAddress'), env)).toEqual({ Address: '10.50.0.1/16', Data: {} });
    expect(env.ipam.calls).toEqual([{ op: 'requestAddress', args: [{ poolId: 'local/10.50.0.0/16', kind: 'gateway', address: '10.50.0.1' }] }]);
  });

  it('treats explicit addresses (aux, --ip) and free picks as endpoint addresses', async () => {
    const env = ipamCtx();
    await call('IpamDriver.RequestAddress', { PoolID: 'p1', Address: '10.50.0.2', Options: null }, env);
    await call('IpamDriver.RequestAddress', { PoolID: 'p1', Address: '', Options: { 'com.docker.network.endpoint.macaddress': '02:42:0a:32:00:07' } }, env);
    expect(env.ipam.calls.map((c) => c.args[0])).toEqual([
      { poolId: 'p1', kind: 'endpoint', address: '10.50.0.2' },
      { poolId: 'p1', kind: 'endpoint' },
    ]);
    expect(addressKindOf({ RequestAddressType: 'something.else' })).toBe('endpoint');
  });

  it('passes exhaustion through (Docker fails the start)', async () => {
    const env = ipamCtx();
    env.ipam.fail.requestAddress = new WeftError(ErrorCodes.POOL_EXHAUSTED, 'pool 10.50.0.0/30 is exhausted');
    await rejectsWith(call('IpamDriver.RequestAddress', fixture('IpamDriver.RequestAddress'), env), ErrorCodes.POOL_EXHAUSTED);
  });

  it('refuses to hand Docker a bare IP from the IPAM', async () => {
    const env = ipamCtx();
    env.ipam.addressInfo = { address: '10.50.0.9' };
    await rejectsWith(call('IpamDriver.RequestAddress', fixture('IpamDriver.RequestAddress'), env), ErrorCodes.INTERNAL);
  });
});

describe('IpamDriver.ReleaseAddress', () => {
  it('releases the address, and reports failures', async () => {
    const env = ipamCtx();
    expect(await call('IpamDriver.ReleaseAddress', fixture('IpamDriver.ReleaseAddress'), env)).toEqual({});
    expect(env.ipam.calls).toEqual([{ op: 'releaseAddress', args: ['local/10.50.0.0/16', '10.50.0.7'] }]);
    env.ipam.fail.releaseAddress = new WeftError(ErrorCodes.STORE_UNAVAILABLE, 'store down');
    await rejectsWith(call('IpamDriver.ReleaseAddress', fixture('IpamDriver.ReleaseAddress'), env), ErrorCodes.STORE_UNAVAILABLE);
  });
});

describe('a bad body calls nothing', () => {
  it.each(['IpamDriver.RequestPool', 'IpamDriver.ReleasePool', 'IpamDriver.RequestAddress', 'IpamDriver.ReleaseAddress'])('%s', async (method) => {
    const env = ipamCtx();
    await rejectsWith(call(method, { ...fixture(method), PoolID: 7, Pool: 'x' }, env), ErrorCodes.BAD_REQUEST);
    expect(env.ipam.calls).toEqual([]);
  });
});

describe('plugins and Plugin.Activate', () => {
  it('serves one NetworkDriver socket per weft driver and one IPAM socket', () => {
    expect(PLUGINS.map((p) => [p.name, p.implements, p.driver])).toEqual([
      ['weft-bridge', ['NetworkDriver'], 'bridge'],
      ['weft-host', ['NetworkDriver'], 'host'],
      ['weft-none', ['NetworkDriver'], 'none'],
      ['weft-macvlan', ['NetworkDriver'], 'macvlan'],
      ['weft-overlay', ['NetworkDriver'], 'overlay'],
      ['weft', ['IpamDriver'], undefined],
    ]);
  });

  it('routes each socket to exactly its interfaces', () => {
    const bridge = Object.keys(handlersFor(PLUGINS[0]!));
    expect(bridge).toContain('Plugin.Activate');
    expect(bridge).toContain('NetworkDriver.Join');
    expect(bridge.some((m) => m.startsWith('IpamDriver.'))).toBe(false);
    const ipam = Object.keys(handlersFor(IPAM_PLUGIN));
    expect(ipam.filter((m) => !m.startsWith('IpamDriver.'))).toEqual(['Plugin.Activate']);
  });

  it.each(PLUGINS.map((p) => [p.name, p] as const))('Activate on %s lists its interfaces and touches nothing', async (_name, plugin) => {
    const env = makeCtx(plugin);
    const res = await activateHandlers['Plugin.Activate']!(undefined, env.ctx);
    expect(res).toEqual({ Implements: [...plugin.implements] });
    expect(JSON.stringify(res)).not.toContain('VolumeDriver');
    expect(env.controller.calls).toEqual([]);
    expect(env.ipam.calls).toEqual([]);
  });
});
