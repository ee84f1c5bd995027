import { describe, expect, it } from 'vitest';
import { checkIp, checkNetns, checkNetworkRef, checkPublishSpec, parseKeyValues } from '../../../src/cli/options.js';
import { ErrorCodes, exitCodeOf, WeftError } from '../../../src/model/errors.js';

function refusal(fn: () => unknown): WeftError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WeftError);
    expect(exitCodeOf((e as WeftError).kind)).toBe(2);
    return e as WeftError;
  }
  throw new Error('expected a refusal');
}

describe('parseKeyValues (-o KEY=VALUE)', () => {
  it('splits at the first "=" and allows empty values', () => {
    expect(parseKeyValues(['a=1', 'b=x=y', 'c='])).toEqual({ a: '1', b: 'x=y', c: '' });
  });

  it.each(['novalue', '=1', 'two words=1'])('refuses %j', (v) => {
    const e = refusal(() => parseKeyValues([v]));
    expect(e.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(e.message).toContain('expected KEY=VALUE');
  });

  it('refuses a repeated key', () => {
    expect(refusal(() => parseKeyValues(['mtu=1400', 'mtu=1500'])).message).toBe('--opt mtu is given twice: give each key once');
  });

  it('does not let a key named __proto__ escape into the prototype', () => {
    const out = parseKeyValues(['__proto__=x']);
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(JSON.parse(JSON.stringify(out))).toEqual(JSON.parse('{"__proto__":"x"}'));
  });
});

describe('checkNetworkRef', () => {
  it('takes names and ids', () => {
    expect(checkNetworkRef('net-1_a.b')).toBe('net-1_a.b');
    expect(checkNetworkRef('a'.repeat(64))).toBe('a'.repeat(64));
  });
  it.each(['', '-x', 'a/b', 'a b', 'a'.repeat(65)])('refuses %j', (n) => {
    expect(refusal(() => checkNetworkRef(n)).code).toBe(ErrorCodes.INVALID_NAME);
  });
});

describe('checkNetns', () => {
  it.each(['ns1', 'blue.ns', '/proc/1234/ns/net', '/var/run/netns/ns1'])('takes %j', (n) => {
    expect(checkNetns(n)).toBe(n);
  });
  it.each(['', '..', 'a/b', 'relative/path', 'x y'])('refuses %j', (n) => {
    expect(refusal(() => checkNetns(n)).code).toBe(ErrorCodes.INVALID_NAME);
  });
});

describe('checkIp', () => {
  it('takes an address of the right family', () => {
    expect(checkIp('10.1.0.9', 4, '--ip')).toBe('10.1.0.9');
    expect(checkIp('fd00::9', 6, '--ip6')).toBe('fd00::9');
  });
  it.each([
    ['fd00::9', 4, '--ip'],
    ['10.1.0.9', 6, '--ip6'],
    ['10.1.0.9/24', 4, '--ip'],
    ['fe80::1%eth0', 6, '--ip6'],
  ] as const)('refuses %j for family %d', (v, fam, flag) => {
    const e = refusal(() => checkIp(v, fam, flag));
    expect(e.code).toBe(ErrorCodes.INVALID_ADDRESS);
    expect(e.message).toContain(`invalid ${flag}`);
  });
});

describe('checkPublishSpec', () => {
  it.each([
    '80',
    '8080:80',
    '8080:80/udp',
    '5000-5010:5000-5010/tcp',
    '8000-8100:80',
    '127.0.0.1:8080:80',
    '127.0.0.1::80/sctp',
    '[::1]:8080:80',
    '[::1]::80/udp',
  ])('takes %j', (spec) => {
    expect(checkPublishSpec(spec)).toBe(spec);
  });

  it.each([
    ['', 'is not a port'],
    ['80/icmp', 'unknown protocol'],
    ['0:80', 'outside 1-65535'],
    ['8080:65536', 'outside 1-65535'],
    ['90-80:80', 'runs backwards'],
    ['5000-5001:6000-6002', 'as long as'],
    ['80:5000-5001', 'as long as'],
    ['::1:8080:80', 'too many ":"'],
    ['1.2.3.4:5:6:7', 'too many ":"'],
    ['host:8080:80', 'not an IPv4 address'],
    ['[1.2.3.4]:80:80', 'not an IPv6 address'],
    ['[::1]80', 'followed by ":"'],
    ['[::1]:80', 'needs HOST_PORT:CONTAINER_PORT'],
    ['http:80', 'is not a port'],
  ])('refuses %j (%s)', (spec, why) => {
    const e = refusal(() => checkPublishSpec(spec));
    expect(e.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(e.message).toContain(why);
    expect(e.message).toContain('expected [[HOST_IP:][HOST_PORT]:]CONTAINER_PORT');
  });
});
