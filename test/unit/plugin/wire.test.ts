import { describe, expect, it } from 'vitest';
import { isWeftError } from '../../../src/model/errors.js';
import { decodeRequest, encodeResponse, formatPath, parseJsonBody } from '../../../src/plugin/decode.js';
import { BODYLESS_METHODS, EmptyRequest, METHODS, type MethodName } from '../../../src/plugin/wire.js';
import { bareIp, ipOrCidrFamily, isMac, parseCidr } from '../../../src/plugin/wire-formats.js';
import { fixture } from './recording-fakes.js';

const MISSING = Symbol('missing');
type Path = (string | number)[];

/** A copy of `body` with the value at `path` replaced (or removed). */
function withField(body: Record<string, unknown>, path: Path, value: unknown): Record<string, unknown> {
  const copy = structuredClone(body);
  let at: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (value === MISSING) delete at[last];
  else at[last] = value;
  return copy;
}

function rejection(method: MethodName, body: unknown): string {
  try {
    decodeRequest(method, body);
  } catch (e) {
    expect(isWeftError(e, 'WEFT_ERR_BAD_REQUEST')).toBe(true);
    return (e as Error).message;
  }
  throw new Error(`${method} accepted ${JSON.stringify(body)}`);
}

const BODY_METHODS = (Object.keys(METHODS) as MethodName[]).filter((m) => !BODYLESS_METHODS.has(m));

describe('request bodies: what every method shares', () => {
  it('has a recorded fixture for every method with a body', () => {
    expect(BODY_METHODS.length).toBe(17);
  });

  describe.each(BODY_METHODS)('%s', (method) => {
    it('accepts the recorded Docker body', () => {
      expect(() => decodeRequest(method, fixture(method))).not.toThrow();
    });

    it('drops unknown fields instead of refusing them', () => {
      const body = { ...fixture(method), FutureEngineKey: { nested: [1, 2] } };
      const out = decodeRequest(method, body) as Record<string, unknown>;
      expect(out).not.toHaveProperty('FutureEngineKey');
    });

    it('refuses an empty body', () => {
      expect(rejection(method, undefined)).toBe(`invalid request body for ${method}: empty body, expected a JSON object`);
    });

    it.each([[[]], ['text'], [5], [null], [true]])('refuses the non-object body %j', (body) => {
      expect(rejection(method, body)).toMatch(new RegExp(`^invalid request body for ${method.replace('.', '\\.')}: expected object`));
    });
  });
});

interface Case {
  path: Path;
  value: unknown;
  error: string;
}

const hexIdCases = (...fields: string[]): Case[] =>
  fields.flatMap((f) => [
    { path: [f], value: MISSING, error: `${f}: required (expected string)` },
    { path: [f], value: 42, error: `${f}: expected string, received number` },
    { path: [f], value: 'xyz-not-hex', error: `${f}: expected hex string` },
    { path: [f], value: 'A'.repeat(64), error: `${f}: expected hex string` },
    { path: [f], value: 'a'.repeat(65), error: `${f}: expected hex string` },
    { path: [f], value: '', error: `${f}: expected hex string` },
  ]);

const ipamDataCases = (list: 'IPv4Data' | 'IPv6Data'): Case[] => {
  const v = list === 'IPv4Data' ? 'IPv4' : 'IPv6';
  const other = list === 'IPv4Data' ? 'fd00::/64' : '10.0.0.0/8';
  return [
    { path: [list], value: { Pool: '10.0.0.0/8' }, error: `${list}: expected array, received object` },
    { path: [list, 0, 'Pool'], value: MISSING, error: `${list}[0].Pool: required (expected string)` },
    { path: [list, 0, 'Pool'], value: 10, error: `${list}[0].Pool: expected string, received number` },
    { path: [list, 0, 'Pool'], value: '10.50.0.0', error: `${list}[0].Pool: expected ${v} CIDR` },
    { path: [list, 0, 'Pool'], value: '10.50.0.0/33', error: `${list}[0].Pool: expected ${v} CIDR` },
    { path: [list, 0, 'Pool'], value: 'fd00::/129', error: `${list}[0].Pool: expected ${v} CIDR` },
    { path: [list, 0, 'Pool'], value: 'banana/16', error: `${list}[0].Pool: expected ${v} CIDR` },
    { path: [list, 0, 'Pool'], value: other, error: `${list}[0].Pool: expected ${v} CIDR` },
    { path: [list, 0, 'Gateway'], value: '10.50.0.256/16', error: `${list}[0].Gateway:` },
    { path: [list, 0, 'Gateway'], value: other, error: `${list}[0].Gateway:` },
    { path: [list, 0, 'AuxAddresses'], value: { r: 'nope' }, error: `${list}[0].AuxAddresses.r: expected ${v} address or CIDR` },
    { path: [list, 0, 'AuxAddresses'], value: ['10.0.0.1'], error: `${list}[0].AuxAddresses: expected record` },
  ];
};

