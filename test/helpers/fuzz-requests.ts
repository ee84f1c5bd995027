// Mutated requests for the fuzz test (test/integration/fuzz.test.ts), derived from the recorded
// plugin requests in test/fixtures/plugin and from the management API's bodies. A seeded PRNG
// makes every run reproducible: the same seed gives the same requests in the same order.
//
// Every case says what must happen to it:
// - 'error': an error with a stable code (plugin: HTTP 500 {"Err": "... [CODE]"}; API: 4xx with
//   {"error": {"code"}}) and no change to the store;
// - 'noop': the request is harmless by the protocol (a stale delete of an unknown id, a read),
//   so it may succeed, but it must change nothing either.
// Cases are built so that no mutation can turn one into a valid, state-changing request: the
// semantic ones carry their wrongness in a field the mutation does not touch, the wrong-type ones
// replace a typed field with a value of another type.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------- PRNG

/** mulberry32: small, fast, good enough to pick mutations; seeded so a failure reproduces. */
export class Rng {
  private s: number;
  constructor(readonly seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(16)];
    return s;
  }
}

// ---------------------------------------------------------------- recorded requests

const FIXTURES = fileURLToPath(new URL('../fixtures/plugin/', import.meta.url));

/** A recorded request body (parsed), e.g. fixture('NetworkDriver.Join'). */
export function fixture(method: string): Record<string, unknown> {
  return JSON.parse(readFileSync(`${FIXTURES}${method}.json`, 'utf8')) as Record<string, unknown>;
}

const clone = <T>(v: T): T => structuredClone(v);

// ---------------------------------------------------------------- hostile values

/** Strings that must never reach a shell, a path or a kernel name unchecked. */
export const HOSTILE = [
  '$(reboot)',
  '`reboot`',
  ';reboot',
  'eth0;reboot',
  'a && touch /tmp/weft-pwned',
  '| nc 127.0.0.1 1',
  '../x',
  '../../etc/passwd',
  'a/b',
  'a\nb',
  'line\r\nX-Injected: 1',
  'a\u0000b',
  '\u0000',
  'abcdefghijklmnop', // 16 characters: one more than IFNAMSIZ allows
  'x'.repeat(300),
  'ünïcødé',
  'сеть',
  '网络',
  '😀',
  '\u202ertl',
  ' ',
  'a b',
  '',
  '${IFS}',
  "'",
  '"',
  '\\',
  '%s%n%x',
  '*',
  '.',
  '..',
] as const;

/** Hostile values that are not valid interface names (for options whose value is an ifname). */
export const BAD_IFNAMES = HOSTILE.filter((s) => s !== '');
/** Hostile values that are not valid network names (16 characters is a fine network name). */
export const BAD_NETWORK_NAMES = HOSTILE.filter((s) => s !== 'abcdefghijklmnop');

const BAD_MTUS = ['-1', '0', '67', '65536', '99999999999', '1e3', '1450.5', ' 1450', 'abc', '$(reboot)', '1450;reboot', '0x5aa', ''] as const;
const HUGE_NUMBERS = [-1, -2147483649, 2 ** 31, 2 ** 53 + 1, 1e308, -1e308, 0.5, -0] as const;

// ---------------------------------------------------------------- cases

export type Expect = 'error' | 'noop';

export interface PluginCase {
  via: 'plugin';
  /** Plugin socket name: weft-bridge, weft, ... */
  plugin: string;
  method: string;
  body: string | Buffer;
  expect: Expect;
  label: string;
}

export interface ApiCase {
  via: 'api';
  httpMethod: 'GET' | 'POST' | 'DELETE' | 'PUT';
  path: string;
  body?: string | Buffer;
  expect: Expect;
  label: string;
}

export type FuzzCase = PluginCase | ApiCase;

/** What exists in weftd when the fuzzing starts (made by valid requests in the test). */
export interface FuzzWorld {
  /** A Docker bridge network (weft-bridge) with pool `pool` from weft's IPAM and one joined endpoint. */
  networkId: string;
  endpointId: string;
  endpointAddr: string; // bare IP held by endpointId
  poolId: string;
  pool: string; // 10.50.0.0/16
  gateway: string; // bare IP
  /** A weft-none Docker network. */
  noneNetworkId: string;
  /** A network made through the API, with `connectedNetns` connected at `connectedIp`. */
  apiNetwork: string;
  apiSubnet: string;
  connectedNetns: string;
  connectedIp: string;
  /** A namespace that exists and is connected to nothing. */
  freeNetns: string;
  /** This weftd's host id (DELETE /v1/hosts/<it> without force must be refused: it is up). */
  selfHostId: string;
}

const j = (v: unknown): string => JSON.stringify(v);

