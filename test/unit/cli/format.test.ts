import { describe, expect, it } from 'vitest';
import type { EndpointView, NetworkView } from '../../../src/api/types.js';
import { formatEndpoint, formatJson, formatNetworkIds, formatNetworkTable, formatVersion, renderTable } from '../../../src/cli/format.js';

const net = (name: string, id: string, subnets: string[] = [], driver = 'bridge'): NetworkView => ({
  id,
  name,
  driver,
  scope: 'local',
  internal: false,
  ipv6: false,
  origin: 'weft',
  options: {},
  ipam: subnets.map((subnet) => ({ subnet, auxAddresses: {} })),
  endpoints: [],
  created: '2026-01-01T00:00:00.000Z',
});

const ID_A = 'a1b2c3d4e5f6'.padEnd(64, '0');
const ID_B = 'f6e5d4c3b2a1'.padEnd(64, '1');

describe('renderTable', () => {
  it('pads like Docker tabwriter (min 10, padding 3) and leaves no trailing blanks', () => {
    expect(renderTable(['A', 'LONGER HEADER', 'Z'], [['x', 'y', ''], ['wide value here', 'q', 'last']])).toBe(
      'A                 LONGER HEADER   Z\n' + //
        'x                 y\n' +
        'wide value here   q               last\n',
    );
  });
});

describe('formatNetworkTable', () => {
  it('prints docker-like columns, 12-char ids, sorted by name, subnets joined', () => {
    const out = formatNetworkTable([net('zeta', ID_B, ['10.2.0.0/24', 'fd00::/64'], 'macvlan'), net('alpha', ID_A, ['10.1.0.0/24'])]);
    expect(out).toBe(
      'NETWORK ID     NAME      DRIVER    SCOPE     SUBNET\n' +
        'a1b2c3d4e5f6   alpha     bridge    local     10.1.0.0/24\n' +
        'f6e5d4c3b2a1   zeta      macvlan   local     10.2.0.0/24,fd00::/64\n',
    );
  });

  it('prints only the header when there are no networks', () => {
    expect(formatNetworkTable([])).toBe('NETWORK ID   NAME      DRIVER    SCOPE     SUBNET\n');
  });

  it('prints full ids with noTrunc', () => {
    expect(formatNetworkTable([net('a', ID_A)], { noTrunc: true }).split('\n')[1]).toMatch(new RegExp(`^${ID_A}   a `));
  });
});

describe('formatNetworkIds', () => {
  it('prints one short id per line, sorted by name', () => {
    expect(formatNetworkIds([net('b', ID_B), net('a', ID_A)])).toBe('a1b2c3d4e5f6\nf6e5d4c3b2a1\n');
    expect(formatNetworkIds([net('a', ID_A)], { noTrunc: true })).toBe(`${ID_A}\n`);
    expect(formatNetworkIds([])).toBe('');
  });
});

describe('formatJson', () => {
  it('round-trips and ends with a newline', () => {
    const v = [net('a', ID_A, ['10.1.0.0/24'])];
    const text = formatJson(v, 4);
    expect(text.endsWith('}\n]\n')).toBe(true);
    expect(JSON.parse(text)).toEqual(v);
  });
});

describe('formatEndpoint', () => {
  const ep: EndpointView = {
    id: '0123456789abcdef'.padEnd(64, '2'),
    network: 'net1',
    networkId: ID_A,
    netns: 'ns1',
    ifName: 'eth0',
    ipv4: '10.1.0.2/24',
    ipv6: 'fd00::2/64',
    mac: '02:42:0a:01:00:02',
    origin: 'weft',
  };

  it('prints interface and addresses on one line', () => {
    expect(formatEndpoint(ep, 'ns1')).toBe('net1 -> ns1: eth0 10.1.0.2/24 fd00::2/64 02:42:0a:01:00:02 (endpoint 0123456789ab)\n');
  });

  it('skips what the daemon did not report and falls back to the netns as given', () => {
    const { netns: _n, ipv6: _6, mac: _m, ...bare } = ep;
    expect(formatEndpoint(bare, '/proc/42/ns/net')).toBe('net1 -> /proc/42/ns/net: eth0 10.1.0.2/24 (endpoint 0123456789ab)\n');
  });
});

describe('formatVersion', () => {
  it('prints the client, and the server when known', () => {
    expect(formatVersion({ version: '0.1.0' })).toBe('Client:\n Version: 0.1.0\n');
    expect(
      formatVersion({ version: '0.1.0' }, { version: '0.1.0', apiVersion: '1', store: 'local', stateDir: '/var/lib/weft', node: 'v20.20.2' }),
    ).toBe(
      'Client:\n Version: 0.1.0\n' +
        'Server:\n Version:     0.1.0\n API version: 1\n Store:       local\n State dir:   /var/lib/weft\n Node:        v20.20.2\n',
    );
  });
});