const portCases = (opt: string, index = 0): Case[] => [
  { path: ['Options', opt, index, 'Proto'], value: 1, error: 'expected protocol number 6 (tcp), 17 (udp) or 132 (sctp)' },
  { path: ['Options', opt, index, 'Proto'], value: 'tcp', error: 'expected protocol number' },
  { path: ['Options', opt, index, 'Proto'], value: MISSING, error: 'expected protocol number' },
  { path: ['Options', opt, index, 'Port'], value: 0, error: `Options["${opt}"][${index}].Port: Too small` },
  { path: ['Options', opt, index, 'Port'], value: 65536, error: `Options["${opt}"][${index}].Port: Too big` },
  { path: ['Options', opt, index, 'Port'], value: 80.5, error: `Options["${opt}"][${index}].Port: expected int` },
  { path: ['Options', opt], value: { Proto: 6, Port: 80 }, error: `Options["${opt}"]: expected array, received object` },
];

/** Per method: bodies that must be refused, and the text the refusal must contain. */
const CASES: Record<string, Case[]> = {
  'NetworkDriver.CreateNetwork': [
    ...hexIdCases('NetworkID'),
    ...ipamDataCases('IPv4Data'),
    ...ipamDataCases('IPv6Data'),
    { path: ['Options', 'com.docker.network.enable_ipv6'], value: 'yes', error: 'Options["com.docker.network.enable_ipv6"]: expected boolean' },
    { path: ['Options', 'com.docker.network.internal'], value: 1, error: 'Options["com.docker.network.internal"]: expected boolean' },
    { path: ['Options', 'com.docker.network.generic'], value: 'mtu=1450', error: 'Options["com.docker.network.generic"]: expected record' },
    { path: ['Options'], value: [], error: 'Options: expected object, received array' },
  ],
  'NetworkDriver.AllocateNetwork': [
    ...hexIdCases('NetworkID'),
    ...ipamDataCases('IPv4Data'),
    { path: ['Options', 'vni'], value: 42, error: 'Options.vni: expected string, received number' },
  ],
  'NetworkDriver.FreeNetwork': hexIdCases('NetworkID'),
  'NetworkDriver.DeleteNetwork': hexIdCases('NetworkID'),
  'NetworkDriver.CreateEndpoint': [
    ...hexIdCases('NetworkID', 'EndpointID'),
    { path: ['Interface', 'Address'], value: '10.50.0.7', error: 'Interface.Address: expected IPv4 CIDR' },
    { path: ['Interface', 'Address'], value: 'fd00::7/64', error: 'Interface.Address: expected IPv4 CIDR' },
    { path: ['Interface', 'AddressIPv6'], value: '10.50.0.7/16', error: 'Interface.AddressIPv6: expected IPv6 CIDR' },
    { path: ['Interface', 'MacAddress'], value: '02-42-ac-11-00-02', error: 'Interface.MacAddress: expected colon-hex MAC' },
    { path: ['Interface', 'MacAddress'], value: 'yv4AABAC', error: 'Interface.MacAddress: expected colon-hex MAC' },
    { path: ['Interface', 'MacAddress'], value: '02:42:ac:11:00', error: 'Interface.MacAddress: expected colon-hex MAC' },
    { path: ['Interface'], value: '10.50.0.7/16', error: 'Interface: expected object, received string' },
    ...portCases('com.docker.network.portmap', 0),
    ...portCases('com.docker.network.endpoint.exposedports', 1),
    { path: ['Options', 'com.docker.network.portmap', 0, 'HostPort'], value: -1, error: 'HostPort: Too small' },
    { path: ['Options', 'com.docker.network.portmap', 0, 'HostPortEnd'], value: 8000, error: 'HostPortEnd: host port range 8080-8000 ends before it starts' },
    { path: ['Options', 'com.docker.network.portmap', 1, 'HostIP'], value: '127.0.0.1/8', error: 'HostIP: expected IP address or ""' },
    { path: ['Options', 'com.docker.network.portmap', 1, 'IP'], value: 'localhost', error: 'IP: expected IP address or ""' },
  ],
  'NetworkDriver.EndpointOperInfo': hexIdCases('NetworkID', 'EndpointID'),
  'NetworkDriver.DeleteEndpoint': hexIdCases('NetworkID', 'EndpointID'),
  'NetworkDriver.Leave': hexIdCases('NetworkID', 'EndpointID'),
  'NetworkDriver.RevokeExternalConnectivity': hexIdCases('NetworkID', 'EndpointID'),
  'NetworkDriver.ProgramExternalConnectivity': hexIdCases('NetworkID', 'EndpointID'),
  'NetworkDriver.Join': [
    ...hexIdCases('NetworkID', 'EndpointID'),
    { path: ['SandboxKey'], value: MISSING, error: 'SandboxKey: required (expected string)' },
    { path: ['SandboxKey'], value: 7, error: 'SandboxKey: expected string, received number' },
    { path: ['SandboxKey'], value: 'var/run/docker/netns/x', error: 'SandboxKey: expected an absolute path' },
    { path: ['SandboxKey'], value: '', error: 'SandboxKey: expected an absolute path' },
  ],
  'NetworkDriver.DiscoverNew': [
    { path: ['DiscoveryType'], value: MISSING, error: 'DiscoveryType: required' },
    { path: ['DiscoveryType'], value: '1', error: 'DiscoveryType: expected number, received string' },
  ],
  'NetworkDriver.DiscoverDelete': [{ path: ['DiscoveryType'], value: 1.5, error: 'DiscoveryType: expected int' }],
  'IpamDriver.RequestPool': [
    { path: ['AddressSpace'], value: 3, error: 'AddressSpace: expected string, received number' },
    { path: ['Pool'], value: '10.50.0.0', error: 'Pool: expected IP CIDR' },
    { path: ['Pool'], value: '10.50.0.0/99', error: 'Pool: expected IP CIDR' },
    { path: ['SubPool'], value: 'x/24', error: 'SubPool: expected IP CIDR' },
    { path: ['V6'], value: 'false', error: 'V6: expected boolean' },
    { path: ['V6'], value: true, error: 'Pool: IPv4 pool 10.50.0.0/16 with V6=true' },
    { path: ['SubPool'], value: 'fd00::/80', error: 'SubPool: IPv6 sub-pool in IPv4 pool 10.50.0.0/16' },
    { path: ['Pool'], value: '', error: 'SubPool: a sub-pool (--ip-range) needs a pool (--subnet)' },
    { path: ['Options', 'weft.owner'], value: 1, error: 'Options["weft.owner"]: expected string, received number' },
  ],
  'IpamDriver.ReleasePool': [
    { path: ['PoolID'], value: MISSING, error: 'PoolID: required' },
    { path: ['PoolID'], value: '', error: 'PoolID: must not be empty' },
    { path: ['PoolID'], value: 'a\nb', error: 'PoolID: must not contain control characters' },
    { path: ['PoolID'], value: 12, error: 'PoolID: expected string' },
  ],
  'IpamDriver.RequestAddress': [
    { path: ['PoolID'], value: MISSING, error: 'PoolID: required' },
    { path: ['Address'], value: '10.50.0.1/16', error: 'Address: expected IP address or ""' },
    { path: ['Address'], value: '10.50.0', error: 'Address: expected IP address or ""' },
    { path: ['Options', 'RequestAddressType'], value: true, error: 'Options.RequestAddressType: expected string' },
    { path: ['Options'], value: 'gateway', error: 'Options: expected record' },
  ],
  'IpamDriver.ReleaseAddress': [
    { path: ['PoolID'], value: MISSING, error: 'PoolID: required' },
    { path: ['Address'], value: MISSING, error: 'Address: required' },
    { path: ['Address'], value: '', error: 'Address: expected IP address or CIDR' },
    { path: ['Address'], value: 'fe80::1%eth0', error: 'Address: expected IP address or CIDR' },
  ],
};

