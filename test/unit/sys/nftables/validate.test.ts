// Input checks of the firewall: everything that reaches nft text is validated first.

import { describe, expect, it } from 'vitest';
import { ErrorCodes, isWeftError, type ErrorCode } from '../../../../src/model/errors.js';
import { assertNoPortConflicts, checkNetwork, checkPort, checkState, describePort, portKey } from '../../../../src/sys/nftables/validate.js';
import type { FirewallNetwork, FirewallPortMapping } from '../../../../src/sys/firewall.js';
import { NET_BINDING, NET_DUAL, NET_PLAIN, port } from '../../../golden/nftables/states.js';

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (e) {
    if (isWeftError(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe('checkNetwork', () => {
  it('parses subnets into ranges and keeps the text it will render', () => {
    const n = checkNetwork({ ...NET_DUAL, subnetsV6: ['FD00:10::/64'] });
    expect(n.v4[0]).toMatchObject({ text: '10.10.0.0/24', prefix: 24, lo: 0x0a0a0000n, hi: 0x0a0a00ffn });
    expect(n.v6[0]!.text).toBe('fd00:10::/64');
  });

  it.each<[string, Partial<FirewallNetwork>, ErrorCode]>([
    ['a quote in the bridge name', { bridge: 'wf"x' }, ErrorCodes.INVALID_NAME],
    ['a space in the bridge name', { bridge: 'wf x' }, ErrorCodes.INVALID_NAME],
    ['a 16-character bridge name', { bridge: 'abcdefghijklmnop' }, ErrorCodes.INVALID_NAME],
    ['an empty bridge name', { bridge: '' }, ErrorCodes.INVALID_NAME],
    ['an id that is not hex', { id: 'net-1' }, ErrorCodes.INVALID_NAME],
    ['a subnet with host bits', { subnetsV4: ['172.18.0.1/16'] }, ErrorCodes.INVALID_ADDRESS],
    ['a subnet with trailing text', { subnetsV4: ['172.18.0.0/16 }'] }, ErrorCodes.INVALID_ADDRESS],
    ['a v6 subnet among v4', { subnetsV4: ['fd00::/64'] }, ErrorCodes.INVALID_ADDRESS],
    ['a zone id', { subnetsV6: ['fe80::%eth0/64'] }, ErrorCodes.INVALID_ADDRESS],
    ['overlapping subnets', { subnetsV4: ['10.0.0.0/16', '10.0.1.0/24'] }, ErrorCodes.POOL_OVERLAP],
    ['a v6 host binding', { hostBindingIpv4: '::1' }, ErrorCodes.INVALID_ADDRESS],
    ['a non-boolean flag', { internal: 1 as unknown as boolean }, ErrorCodes.INVALID_OPTION],
  ])('refuses %s', (_what, change, code) => {
    expect(codeOf(() => checkNetwork({ ...NET_PLAIN, ...change }))).toBe(code);
  });

  it('reads 0.0.0.0 as host binding to every address', () => {
    expect(checkNetwork({ ...NET_PLAIN, hostBindingIpv4: '0.0.0.0' }).hostBindingIpv4).toBeUndefined();
  });
});

describe('checkPort', () => {
  const plain = checkNetwork(NET_PLAIN);
  const dual = checkNetwork(NET_DUAL);
  const binding = checkNetwork(NET_BINDING);

  it.each<[string, Partial<FirewallPortMapping>, ErrorCode]>([
    ['port 0', { hostPort: 0 }, ErrorCodes.INVALID_OPTION],
    ['port 65536', { containerPort: 65536 }, ErrorCodes.INVALID_OPTION],
    ['a fractional port', { hostPort: 80.5 }, ErrorCodes.INVALID_OPTION],
    ['a port as text', { hostPort: '80' as unknown as number }, ErrorCodes.INVALID_OPTION],
    ['an unknown protocol', { proto: 'icmp' as 'tcp' }, ErrorCodes.INVALID_OPTION],
    ['family 5', { family: 5 as 4 }, ErrorCodes.INVALID_OPTION],
    ['a v6 container address on a v4 mapping', { containerIp: 'fd00::2' }, ErrorCodes.INVALID_ADDRESS],
    ['a host address of the other family', { hostIp: 'fd00::1' }, ErrorCodes.INVALID_ADDRESS],
    ['a container outside the network', { containerIp: '10.99.0.2' }, ErrorCodes.ADDRESS_OUT_OF_POOL],
    ['text after the address', { containerIp: '172.18.0.2 . 1' }, ErrorCodes.INVALID_ADDRESS],
  ])('refuses %s', (_what, change, code) => {
    expect(codeOf(() => checkPort({ ...port({ networkId: 'a1', containerIp: '172.18.0.2' }), ...change }, plain))).toBe(code);
  });

  it('refuses [::1] with a reason: the kernel cannot DNAT IPv6 loopback', () => {
    const p = port({ networkId: 'b2', containerIp: 'fd00:10::2', family: 6, hostIp: '::1' });
    expect(() => checkPort(p, dual)).toThrow(/cannot DNAT IPv6 loopback/);
    expect(codeOf(() => checkPort(p, dual))).toBe(ErrorCodes.NOT_SUPPORTED);
  });

  it("applies the network's host_binding_ipv4 to v4 mappings without a host IP only", () => {
    expect(checkPort(port({ networkId: 'e5', containerIp: '10.40.0.2' }), binding).hostIp?.text).toBe('192.0.2.10');
    expect(checkPort(port({ networkId: 'e5', containerIp: '10.40.0.2', hostIp: '0.0.0.0' }), binding).hostIp).toBeUndefined();
    expect(checkPort(port({ networkId: 'e5', containerIp: '10.40.0.2', hostIp: '127.0.0.1' }), binding).hostIp?.text).toBe('127.0.0.1');
  });

  it('describes a mapping for people', () => {
    expect(describePort(checkPort(port({ networkId: 'b2', containerIp: 'fd00:10::2', family: 6, hostPort: 443 }), dual))).toBe('[::]:443/tcp -> [fd00:10::2]:80');
  });
});

describe('checkState', () => {
  it('refuses duplicate ids, shared bridges, overlapping networks, ports of unknown networks and double-booked host ports', () => {
    const p = port({ networkId: 'a1', containerIp: '172.18.0.2' });
    expect(codeOf(() => checkState({ networks: [NET_PLAIN, NET_PLAIN], ports: [] }))).toBe(ErrorCodes.INVALID_OPTION);
    expect(codeOf(() => checkState({ networks: [NET_PLAIN, { ...NET_DUAL, bridge: NET_PLAIN.bridge }], ports: [] }))).toBe(ErrorCodes.INVALID_OPTION);
    expect(codeOf(() => checkState({ networks: [NET_PLAIN, { ...NET_DUAL, subnetsV4: ['172.18.5.0/24'] }], ports: [] }))).toBe(ErrorCodes.POOL_OVERLAP);
    expect(codeOf(() => checkState({ networks: [], ports: [p] }))).toBe(ErrorCodes.NETWORK_NOT_FOUND);
    expect(codeOf(() => checkState({ networks: [NET_PLAIN], ports: [p, { ...p, containerIp: '172.18.0.3' }] }))).toBe(ErrorCodes.ADDRESS_IN_USE);
    // The same mapping twice is one mapping; the same port on another address or protocol is another.
    expect(checkState({ networks: [NET_PLAIN], ports: [p, p, { ...p, proto: 'udp' }, { ...p, hostIp: '127.0.0.1' }] }).ports).toHaveLength(4);
  });
});

describe('assertNoPortConflicts against the published ports by key', () => {
  it('finds a conflict with a published port, or within the request, and passes the same mapping again', () => {
    const net = checkNetwork(NET_PLAIN);
    const a = checkPort(port({ networkId: 'a1', containerIp: '172.18.0.2' }), net);
    const other = checkPort(port({ networkId: 'a1', containerIp: '172.18.0.3' }), net);
    const udp = checkPort(port({ networkId: 'a1', containerIp: '172.18.0.3', proto: 'udp' }), net);
    const published = new Map([[portKey(a), a]]);
    expect(codeOf(() => assertNoPortConflicts([other], published))).toBe(ErrorCodes.ADDRESS_IN_USE);
    expect(codeOf(() => assertNoPortConflicts([udp, { ...udp, containerPort: 81 }], new Map()))).toBe(ErrorCodes.ADDRESS_IN_USE);
    expect(codeOf(() => assertNoPortConflicts([a, udp], published))).toBeUndefined();
    // The array form says the same.
    expect(codeOf(() => assertNoPortConflicts([other], [a]))).toBe(ErrorCodes.ADDRESS_IN_USE);
  });
});
