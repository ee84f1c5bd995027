import { describe, expect, it } from 'vitest';
import { ErrorCodes, WeftError, isWeftError } from '../../../src/model/errors.js';
import { networkDriverHandlers as h } from '../../../src/plugin/handlers/network-driver.js';
import { stringifyOption, toPortMapping } from '../../../src/plugin/handlers/network-mapping.js';
import { ENDPOINT_ID, NETWORK_ID, SANDBOX_KEY, fixture, makeCtx } from './recording-fakes.js';

const call = (method: string, body: unknown, env = makeCtx()) => h[method]!(body, env.ctx);

async function rejectsWith(p: Promise<unknown>, code: string): Promise<WeftError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isWeftError(e), `expected a WeftError ${code}, got ${String(e)}`).toBe(true);
  expect((e as WeftError).code).toBe(code);
  return e as WeftError;
}

describe('NetworkDriver.GetCapabilities', () => {
  it('answers the controller\'s capabilities for the socket\'s driver', async () => {
    const env = makeCtx({ name: 'weft-overlay', implements: ['NetworkDriver'], driver: 'overlay' });
    env.controller.caps = { scope: 'local', connectivityScope: 'global' };
    expect(await call('NetworkDriver.GetCapabilities', undefined, env)).toEqual({ Scope: 'local', ConnectivityScope: 'global' });
    expect(env.controller.calls).toEqual([{ op: 'capabilities', args: ['overlay'] }]);
  });

  it('never fails: a controller error gives the defaults and an error log', async () => {
    const env = makeCtx({ name: 'weft-overlay', implements: ['NetworkDriver'], driver: 'overlay' });
    env.controller.fail.capabilities = new WeftError(ErrorCodes.DRIVER_NOT_FOUND, 'no driver overlay');
    expect(await call('NetworkDriver.GetCapabilities', undefined, env)).toEqual({ Scope: 'local', ConnectivityScope: 'global' });
    const bridge = makeCtx();
    bridge.controller.fail.capabilities = new Error('boom');
    expect(await call('NetworkDriver.GetCapabilities', 'garbage', bridge)).toEqual({ Scope: 'local', ConnectivityScope: 'local' });
    expect(bridge.lines().some((l) => l.level === 50 && String(l.msg).includes('capabilities unavailable'))).toBe(true);
  });
});

describe('NetworkDriver.CreateNetwork', () => {
  it('maps options and IPAM data into a docker-origin CreateNetworkRequest', async () => {
    const env = makeCtx({ name: 'weft-macvlan', implements: ['NetworkDriver'], driver: 'macvlan' });
    expect(await call('NetworkDriver.CreateNetwork', fixture('NetworkDriver.CreateNetwork'), env)).toEqual({});
    expect(env.controller.calls).toEqual([
      {
        op: 'createNetwork',
        args: [
          {
            id: NETWORK_ID,
            driver: 'macvlan',
            origin: 'docker',
            options: { 'com.docker.network.driver.mtu': '1450', vni: '42', flag: 'true' },
            internal: false,
            enableIPv6: true,
            ipv4: [{ subnet: '10.50.0.0/16', gateway: '10.50.0.1', auxAddresses: { router: '10.50.0.2' } }],
            ipv6: [{ subnet: 'fd00:50::/64', gateway: 'fd00:50::1', auxAddresses: {} }],
          },
        ],
      },
    ]);
  });

  it('reads --internal, and takes null options and lists as empty', async () => {
    const env = makeCtx();
    await call(
      'NetworkDriver.CreateNetwork',
      { NetworkID: 'ab12', Options: { 'com.docker.network.internal': true, 'com.docker.network.generic': null }, IPv4Data: null, IPv6Data: null },
      env,
    );
    const req = env.controller.calls[0]!.args[0];
    expect(req).toEqual({ id: 'ab12', driver: 'bridge', origin: 'docker', options: {}, internal: true, enableIPv6: false, ipv4: [], ipv6: [] });
    await call('NetworkDriver.CreateNetwork', { NetworkID: 'ab13', Options: null }, env);
    expect(env.controller.calls[1]!.args[0]).toMatchObject({ options: {}, internal: false, enableIPv6: false, ipv4: [], ipv6: [] });
  });

  it('stringifies non-string generic options', () => {
    expect(stringifyOption('x')).toBe('x');
    expect(stringifyOption(42)).toBe('42');
    expect(stringifyOption(false)).toBe('false');
    expect(stringifyOption(null)).toBe('');
    expect(stringifyOption({ a: [1] })).toBe('{"a":[1]}');
  });

  it('passes a controller refusal through unchanged', async () => {
    const env = makeCtx();
    env.controller.fail.createNetwork = new WeftError(ErrorCodes.POOL_OVERLAP, 'subnet 10.50.0.0/16 overlaps network red');
    const e = await rejectsWith(call('NetworkDriver.CreateNetwork', fixture('NetworkDriver.CreateNetwork'), env), ErrorCodes.POOL_OVERLAP);
    expect(e.message).toBe('subnet 10.50.0.0/16 overlaps network red');
  });
});

