import { describe, expect, it } from 'vitest';
import { ownerOfAlias } from '../../../src/sys/links.js';
import { parseNetnsArg } from '../../../src/sys/netns.js';
import { parseRouteDestinations } from '../../../src/sys/routes.js';

describe('iproute2 parsers', () => {
  it('reads the owner from weft marks only', () => {
    expect(ownerOfAlias('weft:abc')).toBe('abc');
    expect(ownerOfAlias('someone else')).toBeUndefined();
    expect(ownerOfAlias(undefined)).toBeUndefined();
  });

  it('reads route destinations, leaving out default routes', () => {
    const v4 = JSON.stringify([{ dst: 'default', gateway: '10.0.0.1' }, { dst: '10.0.0.0/24' }, { dst: '10.0.0.7' }]);
    expect(parseRouteDestinations(v4, 4)).toEqual(['10.0.0.0/24', '10.0.0.7/32']);
    expect(parseRouteDestinations(JSON.stringify([{ dst: 'fd00::/64' }, { dst: 'fd00::1' }]), 6)).toEqual(['fd00::/64', 'fd00::1/128']);
    expect(parseRouteDestinations('', 4)).toEqual([]);
  });
});

describe('namespace arguments', () => {
  it('maps names to /var/run/netns and keeps paths', () => {
    expect(parseNetnsArg('ns1')).toEqual({ path: '/var/run/netns/ns1', name: 'ns1' });
    expect(parseNetnsArg('/proc/42/ns/net')).toEqual({ path: '/proc/42/ns/net' });
  });

  it.each(['', '..', 'a b', '$(reboot)', 'x;y', 'a\nb', 'rel/path', '/var/run/netns/../x', '/a//b', '/a/'])('refuses %j', (arg) => {
    expect(() => parseNetnsArg(arg)).toThrow(/namespace/);
  });
});