describe('request bodies: fields that are missing, mistyped or meaningless', () => {
  it('covers every method with a body', () => {
    expect(Object.keys(CASES).sort()).toEqual([...BODY_METHODS].sort());
  });

  const rows = Object.entries(CASES).flatMap(([method, cases]) =>
    cases.map((c) => ({ method: method as MethodName, ...c, shown: c.value === MISSING ? '(missing)' : JSON.stringify(c.value) })),
  );
  it.each(rows)('$method: $path = $shown', ({ method, path, value, error }) => {
    const msg = rejection(method, withField(fixture(method), path, value));
    expect(msg.startsWith(`invalid request body for ${method}: `)).toBe(true);
    expect(msg).toContain(error);
  });

  it('names the field exactly as the brief example does', () => {
    const msg = rejection('NetworkDriver.CreateEndpoint', withField(fixture('NetworkDriver.CreateEndpoint'), ['EndpointID'], 'zz'));
    expect(msg).toMatch(/^invalid request body for NetworkDriver\.CreateEndpoint: EndpointID: expected hex string/);
  });

  it('lists several problems at once', () => {
    const msg = rejection('NetworkDriver.Leave', { NetworkID: 1, EndpointID: 'q' });
    expect(msg).toContain('NetworkID: expected string');
    expect(msg).toContain('; EndpointID: expected hex string');
  });
});