describe('swarm-only and discovery calls', () => {
  it('AllocateNetwork answers empty Options, FreeNetwork and Discover* answer {} without touching the controller', async () => {
    const env = makeCtx();
    expect(await call('NetworkDriver.AllocateNetwork', fixture('NetworkDriver.AllocateNetwork'), env)).toEqual({ Options: {} });
    expect(await call('NetworkDriver.FreeNetwork', fixture('NetworkDriver.FreeNetwork'), env)).toEqual({});
    expect(await call('NetworkDriver.DiscoverNew', fixture('NetworkDriver.DiscoverNew'), env)).toEqual({});
    expect(await call('NetworkDriver.DiscoverDelete', fixture('NetworkDriver.DiscoverDelete'), env)).toEqual({});
    expect(env.controller.calls).toEqual([]);
  });
});

describe('deletes and leaves are tolerant of what is already gone', () => {
  const cases: Array<[string, string, string, unknown[]]> = [
    ['NetworkDriver.DeleteNetwork', 'deleteNetwork', ErrorCodes.NETWORK_NOT_FOUND, [NETWORK_ID]],
    ['NetworkDriver.DeleteEndpoint', 'deleteEndpoint', ErrorCodes.ENDPOINT_NOT_FOUND, [NETWORK_ID, ENDPOINT_ID]],
    ['NetworkDriver.Leave', 'leave', ErrorCodes.ENDPOINT_NOT_FOUND, [NETWORK_ID, ENDPOINT_ID]],
    ['NetworkDriver.RevokeExternalConnectivity', 'revokeExternalConnectivity', ErrorCodes.NETWORK_NOT_FOUND, [NETWORK_ID, ENDPOINT_ID]],
  ];
  it.each(cases)('%s calls %s and treats %s as done', async (method, op, code, args) => {
    const env = makeCtx();
    expect(await call(method, fixture(method), env)).toEqual({});
    expect(env.controller.calls).toEqual([{ op, args }]);
    (env.controller.fail as Record<string, unknown>)[op] = new WeftError(code as never, 'gone');
    expect(await call(method, fixture(method), env)).toEqual({});
  });

  it.each(cases)('%s reports real failures', async (method, op) => {
    const env = makeCtx();
    (env.controller.fail as Record<string, unknown>)[op] = new WeftError(ErrorCodes.COMMAND_FAILED, 'ip link del failed');
    await rejectsWith(call(method, fixture(method), env), ErrorCodes.COMMAND_FAILED);
  });
});