/** Ids that name nothing: fresh hex, plus prefixes of real ids (Docker always sends full ids, so a
 *  prefix must not resolve to the real object on the plugin wire). */
function unknownId(r: Rng, w: FuzzWorld): string {
  return r.pick([r.hex(64), r.hex(64), r.hex(1 + r.int(63)), w.endpointId.slice(0, 12), w.networkId.slice(0, 12), w.endpointId.slice(0, 63)]);
}

/** A subnet nobody uses, in 10.200.0.0/13 (never given to a valid request in the test). */
const freshSubnet = (r: Rng): string => `10.${200 + r.int(8)}.${r.int(256)}.0/24`;

/** Subnets that overlap something that exists (the plugin pool, the API network), or everything. */
function overlapping(r: Rng, w: FuzzWorld): string {
  return r.pick([w.pool, '10.50.3.0/24', '10.50.0.0/17', '10.0.0.0/8', '0.0.0.0/0', w.apiSubnet, '10.60.0.128/25', '10.60.0.0/16']);
}

/** Addresses that are outside the world's plugin pool. */
const outsidePool = (r: Rng): string => r.pick(['10.99.0.5', '10.51.0.1', '192.0.2.1', '127.0.0.1', '0.0.0.0', '255.255.255.255', '224.0.0.1', '10.60.0.9']);

// ---- plugin: well-formed JSON, right types, wrong meaning

type Gen = (r: Rng, w: FuzzWorld) => FuzzCase;

const plugin = (pluginName: string, method: string, body: unknown, expect: Expect, label: string): PluginCase => ({
  via: 'plugin',
  plugin: pluginName,
  method,
  body: typeof body === 'string' ? body : j(body),
  expect,
  label,
});

/** A CreateNetwork that would be valid on a fresh subnet, before its one mutation. */
function createNetworkBase(r: Rng): Record<string, unknown> {
  const subnet = freshSubnet(r);
  const gw = subnet.replace(/0\/24$/, '1/24');
  return {
    NetworkID: r.hex(64),
    Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': { 'com.docker.network.driver.mtu': '1450' } },
    IPv4Data: [{ AddressSpace: 'local', Pool: subnet, Gateway: gw }],
    IPv6Data: [],
  };
}