describe('request bodies: shapes Docker legitimately sends', () => {
  const accepted: Array<[MethodName, Path, unknown]> = [
    // Go marshals nil slices and maps as null (§2.3, §3)
    ['NetworkDriver.CreateNetwork', ['IPv6Data'], null],
    ['NetworkDriver.CreateNetwork', ['IPv4Data'], []],
    ['NetworkDriver.CreateNetwork', ['Options'], null],
    ['NetworkDriver.CreateNetwork', ['Options', 'com.docker.network.generic'], null],
    ['NetworkDriver.CreateNetwork', ['IPv4Data', 0, 'Gateway'], MISSING],
    ['NetworkDriver.CreateNetwork', ['IPv4Data', 0, 'Gateway'], '10.50.0.1'],
    ['NetworkDriver.CreateNetwork', ['IPv4Data', 0, 'AuxAddresses'], MISSING],
    ['NetworkDriver.CreateNetwork', ['IPv4Data', 0, 'AddressSpace'], ''],
    ['NetworkDriver.CreateEndpoint', ['Interface'], null],
    ['NetworkDriver.CreateEndpoint', ['Interface', 'MacAddress'], 'CA:FE:00:00:10:02'],
    ['NetworkDriver.CreateEndpoint', ['Interface', 'AddressIPv6'], 'fd00:50::7/64'],
    ['NetworkDriver.CreateEndpoint', ['Options'], null],
    ['NetworkDriver.CreateEndpoint', ['Options', 'com.docker.network.portmap'], null],
    ['NetworkDriver.CreateEndpoint', ['Options', 'com.docker.network.portmap', 0, 'HostPortEnd'], 8090],
    ['NetworkDriver.CreateEndpoint', ['Options', 'com.docker.network.portmap', 1, 'HostIP'], '::1'],
    ['NetworkDriver.Join', ['Options'], MISSING],
    ['NetworkDriver.EndpointOperInfo', ['NetworkID'], 'abc123'],
    ['IpamDriver.RequestPool', ['SubPool'], ''],
    ['IpamDriver.RequestPool', ['Options'], null],
    ['IpamDriver.RequestPool', ['AddressSpace'], ''],
    ['IpamDriver.RequestAddress', ['Address'], ''],
    ['IpamDriver.RequestAddress', ['Options'], null],
    ['IpamDriver.RequestAddress', ['Address'], 'fd00:50::1'],
    ['IpamDriver.ReleaseAddress', ['Address'], '10.50.0.7/16'],
  ];
  it.each(accepted)('%s: %j = %j', (method, path, value) => {
    expect(() => decodeRequest(method, withField(fixture(method), path, value))).not.toThrow();
  });

  it('accepts a pool request without a pool (auto-chosen), IPv4 and IPv6', () => {
    expect(decodeRequest('IpamDriver.RequestPool', { AddressSpace: 'local', Pool: '', SubPool: '', Options: {}, V6: false }).Pool).toBe('');
    const out = decodeRequest('IpamDriver.RequestPool', { AddressSpace: 'local', Pool: '', SubPool: '', Options: null, V6: true });
    expect(out.V6).toBe(true);
  });

  it('drops unknown keys inside nested objects too', () => {
    const body = withField(fixture('NetworkDriver.CreateEndpoint'), ['Interface', 'DstName'], 'eth9');
    const out = decodeRequest('NetworkDriver.CreateEndpoint', body);
    expect(out.Interface).not.toHaveProperty('DstName');
    // The base64 MAC and user driver-opts are not part of the schema: dropped, not refused.
    expect(out.Options).not.toHaveProperty('com.docker.network.endpoint.macaddress');
  });
});

