import { describe, expect, it } from 'vitest';
import { cidrContains, cidrWithin, ipToBigInt, isValidMac, parseCidr, parseIp } from '../../../src/model/address.js';
import { isValidIfName, isValidNetworkName } from '../../../src/model/network.js';

describe('address parsing', () => {
  it('parses v4 and v6 CIDRs and IPs', () => {
    expect(parseCidr('10.1.0.0/24')).toMatchObject({ family: 4, prefix: 24 });
    expect(parseCidr('fd00::/64')).toMatchObject({ family: 6, prefix: 64 });
    expect(parseIp('10.1.0.1').value).toBe(0x0a010001n);
    expect(ipToBigInt('::ffff:1.2.3.4')).toBe(0xffff01020304n);
    expect(ipToBigInt('2001:db8::1')).toBe(0x20010db8000000000000000000000001n);
  });

  it.each(['10.0.0.300/24', '10.0.0.0/33', 'abc', '10.0.0.0', '10.0.0.0/024', 'fd00::/129', 'fe80::1%eth0/64', ''])('refuses CIDR %j', (t) => {
    expect(() => parseCidr(t)).toThrow(/invalid subnet/);
  });

  it('refuses zone ids and non-IPs', () => {
    expect(() => parseIp('fe80::1%eth0')).toThrow(/invalid address/);
    expect(() => parseIp('1.2.3')).toThrow();
  });

  it('tests containment', () => {
    const net = parseCidr('10.1.0.0/24');
    expect(cidrContains(net, parseIp('10.1.0.200'))).toBe(true);
    expect(cidrContains(net, parseIp('10.1.1.1'))).toBe(false);
    expect(cidrContains(net, parseIp('::1'))).toBe(false);
    expect(cidrWithin(net, parseCidr('10.1.0.128/25'))).toBe(true);
    expect(cidrWithin(net, parseCidr('10.1.0.0/23'))).toBe(false);
  });

  it('validates MACs, interface and network names', () => {
    expect(isValidMac('02:42:ac:11:00:02')).toBe(true);
    expect(isValidMac('02:42:ac:11:00')).toBe(false);
    expect(isValidIfName('eth0')).toBe(true);
    expect(isValidIfName('a'.repeat(15))).toBe(true);
    for (const bad of ['a'.repeat(16), '', '.', '..', 'a/b', 'a b', '$(reboot)', 'x;y', 'a\nb']) expect(isValidIfName(bad), bad).toBe(false);
    expect(isValidNetworkName('my-net_1.0')).toBe(true);
    for (const bad of ['-x', '', 'a;b', '../x', 'a'.repeat(65)]) expect(isValidNetworkName(bad), bad).toBe(false);
  });
});
