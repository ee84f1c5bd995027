import { describe, expect, it } from 'vitest';
import {
  checkDefaultPoolSpec,
  chooseDefaultSubnet,
  firstFreeSubnet,
  parseDefaultAddressPool,
  parseHostRoutes,
} from '../../../src/ipam/default-pools.js';
import { formatCidr, tryParseCidr } from '../../../src/ipam/cidr.js';
import { DOCKER_DEFAULT_POOLS } from '../../../src/ipam/ipam.js';
import { isUlaPrefix, ulaPrefixFromGlobalId } from '../../../src/ipam/ula.js';
import { WeftError } from '../../../src/model/errors.js';

const cidr = (s: string) => tryParseCidr(s)!;
const docker = DOCKER_DEFAULT_POOLS.map((s) => checkDefaultPoolSpec(s));

function errorOf(fn: () => unknown): WeftError {
  try {
    fn();
  } catch (e) {
    if (e instanceof WeftError) return e;
    throw e;
  }
  throw new Error('expected a WeftError');
}

describe('parseDefaultAddressPool', () => {
  it('parses Docker syntax', () => {
    expect(parseDefaultAddressPool('base=172.80.0.0/16,size=24')).toEqual({ base: '172.80.0.0/16', size: 24 });
    expect(parseDefaultAddressPool('size=64, base=fd10::/48')).toEqual({ base: 'fd10::/48', size: 64 });
  });

  it.each([
    ['', 'expected base=CIDR,size=N'],
    ['base=172.80.0.0/16', 'size=N is missing'],
    ['size=24', 'base=CIDR is missing'],
    ['base=172.80.0.0/16,size=24,foo=1', 'unknown key "foo"'],
    ['base=172.80.0.0/16,size=24,size=25', 'size is given twice'],
    ['base=172.80.0.0/16,size', '"size" is not KEY=VALUE'],
    ['base=172.80.0.0/16,size=abc', 'size must be a prefix length, got "abc"'],
    ['base=172.80.0.0/16,size=8', 'size must be a prefix length between 16'],
    ['base=172.80.0.0/16,size=31', 'between 16 (the base\'s) and 30, got 31'],
    ['base=172.80.0.1/16,size=24', 'host bits are set; did you mean 172.80.0.0/16?'],
    ['base=172.80.0.300/16,size=24', 'invalid base'],
  ])('refuses %j with a clear INVALID_OPTION', (input, fragment) => {
    const e = errorOf(() => parseDefaultAddressPool(input));
    expect(e.code).toBe('WEFT_ERR_INVALID_OPTION');
    expect(e.message).toContain('invalid --default-address-pool');
    expect(e.message).toContain(fragment);
  });
});

describe('default pool choice', () => {
  it('Docker order: 172.17/16 first, then the next free one', () => {
    expect(formatCidr(chooseDefaultSubnet(docker, 4, [])!)).toBe('172.17.0.0/16');
    expect(formatCidr(chooseDefaultSubnet(docker, 4, [cidr('172.17.0.0/16')])!)).toBe('172.18.0.0/16');
  });

  it('avoids host routes, also partial overlaps', () => {
    const routes = [cidr('172.17.5.0/24'), cidr('172.18.0.0/15'), cidr('172.20.0.1/32')];
    expect(formatCidr(chooseDefaultSubnet(docker, 4, routes)!)).toBe('172.21.0.0/16');
  });

  it('falls through to 192.168.0.0/16 cut into /20s, jumping over what is taken', () => {
    const obstacles = [cidr('172.16.0.0/12'), cidr('192.168.0.0/24'), cidr('192.168.16.0/20'), cidr('192.168.64.0/22')];
    expect(formatCidr(chooseDefaultSubnet(docker, 4, obstacles)!)).toBe('192.168.32.0/20');
    obstacles.push(cidr('192.168.32.0/20'));
    expect(formatCidr(chooseDefaultSubnet(docker, 4, obstacles)!)).toBe('192.168.48.0/20');
  });

  it('undefined when everything is taken, and never a v6 pool for v4', () => {
    expect(chooseDefaultSubnet(docker, 4, [cidr('172.16.0.0/12'), cidr('192.168.0.0/16')])).toBeUndefined();
    expect(chooseDefaultSubnet(docker, 6, [])).toBeUndefined();
  });

  it('cost is per obstacle, not per candidate (10/8 in /24s, 5000 of them blocked)', () => {
    const base = cidr('10.0.0.0/8');
    // A /25 at the start of each of the first 5000 /24s: no two merge, each blocks one candidate.
    const taken = Array.from({ length: 5000 }, (_, i) => ({ family: 4 as const, base: base.base + (BigInt(i) << 8n), prefix: 25 }));
    const t0 = performance.now();
    expect(formatCidr(firstFreeSubnet(base, 24, taken)!)).toBe('10.19.136.0/24'); // 5000 = 19*256 + 136
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('a larger obstacle than the pool size is jumped in one step', () => {
    expect(formatCidr(firstFreeSubnet(cidr('10.0.0.0/8'), 24, [cidr('10.0.0.0/9')])!)).toBe('10.128.0.0/24');
  });
});

describe('host routes', () => {
  it('drops default routes, reads bare IPs as host routes, masks host bits, reports junk', () => {
    const { routes, ignored } = parseHostRoutes(['0.0.0.0/0', '::/0', 'default', '10.1.2.3', '192.168.1.7/24', 'fe80::/64', 'garbage']);
    expect(routes.map(formatCidr)).toEqual(['10.1.2.3/32', '192.168.1.0/24', 'fe80::/64']);
    expect(ignored).toEqual(['garbage']);
  });
});

describe('ULA prefix', () => {
  it('is fd + 40 random bits, a /48', () => {
    const p = ulaPrefixFromGlobalId(new Uint8Array([0x12, 0x34, 0x56, 0x78, 0x9a]));
    expect(formatCidr(p)).toBe('fd12:3456:789a::/48');
    expect(isUlaPrefix(p)).toBe(true);
    expect(isUlaPrefix(cidr('fc00::/48'))).toBe(false);
    expect(formatCidr(firstFreeSubnet(p, 64, [cidr('fd12:3456:789a::/64')])!)).toBe('fd12:3456:789a:1::/64');
  });
});