describe('bodyless methods', () => {
  it.each([...BODYLESS_METHODS])('%s takes an empty body (its schema ignores the body)', (method) => {
    expect(METHODS[method].request).toBe(EmptyRequest);
    expect(EmptyRequest.safeParse(undefined).success).toBe(true);
  });
});

describe('parseJsonBody', () => {
  it('returns undefined for an empty body and parses JSON followed by a newline', () => {
    expect(parseJsonBody('X.Y', '')).toBeUndefined();
    expect(parseJsonBody('X.Y', '{"a":1}\n')).toEqual({ a: 1 });
  });
  it('refuses text that is not JSON, naming the method', () => {
    expect(() => parseJsonBody('NetworkDriver.Join', '{"NetworkID":')).toThrow(/^invalid request body for NetworkDriver\.Join: not valid JSON/);
  });
});

describe('responses are checked before they leave', () => {
  it('refuses a Join gateway with a prefix length', () => {
    expect(() =>
      encodeResponse('NetworkDriver.Join', { Gateway: '10.50.0.1/16', StaticRoutes: [], DisableGatewayService: false }),
    ).toThrow(/invalid NetworkDriver\.Join response: Gateway: expected IPv4 address/);
  });
  it('refuses a RouteType 0 route without a next hop, and an over-long interface name', () => {
    expect(() =>
      encodeResponse('NetworkDriver.Join', {
        StaticRoutes: [{ Destination: '10.0.0.0/8', RouteType: 0, NextHop: '' }],
        DisableGatewayService: false,
      }),
    ).toThrow(/NextHop: a RouteType 0 route needs a next hop/);
    expect(() =>
      encodeResponse('NetworkDriver.Join', {
        InterfaceName: { SrcName: 'wf0123456789abcdef', DstPrefix: 'eth' },
        StaticRoutes: [],
        DisableGatewayService: false,
      }),
    ).toThrow(/InterfaceName\.SrcName: expected interface name/);
  });
  it('refuses a bare IP where Docker needs a CIDR, and extra keys', () => {
    expect(() => encodeResponse('IpamDriver.RequestAddress', { Address: '10.0.0.1', Data: {} })).toThrow(/Address: expected IP CIDR/);
    expect(() => encodeResponse('NetworkDriver.CreateEndpoint', { Interface: { MacAddress: 'x' } })).toThrow(/MacAddress/);
    expect(() => encodeResponse('Plugin.Activate', { Implements: ['NetworkDriver'], Extra: 1 } as never)).toThrow(/Unrecognized key/);
  });
});

describe('address formats', () => {
  it('parses CIDRs of both families and rejects the rest', () => {
    expect(parseCidr('10.50.0.7/16')).toEqual({ ip: '10.50.0.7', prefix: 16, family: 4 });
    expect(parseCidr('fd00::1/64')).toEqual({ ip: 'fd00::1', prefix: 64, family: 6 });
    for (const bad of ['10.50.0.7', '10.50.0.7/', '10.50.0.7/x', '10.50.0.7/+1', '10.1/8', '::/129', 'fe80::1%eth0/64', '/8']) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
    expect(ipOrCidrFamily('10.0.0.1')).toBe(4);
    expect(ipOrCidrFamily('::1/128')).toBe(6);
    expect(ipOrCidrFamily('host')).toBe(0);
    expect(bareIp('10.50.0.1/16')).toBe('10.50.0.1');
    expect(bareIp('10.50.0.1')).toBe('10.50.0.1');
    expect(isMac('02:42:AC:11:00:02')).toBe(true);
    expect(isMac('0242ac110002')).toBe(false);
  });

  it('formats field paths the way users write them', () => {
    expect(formatPath(['IPv4Data', 0, 'Pool'])).toBe('IPv4Data[0].Pool');
    expect(formatPath(['Options', 'com.docker.network.generic', 'x'])).toBe('Options["com.docker.network.generic"].x');
  });
});