const semanticPlugin: Gen[] = [
  // CreateNetwork (weft-bridge): hostile bridge names, mtu, unknown options, overlaps, foreign gateways
  (r) => {
    const b = createNetworkBase(r);
    const key = r.pick(['com.docker.network.bridge.name', 'bridge', 'com.docker.network.container_iface_prefix']);
    (b.Options as Record<string, Record<string, unknown>>)['com.docker.network.generic']![key] = r.pick(BAD_IFNAMES);
    return plugin('weft-bridge', 'NetworkDriver.CreateNetwork', b, 'error', `CreateNetwork ${key}=hostile`);
  },
  (r) => {
    const b = createNetworkBase(r);
    (b.Options as Record<string, Record<string, unknown>>)['com.docker.network.generic']!['com.docker.network.driver.mtu'] = r.chance(0.8) ? r.pick(BAD_MTUS) : r.pick(HUGE_NUMBERS);
    return plugin('weft-bridge', 'NetworkDriver.CreateNetwork', b, 'error', 'CreateNetwork bad mtu');
  },
  (r) => {
    const b = createNetworkBase(r);
    const k = r.pick([...HOSTILE.filter((s) => s !== ''), 'parent', 'vni', 'com.docker.network.bridge.enable_icc']);
    // enable_icc exists but takes only true/false.
    (b.Options as Record<string, Record<string, unknown>>)['com.docker.network.generic']![k] = r.pick(HOSTILE.filter((s) => !['0', '1'].includes(s)));
    return plugin('weft-bridge', 'NetworkDriver.CreateNetwork', b, 'error', 'CreateNetwork unknown/hostile option');
  },
  (r, w) => {
    const b = createNetworkBase(r);
    const pool = overlapping(r, w);
    (b.IPv4Data as Array<Record<string, unknown>>)[0] = { AddressSpace: 'local', Pool: pool };
    return plugin('weft-bridge', 'NetworkDriver.CreateNetwork', b, 'error', `CreateNetwork overlapping ${pool}`);
  },
  (r) => {
    const b = createNetworkBase(r);
    const d = (b.IPv4Data as Array<Record<string, unknown>>)[0]!;
    if (r.chance(0.5)) d.Gateway = `${outsidePool(r)}/24`;
    else d.AuxAddresses = { [r.pick(HOSTILE)]: `${outsidePool(r)}/24` };
    return plugin('weft-bridge', 'NetworkDriver.CreateNetwork', b, 'error', 'CreateNetwork gateway/aux outside pool');
  },
  (r, w) => {
    const b = createNetworkBase(r);
    // Docker may repeat a CreateNetwork it rolled back: the same id on the same driver is answered
    // with the existing network, whatever else the body says, and changes nothing.
    b.NetworkID = w.networkId;
    return plugin('weft-bridge', 'NetworkDriver.CreateNetwork', b, 'noop', 'CreateNetwork existing id');
  },
  (r) => {
    // weft-none takes no options; weft-host and weft-overlay refuse Docker networks altogether.
    const b = createNetworkBase(r);
    const sock = r.pick(['weft-none', 'weft-host', 'weft-overlay']);
    if (sock === 'weft-none') {
      b.IPv4Data = [];
      (b.Options as Record<string, Record<string, unknown>>)['com.docker.network.generic'] = { [r.pick(['parent', 'mtu', 'x'])]: r.pick(HOSTILE) };
    }
    return plugin(sock, 'NetworkDriver.CreateNetwork', b, 'error', `CreateNetwork on ${sock}`);
  },
  (r) => {
    // macvlan: hostile or missing parents, bad modes (no parent on this host is usable: it has none).
    const b = createNetworkBase(r);
    const generic: Record<string, unknown> = r.chance(0.5)
      ? { parent: r.pick([...BAD_IFNAMES, 'nosuchif0']) }
      : { parent: 'nosuchif0', macvlan_mode: r.pick(['bridgex', '$(reboot)', 'private;reboot', '']) };
    (b.Options as Record<string, unknown>)['com.docker.network.generic'] = generic;
    return plugin('weft-macvlan', 'NetworkDriver.CreateNetwork', b, 'error', 'CreateNetwork macvlan hostile parent/mode');
  },
  // CreateEndpoint: unknown network, existing endpoint, foreign / taken / special addresses
  (r, w) => {
    const b = clone(fixture('NetworkDriver.CreateEndpoint'));
    b.NetworkID = r.chance(0.5) ? r.hex(64) : w.networkId.slice(0, 12);
    b.EndpointID = r.hex(64);
    return plugin('weft-bridge', 'NetworkDriver.CreateEndpoint', b, 'error', 'CreateEndpoint unknown network');
  },
  (r, w) => {
    const b = { NetworkID: w.networkId, EndpointID: w.endpointId, Interface: { Address: `10.50.0.${10 + r.int(200)}/16`, AddressIPv6: '', MacAddress: '' } };
    return plugin('weft-bridge', 'NetworkDriver.CreateEndpoint', b, 'error', 'CreateEndpoint existing endpoint id');
  },
  (r, w) => {
    const addr = r.pick([outsidePool(r), w.endpointAddr, w.gateway, '10.50.0.0', '10.50.255.255']);
    const b = { NetworkID: w.networkId, EndpointID: r.hex(64), Interface: { Address: `${addr}/16`, AddressIPv6: '', MacAddress: '' } };
    return plugin('weft-bridge', 'NetworkDriver.CreateEndpoint', b, 'error', `CreateEndpoint address ${addr}`);
  },
  (r, w) => {
    // A mistaken prefix length or an IPv6 address on an IPv4-only network.
    const iface = r.chance(0.5)
      ? { Address: `${w.endpointAddr.replace(/\.\d+$/, '.')}${10 + r.int(200)}/${r.pick([8, 24, 32, 0])}`, AddressIPv6: '', MacAddress: '' }
      : { Address: '', AddressIPv6: `fd00:${r.hex(4)}::${r.hex(2)}/64`, MacAddress: '' };
    const b = { NetworkID: w.networkId, EndpointID: r.hex(64), Interface: iface };
    return plugin('weft-bridge', 'NetworkDriver.CreateEndpoint', b, 'error', 'CreateEndpoint wrong prefix / family');
  },
  // Join / ProgramExternalConnectivity of endpoints that do not exist, with hostile sandbox keys
  (r, w) => {
    const key = r.pick(['/run/netns/$(reboot)', '/run/netns/../../etc/passwd', '/proc/1/ns/net', '/nonexistent', `/run/netns/${'x'.repeat(200)}`, '/run/netns/a\nb', '/tmp', '/']);
    const b = { NetworkID: r.chance(0.5) ? w.networkId : r.hex(64), EndpointID: unknownId(r, w), SandboxKey: key, Options: {} };
    return plugin('weft-bridge', 'NetworkDriver.Join', b, 'error', 'Join unknown endpoint, hostile SandboxKey');
  },
  (r, w) => {
    const b = { NetworkID: r.chance(0.5) ? w.networkId : r.hex(64), EndpointID: unknownId(r, w), Options: fixture('NetworkDriver.ProgramExternalConnectivity').Options };
    return plugin('weft-bridge', 'NetworkDriver.ProgramExternalConnectivity', b, 'error', 'ProgramExternalConnectivity unknown endpoint');
  },
  (r, w) => {
    // By exact id and on the network's own driver socket only (Docker deletes a network with
    // endpoints only after removing them, so weft takes leftovers as stale: never send the real id
    // to weft-bridge here).
    if (r.chance(0.5)) return plugin(r.pick(['weft-none', 'weft-macvlan', 'weft-overlay']), 'NetworkDriver.DeleteNetwork', { NetworkID: w.networkId }, 'noop', 'DeleteNetwork on another socket');
    const id = r.pick([w.networkId.slice(0, 1 + r.int(63)), w.noneNetworkId.slice(0, 1 + r.int(63))]);
    return plugin(r.pick(['weft-bridge', 'weft-none']), 'NetworkDriver.DeleteNetwork', { NetworkID: id }, 'noop', 'DeleteNetwork by id prefix');
  },
  // Stale calls Docker makes after restarts: harmless by the protocol, must change nothing.
  (r, w) => {
    const m = r.pick(['NetworkDriver.Leave', 'NetworkDriver.DeleteEndpoint', 'NetworkDriver.RevokeExternalConnectivity', 'NetworkDriver.EndpointOperInfo']);
    const b = { NetworkID: r.chance(0.5) ? w.networkId : unknownId(r, w), EndpointID: unknownId(r, w) };
    return plugin(r.pick(['weft-bridge', 'weft-none']), m, b, 'noop', `${m} unknown endpoint`);
  },
  (r, w) => {
    const m = r.pick(['NetworkDriver.DeleteNetwork', 'NetworkDriver.FreeNetwork']);
    return plugin(r.pick(['weft-bridge', 'weft-none', 'weft-macvlan']), m, { NetworkID: unknownId(r, w) }, 'noop', `${m} unknown network`);
  },
  (r, w) => plugin('weft-bridge', 'NetworkDriver.EndpointOperInfo', { NetworkID: w.networkId, EndpointID: w.endpointId }, 'noop', 'EndpointOperInfo real endpoint'),
  (r) => {
    const m = r.pick(['NetworkDriver.DiscoverNew', 'NetworkDriver.DiscoverDelete', 'NetworkDriver.AllocateNetwork']);
    const b = clone(fixture(m));
    if (m === 'NetworkDriver.AllocateNetwork') b.Options = { [r.pick(HOSTILE)]: r.pick(HOSTILE) };
    else b.DiscoveryData = { Address: r.pick(HOSTILE), Self: r.chance(0.5) };
    return plugin('weft-bridge', m, b, 'noop', m);
  },
  // IPAM
  (r, w) => {
    const pool = overlapping(r, w);
    return plugin('weft', 'IpamDriver.RequestPool', { AddressSpace: 'local', Pool: pool, SubPool: '', Options: {}, V6: false }, 'error', `RequestPool overlapping ${pool}`);
  },
  (r) => {
    const space = r.pick([...HOSTILE.filter((s) => s !== '' && s.length <= 256), 'LocalDefault', 'remote', 'local/x']);
    // 'global' exists only with a cluster store; this weftd runs on the embedded one.
    return plugin('weft', 'IpamDriver.RequestPool', { AddressSpace: space, Pool: freshSubnet(r), SubPool: '', Options: {}, V6: false }, 'error', 'RequestPool unknown address space');
  },
  (r) => {
    const pool = freshSubnet(r);
    const sub = r.pick(['10.199.0.0/25', '10.50.0.0/24', pool.replace(/\/24$/, '/16')]);
    return plugin('weft', 'IpamDriver.RequestPool', { AddressSpace: 'local', Pool: pool, SubPool: sub, Options: {}, V6: false }, 'error', 'RequestPool sub-pool outside pool');
  },
  (r, w) => {
    const id = r.pick([...HOSTILE.filter((s) => s !== '' && s.length <= 256 && !/[\u0000-\u001f]/.test(s)), `local/${freshSubnet(r)}`, `${w.poolId}x`, w.poolId.toUpperCase(), 'local/../../x']);
    return plugin('weft', 'IpamDriver.RequestAddress', { PoolID: id, Address: '', Options: null }, 'error', 'RequestAddress unknown pool');
  },
  (r, w) => {
    const addr = r.pick([outsidePool(r), w.endpointAddr, w.gateway, '10.50.0.0', '10.50.255.255']);
    return plugin('weft', 'IpamDriver.RequestAddress', { PoolID: w.poolId, Address: addr, Options: r.chance(0.3) ? { RequestAddressType: 'com.docker.network.gateway' } : null }, 'error', `RequestAddress ${addr}`);
  },
  (r, w) => {
    // Releasing what nobody holds, or in a pool that does not exist: harmless, changes nothing.
    const b = r.chance(0.5)
      ? { PoolID: w.poolId, Address: `10.50.${100 + r.int(100)}.${1 + r.int(250)}` }
      : { PoolID: `local/${freshSubnet(r)}`, Address: w.endpointAddr };
    return plugin('weft', 'IpamDriver.ReleaseAddress', b, 'noop', 'ReleaseAddress not held');
  },
  (r, w) => {
    const b = { PoolID: w.poolId, Address: outsidePool(r) };
    return plugin('weft', 'IpamDriver.ReleaseAddress', b, 'noop', 'ReleaseAddress outside pool');
  },
  (r) => plugin('weft', 'IpamDriver.ReleasePool', { PoolID: r.pick([`local/${freshSubnet(r)}`, ...HOSTILE.filter((s) => s !== '' && s.length <= 256 && !/[\u0000-\u001f]/.test(s))]) }, 'noop', 'ReleasePool unknown'),
];