describe('NetworkDriver.CreateEndpoint', () => {
  it('passes addresses and -p bindings (not exposed-only ports) to the controller', async () => {
    const env = makeCtx();
    expect(await call('NetworkDriver.CreateEndpoint', fixture('NetworkDriver.CreateEndpoint'), env)).toEqual({});
    expect(env.controller.calls).toEqual([
      {
        op: 'createEndpoint',
        args: [
          {
            networkId: NETWORK_ID,
            endpointId: ENDPOINT_ID,
            origin: 'docker',
            addressV4: '10.50.0.7/16',
            portMappings: [
              { proto: 'tcp', containerPort: 80, hostPort: 8080, hostPortEnd: 8080, hostIp: '' },
              { proto: 'udp', containerPort: 53, hostPort: 0, hostPortEnd: 0, hostIp: '127.0.0.1' },
            ],
          },
        ],
      },
    ]);
  });

  it('maps protocol numbers and fills a missing range end', () => {
    expect(toPortMapping({ Proto: 132, Port: 9, HostPort: 99 })).toEqual({ proto: 'sctp', containerPort: 9, hostPort: 99, hostPortEnd: 99, hostIp: '' });
    expect(toPortMapping({ Proto: 17, Port: 9, HostPort: 100, HostPortEnd: 110, HostIP: '::1' })).toMatchObject({ proto: 'udp', hostPortEnd: 110, hostIp: '::1' });
  });

  it('answers a MAC the driver chose when Docker sent none, but never echoes the address', async () => {
    const env = makeCtx();
    env.controller.iface = { macAddress: '02:42:0A:32:00:07', addressV4: '10.50.0.7/16', srcName: 'wfc0123456789a' };
    expect(await call('NetworkDriver.CreateEndpoint', fixture('NetworkDriver.CreateEndpoint'), env)).toEqual({
      Interface: { MacAddress: '02:42:0a:32:00:07' },
    });
  });

  it('answers {} when Docker already set every field the driver returns, even with equal values', async () => {
    const env = makeCtx();
    const body = fixture('NetworkDriver.CreateEndpoint');
    body.Interface = { Address: '10.50.0.7/16', AddressIPv6: 'fd00:50::7/64', MacAddress: 'CA:FE:00:00:10:02' };
    env.controller.iface = { macAddress: 'ca:fe:00:00:10:02', addressV4: '10.50.0.7/16', addressV6: 'fd00:50::7/64' };
    expect(await call('NetworkDriver.CreateEndpoint', body, env)).toEqual({});
    expect(env.controller.calls[0]!.args[0]).toMatchObject({ addressV6: 'fd00:50::7/64', mac: 'ca:fe:00:00:10:02' });
    expect(env.lines().filter((l) => l.level === 40)).toEqual([]);
  });

  it('keeps Docker\'s value and warns when the driver disagrees', async () => {
    const env = makeCtx();
    const body = fixture('NetworkDriver.CreateEndpoint');
    body.Interface = { Address: '10.50.0.7/16', AddressIPv6: '', MacAddress: 'ca:fe:00:00:10:02' };
    env.controller.iface = { macAddress: '02:00:00:00:00:01' };
    expect(await call('NetworkDriver.CreateEndpoint', body, env)).toEqual({});
    expect(env.lines().find((l) => l.level === 40)).toMatchObject({ dropped: ['MacAddress=02:00:00:00:00:01'] });
  });

  it('fills only the gaps Docker left (an IPv6 address IPAM did not allocate)', async () => {
    const env = makeCtx();
    env.controller.iface = { addressV4: '10.50.0.7/16', addressV6: 'fd00:50::7/64' };
    expect(await call('NetworkDriver.CreateEndpoint', fixture('NetworkDriver.CreateEndpoint'), env)).toEqual({
      Interface: { AddressIPv6: 'fd00:50::7/64' },
    });
  });

  it('answers {} when the request had no Interface at all', async () => {
    const env = makeCtx();
    env.controller.iface = { macAddress: '02:42:0a:32:00:07' };
    expect(await call('NetworkDriver.CreateEndpoint', { NetworkID: 'ab', EndpointID: 'cd', Interface: null }, env)).toEqual({});
    expect(env.controller.calls[0]!.args[0]).toEqual({ networkId: 'ab', endpointId: 'cd', origin: 'docker' });
  });

  it('refuses to send Docker a malformed MAC from the driver', async () => {
    const env = makeCtx();
    env.controller.iface = { macAddress: '02:42' };
    const e = await rejectsWith(call('NetworkDriver.CreateEndpoint', fixture('NetworkDriver.CreateEndpoint'), env), ErrorCodes.INTERNAL);
    expect(e.message).toContain('invalid NetworkDriver.CreateEndpoint response: Interface.MacAddress');
  });
});

