import { describe, expect, it } from 'vitest';
import {
  alignUp,
  canonical,
  contains,
  containsCidr,
  formatCidr,
  formatIp,
  isCanonical,
  overlaps,
  parseSubnet,
  sizeOf,
  tryParseCidr,
  tryParseIp,
} from '../../../src/ipam/cidr.js';
import { WeftError } from '../../../src/model/errors.js';

const cidr = (s: string) => {
  const c = tryParseCidr(s);
  if (!c) throw new Error(`test CIDR ${s} does not parse`);
  return c;
};
const ip = (s: string) => {
  const v = tryParseIp(s);
  if (!v) throw new Error(`test IP ${s} does not parse`);
  return v;
};

describe('IP parsing is strict', () => {
  it.each(['10.0.0.1', '0.0.0.0', '255.255.255.255', '::', '::1', 'fd00::1', '2001:db8:0:0:1:0:0:1', '::ffff:10.0.0.1', 'FD00::A'])(
    'accepts %s',
    (s) => expect(tryParseIp(s)).toBeDefined(),
  );

  it.each([
    '10.0.0.300',
    '10.0.0',
    '10.0.0.1.2',
    '010.0.0.1',
    '10.0.0.-1',
    ' 10.0.0.1',
    'abc',
    '',
    '1:2:3:4:5:6:7:8:9',
    'fe80::1%eth0',
    '1::2::3',
    '12345::',
    '::ffff:10.0.0.300',
    '10.0.0.1/24',
  ])('refuses %j', (s) => expect(tryParseIp(s)).toBeUndefined());

  it('reads values exactly', () => {
    expect(ip('10.1.2.3').value).toBe(0x0a010203n);
    expect(ip('::ffff:10.0.0.1').value).toBe(0xffff0a000001n);
    expect(ip('fd00::1')).toEqual({ family: 6, value: (0xfd00n << 112n) | 1n });
  });
});

describe('formatting', () => {
  it('round-trips v4', () => expect(formatIp(4, ip('192.168.10.254').value)).toBe('192.168.10.254'));

  it.each([
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], // first longest run wins
    ['fd00:0:0:0:0:0:0:0', 'fd00::'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'], // a single zero group is not compressed
    ['FD12:3456:789A:1::', 'fd12:3456:789a:1::'],
  ])('v6 %s -> %s (RFC 5952)', (input, out) => expect(formatIp(6, ip(input).value)).toBe(out));
});

describe('CIDR parsing and canonical form', () => {
  it.each(['10.0.0.0/33', '10.0.0.300/24', 'abc', '10.0.0.0', '10.0.0.0/', '10.0.0.0/024', '10.0.0.0/8/8', 'fd00::/129', '10.0.0.0/-1'])(
    'refuses %j',
    (s) => expect(tryParseCidr(s)).toBeUndefined(),
  );

  it('keeps host bits as typed, so the caller can refuse them', () => {
    const c = cidr('10.0.0.1/24');
    expect(isCanonical(c)).toBe(false);
    expect(formatCidr(canonical(c))).toBe('10.0.0.0/24');
  });

  it('parseSubnet refuses host bits and says what was meant', () => {
    expect(() => parseSubnet('10.0.0.1/24')).toThrow('invalid subnet 10.0.0.1/24: host bits are set; did you mean 10.0.0.0/24?');
    expect(() => parseSubnet('fd00::1/64')).toThrow('did you mean fd00::/64?');
    expect(() => parseSubnet('10.0.0.0/33')).toThrow(WeftError);
    try {
      parseSubnet('abc');
    } catch (e) {
      expect((e as WeftError).code).toBe('WEFT_ERR_INVALID_ADDRESS');
    }
    expect(formatCidr(parseSubnet('FD00:0::/64'))).toBe('fd00::/64');
  });

  it('sizes', () => {
    expect(sizeOf(cidr('10.0.0.0/29'))).toBe(8n);
    expect(sizeOf(cidr('0.0.0.0/0'))).toBe(1n << 32n);
    expect(sizeOf(cidr('fd00::/64'))).toBe(1n << 64n);
  });
});

describe('contains and overlap', () => {
  it('contains', () => {
    expect(contains(cidr('10.0.0.0/24'), ip('10.0.0.255'))).toBe(true);
    expect(contains(cidr('10.0.0.0/24'), ip('10.0.1.0'))).toBe(false);
    expect(contains(cidr('10.0.0.0/24'), ip('::a00:1'))).toBe(false); // other family, same bits
    expect(containsCidr(cidr('10.0.0.0/24'), cidr('10.0.0.128/25'))).toBe(true);
    expect(containsCidr(cidr('10.0.0.0/24'), cidr('10.0.0.0/23'))).toBe(false);
    expect(containsCidr(cidr('fd00::/48'), cidr('fd00:0:0:ffff::/64'))).toBe(true);
  });

  it('overlap', () => {
    expect(overlaps(cidr('10.31.0.0/24'), cidr('10.31.0.0/25'))).toBe(true);
    expect(overlaps(cidr('10.31.0.0/25'), cidr('10.31.0.128/25'))).toBe(false);
    expect(overlaps(cidr('10.0.0.0/8'), cidr('10.255.255.255/32'))).toBe(true);
    expect(overlaps(cidr('0.0.0.0/0'), cidr('fd00::/8'))).toBe(false);
    expect(overlaps(cidr('fd00::/64'), cidr('fd00::8000:0:0:0/65'))).toBe(true); // upper half of the /64
    expect(overlaps(cidr('fd00::/64'), cidr('fd00:0:0:1::/65'))).toBe(false);
    expect(overlaps(cidr('fd00::/63'), cidr('fd00:0:0:1::/64'))).toBe(true);
  });

  it('alignUp', () => {
    expect(alignUp(0n, 256n)).toBe(0n);
    expect(alignUp(1n, 256n)).toBe(256n);
    expect(alignUp(512n, 256n)).toBe(512n);
  });
});