// ---- API: well-formed JSON, right types, wrong meaning

const api = (httpMethod: ApiCase['httpMethod'], path: string, body: unknown, expect: Expect, label: string): ApiCase => ({
  via: 'api',
  httpMethod,
  path,
  ...(body === undefined ? {} : { body: typeof body === 'string' ? body : j(body) }),
  expect,
  label,
});

const enc = encodeURIComponent;
const freshName = (r: Rng): string => `fz${r.hex(8)}`;

const semanticApi: Gen[] = [
  (r) => api('POST', '/v1/networks', { name: r.pick(BAD_NETWORK_NAMES), ipam: [{ subnet: freshSubnet(r) }] }, 'error', 'create: hostile name'),
  (r) => api('POST', '/v1/networks', { name: `a${'b'.repeat(64)}`, ipam: [{ subnet: freshSubnet(r) }] }, 'error', 'create: 65-char name'),
  (r, w) => api('POST', '/v1/networks', { name: w.apiNetwork, ipam: [{ subnet: freshSubnet(r) }] }, 'error', 'create: existing name'),
  (r) => api('POST', '/v1/networks', { name: freshName(r), driver: r.pick([...HOSTILE, 'Bridge', 'ipvlan', 'weft-bridge']), ipam: [{ subnet: freshSubnet(r) }] }, 'error', 'create: unknown driver'),
  (r, w) => api('POST', '/v1/networks', { name: freshName(r), ipam: [{ subnet: overlapping(r, w) }] }, 'error', 'create: overlapping subnet'),
  (r) => {
    const subnet = r.pick([...HOSTILE, '10.1.2.3', '10.1.2.0/33', '10.300.0.0/24', '10.1.0.0/-1', 'fd00::/129', '::ffff:10.1.2.0/120x', '10.1.2.0/24\n']);
    return api('POST', '/v1/networks', { name: freshName(r), ipam: [{ subnet }] }, 'error', 'create: bad subnet');
  },
  (r) => {
    const subnet = freshSubnet(r);
    const e = r.pick([{ gateway: '10.99.0.1' }, { gateway: r.pick(HOSTILE.filter((s) => s !== '')) }, { ipRange: '10.99.0.0/28' }, { auxAddresses: { [r.pick(HOSTILE)]: '10.99.0.2' } }, { auxAddresses: { a: r.pick(HOSTILE) } }]);
    return api('POST', '/v1/networks', { name: freshName(r), ipam: [{ subnet, ...e }] }, 'error', 'create: gateway/range/aux wrong');
  },
  (r) => {
    const options = r.pick([
      { bridge: r.pick(BAD_IFNAMES) },
      { mtu: r.pick(BAD_MTUS) },
      { [r.pick(HOSTILE.filter((s) => s !== ''))]: 'x' },
      { enable_icc: r.pick(HOSTILE) },
      { host_binding_ipv4: r.pick([...HOSTILE, '::1', '10.1.2.3.4']) },
    ]);
    return api('POST', '/v1/networks', { name: freshName(r), ipam: [{ subnet: freshSubnet(r) }], options }, 'error', 'create: bad bridge option');
  },
  (r) => {
    const options = r.pick([{ parent: r.pick(BAD_IFNAMES) }, { parent: 'nosuchif0' }, { parent: 'nosuchif0', macvlan_mode: r.pick(HOSTILE) }]);
    return api('POST', '/v1/networks', { name: freshName(r), driver: 'macvlan', ipam: [{ subnet: freshSubnet(r) }], options }, 'error', 'create: bad macvlan parent/mode');
  },
  (r) => api('POST', '/v1/networks', { name: freshName(r), driver: 'none', ipam: [{ subnet: freshSubnet(r) }] }, 'error', 'create: none with a subnet'),
  (r, w) => api('GET', `/v1/networks/${enc(r.pick([...HOSTILE.filter((s) => s !== ''), r.hex(64), freshName(r)]))}`, undefined, 'noop', 'inspect unknown/hostile'),
  (r) => api('DELETE', `/v1/networks/${enc(r.pick([...HOSTILE.filter((s) => s !== ''), r.hex(64), freshName(r)]))}`, undefined, 'error', 'rm unknown/hostile'),
  (r, w) => api('DELETE', `/v1/networks/${enc(w.apiNetwork)}`, undefined, 'error', 'rm network in use'),
  (r, w) => {
    const netns = r.pick([...HOSTILE, 'wt-nosuchns', '/run/netns/wt-nosuchns', '/proc/999999999/ns/net', '/run/netns/../../etc/passwd', '/etc/passwd', '/dev/null', 'proc/1/ns/net']);
    return api('POST', `/v1/networks/${enc(w.apiNetwork)}/connect`, { netns }, 'error', 'connect: hostile/unknown netns');
  },
  (r, w) => {
    const ip = r.pick([...HOSTILE, w.connectedIp, '10.60.0.0', '10.60.0.255', '10.61.0.5', '10.60.0.1', 'fd00::5', '10.60.0.300']);
    return api('POST', `/v1/networks/${enc(w.apiNetwork)}/connect`, { netns: w.freeNetns, ip }, 'error', `connect: ip ${JSON.stringify(ip)}`);
  },
  (r, w) => {
    const publish = [r.pick([...HOSTILE, '0:80', '70000:80', '8080:0', '8080:80/icmp', '8080-8070:80', '1.2.3.4.5:80:80', '[::1]:8080:80', '8080:80/tcp;reboot'])];
    return api('POST', `/v1/networks/${enc(w.apiNetwork)}/connect`, { netns: w.freeNetns, publish }, 'error', `connect: publish ${JSON.stringify(publish[0])}`);
  },
  (r, w) => api('POST', `/v1/networks/${enc(w.apiNetwork)}/connect`, { netns: w.connectedNetns }, 'error', 'connect: already connected'),
  (r, w) => api('POST', `/v1/networks/${enc(freshName(r))}/connect`, { netns: w.freeNetns }, 'error', 'connect: unknown network'),
  (r, w) => api('POST', `/v1/networks/${enc(w.apiNetwork)}/disconnect`, { netns: r.pick([w.freeNetns, ...HOSTILE]) }, 'error', 'disconnect: not connected'),
  (r, w) => api('DELETE', `/v1/hosts/${enc(r.pick([r.hex(16), ...HOSTILE.filter((s) => s !== '')]))}`, undefined, 'error', 'host rm unknown'),
  (r, w) => api('DELETE', `/v1/hosts/${w.selfHostId}`, r.chance(0.5) ? { force: r.pick(['yes', 1, 'true']) } : undefined, 'error', 'host rm self (up)'),
  (r) => api(r.pick(['GET', 'POST', 'PUT', 'DELETE'] as const), r.pick(['/v2/networks', '/v1', '/v1/networkz', '/v1/networks/a/b/c', '/v1/networks/a/connect/x', '/../../etc/passwd', '/v1/version/x', '/v1/networks/%E0%A4%A', '/v1/networks/%', '/v1/networks/%00']), undefined, 'error', 'unknown route / bad escape'),
  (r) => api('PUT', '/v1/networks', { name: freshName(r) }, 'error', 'PUT networks'),
];

