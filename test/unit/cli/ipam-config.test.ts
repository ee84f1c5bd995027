import { describe, expect, it } from 'vitest';
import { buildIpamConfig, type IpamFlags } from '../../../src/cli/ipam-config.js';
import { ErrorCodes, exitCodeOf, WeftError } from '../../../src/model/errors.js';

const flags = (f: Partial<IpamFlags>): IpamFlags => ({ subnets: [], gateways: [], ipRanges: [], auxAddresses: [], ...f });

/** Runs buildIpamConfig expecting a refusal; returns the error for closer checks. */
function refused(f: Partial<IpamFlags>): WeftError {
  try {
    buildIpamConfig(flags(f));
  } catch (e) {
    expect(e).toBeInstanceOf(WeftError);
    // Every refusal is a usage error: exit code 2.
    expect(exitCodeOf((e as WeftError).kind)).toBe(2);
    return e as WeftError;
  }
  throw new Error('expected buildIpamConfig to refuse');
}

describe('buildIpamConfig', () => {
  it('gives no entries without flags (the daemon picks a default pool)', () => {
    expect(buildIpamConfig(flags({}))).toEqual([]);
  });

  it('keeps one entry per subnet, in the order given', () => {
    expect(buildIpamConfig(flags({ subnets: ['10.1.0.0/24', 'fd00:1::/64'] }))).toEqual([
      { subnet: '10.1.0.0/24' },
      { subnet: 'fd00:1::/64' },
    ]);
  });

  it('attaches each gateway, range and aux address to the subnet that contains it, whatever the order', () => {
    const out = buildIpamConfig(
      flags({
        subnets: ['10.1.0.0/16', 'fd00:1::/64', '192.168.5.0/24'],
        gateways: ['fd00:1::1', '192.168.5.254', '10.1.0.1'],
        ipRanges: ['192.168.5.128/25', '10.1.4.0/22'],
        auxAddresses: ['router=10.1.0.2', 'v6dns=fd00:1::53', 'printer=10.1.200.3'],
      }),
    );
    expect(out).toEqual([
      { subnet: '10.1.0.0/16', gateway: '10.1.0.1', ipRange: '10.1.4.0/22', auxAddresses: { router: '10.1.0.2', printer: '10.1.200.3' } },
      { subnet: 'fd00:1::/64', gateway: 'fd00:1::1', auxAddresses: { v6dns: 'fd00:1::53' } },
      { subnet: '192.168.5.0/24', gateway: '192.168.5.254', ipRange: '192.168.5.128/25' },
    ]);
  });

  it('refuses more gateways than subnets', () => {
    expect(refused({ subnets: ['10.1.0.0/24'], gateways: ['10.1.0.1', '10.1.0.2'] }).message).toBe(
      '2 --gateway for 1 --subnet: give at most one --gateway per --subnet',
    );
  });

  it('refuses more ip ranges than subnets', () => {
    expect(refused({ subnets: ['10.1.0.0/16'], ipRanges: ['10.1.1.0/24', '10.1.2.0/24'] }).message).toMatch(/2 --ip-range for 1 --subnet/);
  });

  it('refuses a gateway in no subnet, naming the subnets', () => {
    expect(refused({ subnets: ['10.1.0.0/24', '10.2.0.0/24'], gateways: ['10.3.0.1'] }).message).toBe(
      '--gateway 10.3.0.1 is in none of the subnets given (10.1.0.0/24, 10.2.0.0/24)',
    );
  });

  it('refuses a gateway of the other address family', () => {
    expect(refused({ subnets: ['10.1.0.0/24'], gateways: ['fd00::1'] }).message).toMatch(/--gateway fd00::1 is in none of the subnets/);
  });

  it('refuses two gateways for one subnet even when the counts match', () => {
    expect(refused({ subnets: ['10.1.0.0/24', '10.2.0.0/24'], gateways: ['10.1.0.1', '10.1.0.254'] }).message).toBe(
      'two --gateway (10.1.0.1, 10.1.0.254) for subnet 10.1.0.0/24: give at most one per subnet',
    );
  });

  it('refuses two ranges for one subnet', () => {
    expect(refused({ subnets: ['10.1.0.0/16', '10.2.0.0/16'], ipRanges: ['10.1.1.0/24', '10.1.2.0/24'] }).message).toMatch(
      /^two --ip-range \(10\.1\.1\.0\/24, 10\.1\.2\.0\/24\) for subnet 10\.1\.0\.0\/16/,
    );
  });

  it.each([
    ['--gateway', { gateways: ['10.1.0.1'] }],
    ['--ip-range', { ipRanges: ['10.1.0.0/25'] }],
    ['--aux-address', { auxAddresses: ['a=10.1.0.9'] }],
  ] as const)('refuses %s without any --subnet', (flag, f) => {
    expect(refused(f).message).toBe(`${flag} needs a --subnet that contains it: add --subnet CIDR`);
  });

  it('refuses an ip range that pokes out of its subnet (Docker only checks the first address)', () => {
    expect(refused({ subnets: ['10.1.0.0/24'], ipRanges: ['10.1.0.0/23'] }).message).toMatch(/--ip-range 10\.1\.0\.0\/23 is in none/);
  });

  it('accepts an ip range equal to its subnet', () => {
    expect(buildIpamConfig(flags({ subnets: ['10.1.0.0/24'], ipRanges: ['10.1.0.0/24'] }))).toEqual([
      { subnet: '10.1.0.0/24', ipRange: '10.1.0.0/24' },
    ]);
  });

  it('refuses overlapping or repeated subnets', () => {
    expect(refused({ subnets: ['10.1.0.0/16', '10.1.2.0/24'] }).message).toBe(
      '--subnet 10.1.0.0/16 and --subnet 10.1.2.0/24 overlap: give each subnet once, without overlaps',
    );
    expect(refused({ subnets: ['fd00::/64', 'fd00::/64'] }).message).toMatch(/overlap/);
  });

  it('accepts neighbouring subnets', () => {
    expect(buildIpamConfig(flags({ subnets: ['10.1.0.0/24', '10.1.1.0/24'] }))).toHaveLength(2);
  });

  it('refuses an aux address in no subnet, a repeated name and bad NAME=IP syntax', () => {
    expect(refused({ subnets: ['10.1.0.0/24'], auxAddresses: ['r=10.9.0.1'] }).message).toMatch(/--aux-address r=10\.9\.0\.1 is in none/);
    expect(refused({ subnets: ['10.1.0.0/24'], auxAddresses: ['r=10.1.0.1', 'r=10.1.0.2'] }).message).toBe(
      '--aux-address r is given twice: each name once',
    );
    for (const bad of ['10.1.0.1', '=10.1.0.1', 'my r=10.1.0.1']) {
      expect(refused({ subnets: ['10.1.0.0/24'], auxAddresses: [bad] }).message).toMatch(/expected NAME=IP/);
    }
    expect(refused({ subnets: ['10.1.0.0/24'], auxAddresses: ['r=10.1.0'] }).code).toBe(ErrorCodes.INVALID_ADDRESS);
  });

  it('keeps an aux name like __proto__ as a plain key', () => {
    const [entry] = buildIpamConfig(flags({ subnets: ['10.1.0.0/24'], auxAddresses: ['__proto__=10.1.0.5'] }));
    expect(Object.keys(entry!.auxAddresses!)).toEqual(['__proto__']);
    expect(JSON.stringify(entry)).toBe('{"subnet":"10.1.0.0/24","auxAddresses":{"__proto__":"10.1.0.5"}}');
  });

  it.each([
    ['subnets', ['10.1.0.0'], '--subnet'],
    ['subnets', ['10.1.0.0/33'], '--subnet'],
    ['subnets', ['fd00::/129'], '--subnet'],
    ['subnets', ['banana/24'], '--subnet'],
    ['gateways', ['10.1.0.1/24'], '--gateway'],
    ['gateways', ['10.1.0.256'], '--gateway'],
    ['ipRanges', ['10.1.0.128'], '--ip-range'],
  ] as const)('refuses malformed %s %j with INVALID_ADDRESS naming the flag', (field, values, flag) => {
    const e = refused({ subnets: field === 'subnets' ? values : ['10.1.0.0/24'], [field]: values });
    expect(e.code).toBe(ErrorCodes.INVALID_ADDRESS);
    expect(e.message).toContain(flag);
    expect(e.message).toContain(values[0]);
  });
});