describe('NetworkDriver.Join', () => {
  it('hands the SandboxKey over as the sandbox path and answers bare gateways', async () => {
    const env = makeCtx();
    env.controller.joinResult = {
      interface: { srcName: 'wfc4b9d1e0f6c2a', dstPrefix: 'eth' },
      gatewayV4: '10.50.0.1/16',
      gatewayV6: 'fd00:50::1',
      staticRoutes: [
        { destination: '169.254.1.1/32', routeType: 1 },
        { destination: '192.168.100.0/24', routeType: 0, nextHop: '10.50.0.254' },
      ],
      disableGatewayService: true,
    };
    expect(await call('NetworkDriver.Join', fixture('NetworkDriver.Join'), env)).toEqual({
      InterfaceName: { SrcName: 'wfc4b9d1e0f6c2a', DstPrefix: 'eth' },
      Gateway: '10.50.0.1',
      GatewayIPv6: 'fd00:50::1',
      StaticRoutes: [
        { Destination: '169.254.1.1/32', RouteType: 1, NextHop: '' },
        { Destination: '192.168.100.0/24', RouteType: 0, NextHop: '10.50.0.254' },
      ],
      DisableGatewayService: true,
    });
    expect(env.controller.calls).toEqual([
      { op: 'join', args: [NETWORK_ID, ENDPOINT_ID, { path: SANDBOX_KEY }] },
    ]);
  });

  it('leaves InterfaceName and gateways out when the driver gives none (none driver)', async () => {
    const env = makeCtx({ name: 'weft-none', implements: ['NetworkDriver'], driver: 'none' });
    env.controller.joinResult = { staticRoutes: [], disableGatewayService: true };
    expect(await call('NetworkDriver.Join', fixture('NetworkDriver.Join'), env)).toEqual({ StaticRoutes: [], DisableGatewayService: true });
  });

  it('passes a Join failure through', async () => {
    const env = makeCtx();
    env.controller.fail.join = new WeftError(ErrorCodes.NETNS_NOT_FOUND, 'namespace /x not found');
    await rejectsWith(call('NetworkDriver.Join', fixture('NetworkDriver.Join'), env), ErrorCodes.NETNS_NOT_FOUND);
  });
});

describe('NetworkDriver.EndpointOperInfo', () => {
  it('wraps the controller\'s info in Value', async () => {
    const env = makeCtx();
    env.controller.info = { mac: '02:42:0a:32:00:07' };
    expect(await call('NetworkDriver.EndpointOperInfo', fixture('NetworkDriver.EndpointOperInfo'), env)).toEqual({
      Value: { mac: '02:42:0a:32:00:07' },
    });
    expect(env.controller.calls).toEqual([{ op: 'endpointInfo', args: [NETWORK_ID, ENDPOINT_ID] }]);
  });

  it.each([
    [new WeftError(ErrorCodes.ENDPOINT_NOT_FOUND, 'no endpoint'), 20],
    [new WeftError(ErrorCodes.STORE_UNAVAILABLE, 'store down'), 40],
  ])('never fails a container start: %s gives an empty Value', async (err, level) => {
    const env = makeCtx();
    env.controller.fail.endpointInfo = err;
    expect(await call('NetworkDriver.EndpointOperInfo', fixture('NetworkDriver.EndpointOperInfo'), env)).toEqual({ Value: {} });
    expect(env.lines().some((l) => l.level === level)).toBe(true);
  });
});

describe('NetworkDriver.ProgramExternalConnectivity', () => {
  it('calls the controller and passes failures on (Docker aborts the start)', async () => {
    const env = makeCtx();
    expect(await call('NetworkDriver.ProgramExternalConnectivity', fixture('NetworkDriver.ProgramExternalConnectivity'), env)).toEqual({});
    expect(env.controller.calls).toEqual([{ op: 'programExternalConnectivity', args: [NETWORK_ID, ENDPOINT_ID] }]);
    env.controller.fail.programExternalConnectivity = new WeftError(ErrorCodes.ENDPOINT_NOT_FOUND, 'no endpoint');
    await rejectsWith(call('NetworkDriver.ProgramExternalConnectivity', fixture('NetworkDriver.ProgramExternalConnectivity'), env), ErrorCodes.ENDPOINT_NOT_FOUND);
  });
});

describe('a bad body calls nothing', () => {
  const methods = Object.keys(h).filter((m) => m !== 'NetworkDriver.GetCapabilities');
  it.each(methods)('%s', async (method) => {
    const env = makeCtx();
    const body = { ...fixture(method), NetworkID: 'not hex', DiscoveryType: 'x' };
    const e = await rejectsWith(call(method, body, env), ErrorCodes.BAD_REQUEST);
    expect(e.message.startsWith(`invalid request body for ${method}: `)).toBe(true);
    expect(env.controller.calls).toEqual([]);
    expect(env.ipam.calls).toEqual([]);
  });
});