// ---- malformed: truncated, wrong types, huge, deeply nested, garbage

/** A request known to be well-formed, so its mutations are malformed ones. */
interface Template {
  via: 'plugin' | 'api';
  plugin?: string;
  method: string; // plugin method, or API "VERB /path"
  body: Record<string, unknown>;
  /** Paths of typed fields (a value of another type must be refused). */
  typed: string[][];
}

function templates(w: FuzzWorld, r: Rng): Template[] {
  const ce = clone(fixture('NetworkDriver.CreateEndpoint'));
  ce.NetworkID = w.networkId;
  ce.EndpointID = r.hex(64);
  const cn = createNetworkBase(r);
  return [
    { via: 'plugin', plugin: 'weft-bridge', method: 'NetworkDriver.CreateNetwork', body: cn, typed: [['NetworkID'], ['IPv4Data'], ['IPv4Data', '0'], ['IPv4Data', '0', 'Pool'], ['IPv4Data', '0', 'Gateway'], ['Options'], ['Options', 'com.docker.network.enable_ipv6'], ['Options', 'com.docker.network.generic']] },
    { via: 'plugin', plugin: 'weft-bridge', method: 'NetworkDriver.CreateEndpoint', body: ce, typed: [['NetworkID'], ['EndpointID'], ['Interface'], ['Interface', 'Address'], ['Interface', 'MacAddress'], ['Options'], ['Options', 'com.docker.network.portmap'], ['Options', 'com.docker.network.portmap', '0', 'Port'], ['Options', 'com.docker.network.portmap', '0', 'Proto'], ['Options', 'com.docker.network.portmap', '0', 'HostPort']] },
    { via: 'plugin', plugin: 'weft-bridge', method: 'NetworkDriver.Join', body: { ...fixture('NetworkDriver.Join'), NetworkID: w.networkId, EndpointID: r.hex(64) }, typed: [['NetworkID'], ['EndpointID'], ['SandboxKey']] },
    { via: 'plugin', plugin: 'weft-bridge', method: 'NetworkDriver.Leave', body: { NetworkID: w.networkId, EndpointID: w.endpointId }, typed: [['NetworkID'], ['EndpointID']] },
    { via: 'plugin', plugin: 'weft-bridge', method: 'NetworkDriver.DeleteEndpoint', body: { NetworkID: w.networkId, EndpointID: w.endpointId }, typed: [['NetworkID'], ['EndpointID']] },
    { via: 'plugin', plugin: 'weft-bridge', method: 'NetworkDriver.RevokeExternalConnectivity', body: { NetworkID: w.networkId, EndpointID: w.endpointId }, typed: [['NetworkID'], ['EndpointID']] },
    { via: 'plugin', plugin: 'weft-bridge', method: 'NetworkDriver.DeleteNetwork', body: { NetworkID: w.networkId }, typed: [['NetworkID']] },
    { via: 'plugin', plugin: 'weft-bridge', method: 'NetworkDriver.DiscoverNew', body: fixture('NetworkDriver.DiscoverNew'), typed: [['DiscoveryType']] },
    { via: 'plugin', plugin: 'weft', method: 'IpamDriver.RequestPool', body: { AddressSpace: 'local', Pool: freshSubnet(r), SubPool: '', Options: {}, V6: false }, typed: [['AddressSpace'], ['Pool'], ['SubPool'], ['Options'], ['V6']] },
    { via: 'plugin', plugin: 'weft', method: 'IpamDriver.RequestAddress', body: { PoolID: w.poolId, Address: '', Options: null }, typed: [['PoolID'], ['Address'], ['Options']] },
    { via: 'plugin', plugin: 'weft', method: 'IpamDriver.ReleaseAddress', body: { PoolID: w.poolId, Address: w.endpointAddr }, typed: [['PoolID'], ['Address']] },
    { via: 'plugin', plugin: 'weft', method: 'IpamDriver.ReleasePool', body: { PoolID: w.poolId }, typed: [['PoolID']] },
    { via: 'api', method: 'POST /v1/networks', body: { name: freshName(r), driver: 'bridge', ipam: [{ subnet: freshSubnet(r) }], options: { mtu: '1400' }, internal: false }, typed: [['name'], ['driver'], ['ipam'], ['ipam', '0'], ['ipam', '0', 'subnet'], ['options'], ['options', 'mtu'], ['internal']] },
    { via: 'api', method: `POST /v1/networks/${enc(w.apiNetwork)}/connect`, body: { netns: w.freeNetns, ip: '10.60.0.77', publish: ['18080:80'] }, typed: [['netns'], ['ip'], ['publish'], ['publish', '0']] },
    { via: 'api', method: `POST /v1/networks/${enc(w.apiNetwork)}/disconnect`, body: { netns: w.connectedNetns }, typed: [['netns']] },
  ];
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** A value whose JSON type differs from `v`'s. Never null (optional fields may allow it), and for
 *  a null field never an object or array (an empty map may be exactly what the field takes). */
function otherTypeValue(r: Rng, v: unknown): unknown {
  const pool: unknown[] = [42, -1, 1e308, true, false, 'str', '', [], [1, 'a'], {}, { a: { b: [] } }, ...HUGE_NUMBERS];
  for (;;) {
    const x = r.pick(pool);
    if (typeOf(x) === typeOf(v)) continue;
    if (v === null && (typeOf(x) === 'object' || typeOf(x) === 'array')) continue;
    return x;
  }
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): boolean {
  let cur: unknown = obj;
  for (const k of path.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return false;
    cur = (cur as Record<string, unknown>)[k];
  }
  if (cur === null || typeof cur !== 'object') return false;
  const last = path[path.length - 1]!;
  if (!Object.hasOwn(cur, last)) return false;
  (cur as Record<string, unknown>)[last] = value;
  return true;
}

function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const k of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

function fromTemplate(t: Template, body: string | Buffer, label: string): FuzzCase {
  if (t.via === 'plugin') return { via: 'plugin', plugin: t.plugin!, method: t.method, body, expect: 'error', label };
  const [verb, path] = t.method.split(' ') as [ApiCase['httpMethod'], string];
  return { via: 'api', httpMethod: verb, path, body, expect: 'error', label };
}

/** `[[[[...]]]]` n deep, optionally inside a field. */
const nested = (n: number): string => '['.repeat(n) + ']'.repeat(n);

const malformed: Array<(r: Rng, t: Template) => FuzzCase> = [
  (r, t) => {
    const text = j(t.body);
    const cut = 1 + r.int(text.length - 2);
    return fromTemplate(t, text.slice(0, cut), `truncated ${t.method} at ${cut}`);
  },
  (r, t) => {
    const body = clone(t.body);
    const path = r.pick(t.typed);
    const v = otherTypeValue(r, getPath(body, path));
    setPath(body, path, v);
    return fromTemplate(t, j(body), `${t.method} ${path.join('.')}=${j(v)?.slice(0, 30)}`);
  },
  (r, t) => {
    // Required fields removed: the refusal must not depend on anything else in the body.
    const body = clone(t.body);
    const required = t.typed.filter((p) => p.length === 1 && ['NetworkID', 'EndpointID', 'SandboxKey', 'PoolID', 'name', 'netns', 'DiscoveryType'].includes(p[0]!));
    if (required.length === 0) return fromTemplate(t, j([body]), `${t.method} body in an array`);
    const p = r.pick(required);
    delete body[p[0]!];
    return fromTemplate(t, j(body), `${t.method} without ${p[0]}`);
  },
  (r, t) => fromTemplate(t, r.pick(['null', '[]', '"x"', '0', 'true', '{', '}', '{"a":', '[1,2', '\u0000', ' \n ', 'NaN', '{"NetworkID": undefined}', "{'a': 1}", '{"a":1}}', '\ufeff{}']), 'garbage JSON'),
  (r, t) => {
    const bytes = Buffer.alloc(1 + r.int(300));
    for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
    if (bytes[0] === 0x20 || bytes[0] === 0x0a) bytes[0] = 0xff;
    return fromTemplate(t, bytes, 'random bytes');
  },
  (r, t) => {
    // Invalid UTF-8 inside a string field: decodes to U+FFFD, which no id, CIDR or name accepts.
    const path = r.pick(t.typed.filter((p) => typeof getPath(t.body, p) === 'string'));
    if (!path) return fromTemplate(t, Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), 'invalid UTF-8');
    const body = clone(t.body);
    setPath(body, path, '@@BAD@@');
    const text = j(body).replace('@@BAD@@', '\ufffd');
    const buf = Buffer.from(text.replace('\ufffd', '__'), 'utf8');
    const at = buf.indexOf('__');
    buf[at] = 0xc3;
    buf[at + 1] = 0x28;
    const c = fromTemplate(t, buf, `${t.method} invalid UTF-8 in ${path.join('.')}`);
    // A PoolID is an opaque token: a release of one nobody has is a harmless no-op (§3).
    if (/^IpamDriver\.Release/.test(t.method) && path[0] === 'PoolID') c.expect = 'noop';
    return c;
  },
  (r, t) => {
    const depth = r.pick([100, 1_000, 10_000, 100_000]);
    const path = r.pick(t.typed);
    const body = clone(t.body);
    setPath(body, path, '@@NEST@@');
    const text = r.chance(0.3) ? nested(depth) : j(body).replace('"@@NEST@@"', nested(depth));
    return fromTemplate(t, text, `${t.method} nested ${depth} deep`);
  },
  (r, t) => {
    // Big, but under the cap: a typed field holding 50-500 kB.
    const path = r.pick(t.typed);
    const body = clone(t.body);
    setPath(body, path, r.pick(['a', '0', '$(reboot)', '\u00e9']).repeat(50_000 + r.int(450_000)));
    return fromTemplate(t, j(body), `${t.method} ${path.join('.')} huge string`);
  },
];

/** Over the 1 MiB cap: rare (each costs a few MB of traffic). */
function tooLarge(r: Rng, t: Template): FuzzCase {
  const pad = 'x'.repeat((1 << 20) + 1 + r.int(1 << 20));
  return fromTemplate(t, j({ ...t.body, pad }), `${t.method} over the 1 MiB cap`);
}

/** The next fuzz case: about 55% semantic (well-formed JSON, right types, wrong meaning), the
 *  rest malformed (truncated, wrong types, missing fields, huge, deeply nested, garbage). */
export function nextCase(r: Rng, w: FuzzWorld): { c: FuzzCase; semantic: boolean } {
  if (r.chance(0.55)) {
    return { c: r.chance(0.6) ? r.pick(semanticPlugin)(r, w) : r.pick(semanticApi)(r, w), semantic: true };
  }
  const t = r.pick(templates(w, r));
  if (r.chance(0.003)) return { c: tooLarge(r, t), semantic: false };
  return { c: r.pick(malformed)(r, t), semantic: false };
}
