// What `weft check`, the link events and the EndpointRepairer expect of a macvlan network on the
// host: the internal lower bridge, the host_access shim and Docker endpoints' links not moved yet;
// never a joined endpoint's link (it lives in the container's namespace, renamed eth<N>).

import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MacvlanDriver, type MacvlanDriverDeps } from '../../../drivers/macvlan/macvlan-driver.js';
import type { EndpointRecord, NetworkRecord } from '../../../src/model/network.js';

const NET = 'ab'.repeat(32);
// expectedLinks is pure: it reads only the records it is given, never the deps.
const driver = new MacvlanDriver({ logger: pino({ level: 'silent' }) } as unknown as MacvlanDriverDeps);
const net = (options: Record<string, string>, internal = false): NetworkRecord => ({
  id: NET,
  name: 'm',
  driver: 'macvlan',
  origin: 'weft',
  options,
  internal,
  enableIPv6: false,
  ipv4: [],
  ipv6: [],
  createdAt: '2026-01-01T00:00:00Z',
});
const ep = (c: string, extra: Partial<EndpointRecord> = {}): EndpointRecord => ({ id: c.repeat(64), networkId: NET, origin: 'docker', ...extra }) as EndpointRecord;

describe('macvlan expectedLinks', () => {
  it('expects nothing on the host for a plain network with joined endpoints', () => {
    const joined = [ep('c', { sandbox: { path: '/var/run/docker/netns/x' } }), ep('d', { origin: 'weft', sandbox: { path: '/var/run/netns/y' } })];
    expect(driver.expectedLinks(net({ parent: 'eth1' }), joined)).toEqual([]);
  });

  it('expects the host_access shim, named by the network', () => {
    expect(driver.expectedLinks(net({ parent: 'eth1', host_access: 'true' }), [])).toEqual([{ name: `wfs${NET.slice(0, 12)}`, what: 'host_access shim' }]);
  });

  it('expects the internal lower bridge for --internal without a parent, not with one', () => {
    expect(driver.expectedLinks(net({}, true), [])).toEqual([{ name: `wfl${NET.slice(0, 12)}`, what: 'internal lower bridge' }]);
    expect(driver.expectedLinks(net({ parent: 'eth1' }, true), [])).toEqual([]);
  });

  it('expects the host link of a Docker endpoint not moved yet, naming its endpoint (the EndpointRepairer re-creates it)', () => {
    const e = ep('e');
    expect(driver.expectedLinks(net({ parent: 'eth1' }), [e, ep('f', { sandbox: { path: '/p' } })])).toEqual([
      { name: `wfv${e.id.slice(0, 12)}`, what: `macvlan of endpoint ${e.id.slice(0, 12)}`, endpointId: e.id },
    ]);
  });

  it('expects nothing for options this version refuses (nothing was made for them)', () => {
    expect(driver.expectedLinks(net({ bogus: '1' }), [ep('e')])).toEqual([]);
  });

  it('names a joined endpoint\'s link inside its sandbox (sandboxLink), none before the join', () => {
    expect(driver.sandboxLink(net({ parent: 'eth1' }), ep('c', { sandbox: { path: '/p' }, ifName: 'eth2' }))).toEqual({ name: 'eth2', what: `macvlan of endpoint ${'c'.repeat(12)}` });
    expect(driver.sandboxLink(net({ parent: 'eth1' }), ep('c'))).toBeUndefined();
  });
});
