import { describe, expect, it } from 'vitest';
import { normalizeAddressRequest, normalizePoolRequest, parseReleaseAddress } from '../../../src/ipam/requests.js';
import { formatCidr } from '../../../src/ipam/cidr.js';
import type { AddressRequest, PoolRequest } from '../../../src/ipam/ipam.js';
import { WeftError } from '../../../src/model/errors.js';

function errorOf(fn: () => unknown): WeftError {
  try {
    fn();
  } catch (e) {
    if (e instanceof WeftError) return e;
    throw e;
  }
  throw new Error('expected a WeftError');
}

describe('pool requests', () => {
  it('normalizes an explicit pool with a sub-pool', () => {
    const n = normalizePoolRequest({ addressSpace: 'local', pool: '10.31.0.0/24', subPool: '10.31.0.128/25', v6: false, network: 'n1' });
    expect(n.space).toBe('local');
    expect(formatCidr(n.pool!)).toBe('10.31.0.0/24');
    expect(formatCidr(n.subPool!)).toBe('10.31.0.128/25');
    expect(n.network).toBe('n1');
  });

  it('empty pool and sub-pool strings mean "choose for me" (Docker sends "")', () => {
    const n = normalizePoolRequest({ addressSpace: 'global', pool: '', subPool: '', v6: true });
    expect(n.pool).toBeUndefined();
    expect(n.family).toBe(6);
  });

  it.each<[Partial<PoolRequest>, string, string]>([
    [{ addressSpace: 'bogus' }, 'WEFT_ERR_ADDRESS_SPACE_NOT_FOUND', 'unknown address space "bogus"'],
    [{ addressSpace: '' }, 'WEFT_ERR_ADDRESS_SPACE_NOT_FOUND', 'unknown address space ""'],
    [{ pool: '10.0.0.300/24' }, 'WEFT_ERR_INVALID_ADDRESS', 'invalid subnet "10.0.0.300/24"'],
    [{ pool: '10.0.0.0/33' }, 'WEFT_ERR_INVALID_ADDRESS', 'invalid subnet'],
    [{ pool: 'abc' }, 'WEFT_ERR_INVALID_ADDRESS', 'invalid subnet "abc"'],
    [{ pool: '10.0.0.1/24' }, 'WEFT_ERR_INVALID_ADDRESS', 'did you mean 10.0.0.0/24?'],
    [{ pool: '10.0.0.0/24', v6: true }, 'WEFT_ERR_BAD_REQUEST', 'subnet 10.0.0.0/24 is IPv4 but the pool request is for IPv6'],
    [{ pool: 'fd00::/64', v6: false }, 'WEFT_ERR_BAD_REQUEST', 'is IPv6 but the pool request is for IPv4'],
    [{ pool: '10.0.0.0/24', subPool: '10.0.1.0/25' }, 'WEFT_ERR_BAD_REQUEST', 'ip-range 10.0.1.0/25 is not inside subnet 10.0.0.0/24'],
    [{ pool: '10.0.0.0/24', subPool: '10.0.0.0/23' }, 'WEFT_ERR_BAD_REQUEST', 'is not inside'],
    [{ pool: '10.0.0.0/24', subPool: 'fd00::/120' }, 'WEFT_ERR_BAD_REQUEST', 'is not inside'],
    [{ pool: '10.0.0.0/24', subPool: '10.0.0.129/25' }, 'WEFT_ERR_INVALID_ADDRESS', 'invalid ip-range 10.0.0.129/25'],
    [{ subPool: '10.0.0.0/25' }, 'WEFT_ERR_BAD_REQUEST', 'needs an explicit subnet'],
    [{ pool: 'fd00::/128', v6: true }, 'WEFT_ERR_BAD_REQUEST', 'subnet fd00::/128 has no address that can be handed out'],
    [{ pool: '10.0.0.0/24', subPool: '10.0.0.255/32' }, 'WEFT_ERR_BAD_REQUEST', 'ip-range 10.0.0.255/32 has no address'],
    [{ options: { a: 1 as unknown as string } }, 'WEFT_ERR_BAD_REQUEST', 'IPAM option "a" must be a string'],
    [{ v6: 'yes' as unknown as boolean }, 'WEFT_ERR_BAD_REQUEST', 'v6 must be true or false'],
  ])('refuses %j', (patch, code, fragment) => {
    const e = errorOf(() => normalizePoolRequest({ addressSpace: 'local', v6: false, ...patch }));
    expect(e.code).toBe(code);
    expect(e.message).toContain(fragment);
  });
});

describe('address requests', () => {
  it('normalizes', () => {
    const n = normalizeAddressRequest({ poolId: 'local/10.0.0.0/24', kind: 'gateway', address: '10.0.0.1', owner: 'n1' });
    expect(n.address?.value).toBe(0x0a000001n);
    expect(normalizeAddressRequest({ poolId: 'p', kind: 'endpoint', address: '' }).address).toBeUndefined();
  });

  it.each<[Partial<AddressRequest>, string, string]>([
    [{ poolId: '' }, 'WEFT_ERR_BAD_REQUEST', 'pool id'],
    [{ kind: 'router' as 'aux' }, 'WEFT_ERR_BAD_REQUEST', 'address kind must be one of'],
    [{ address: '10.0.0.1/24' }, 'WEFT_ERR_INVALID_ADDRESS', 'invalid address "10.0.0.1/24"'],
    [{ address: '10.0.0.256', kind: 'gateway' }, 'WEFT_ERR_INVALID_ADDRESS', 'invalid gateway address "10.0.0.256"'],
  ])('refuses %j', (patch, code, fragment) => {
    const e = errorOf(() => normalizeAddressRequest({ poolId: 'local/10.0.0.0/24', kind: 'endpoint', ...patch }));
    expect(e.code).toBe(code);
    expect(e.message).toContain(fragment);
  });

  it('release takes a bare IP or a CIDR', () => {
    expect(parseReleaseAddress('10.0.0.5').value).toBe(0x0a000005n);
    expect(parseReleaseAddress('10.0.0.5/24').value).toBe(0x0a000005n);
    expect(errorOf(() => parseReleaseAddress('10.0.0.5/99')).code).toBe('WEFT_ERR_INVALID_ADDRESS');
  });
});
