// weft check beyond one host's store: addresses across hosts (the overlay peer table), Docker's
// view of weft's networks, endpoints whose namespace is gone, and nftables element findings.

import { afterEach, describe, expect, it } from 'vitest';
import { compareWithDocker, parseDockerNetwork } from '../../../src/controller/check-docker.js';
import { runCheck, type CheckDeps } from '../../../src/controller/checker.js';
import type { Controller } from '../../../src/controller/controller.js';
import type { NetworkDriver } from '../../../src/driver-api/driver.js';
import { IpamService } from '../../../src/ipam/ipam-service.js';
import type { EndpointRecord, NetworkRecord } from '../../../src/model/network.js';
import type { LocalStore } from '../../../src/store/local-store.js';
import { unitScopePerTest } from '../../helpers/unit-container.js';

const id = (c: string) => c.repeat(64).slice(0, 64);
const netOf = (over: Partial<NetworkRecord> = {}): NetworkRecord => ({ id: id('a'), name: 'n', driver: 'none', origin: 'weft', options: {}, internal: false, enableIPv6: false, ipv4: [], ipv6: [], createdAt: '', ...over });
const epOf = (c: string, over: Partial<EndpointRecord> = {}): EndpointRecord => ({ id: id(c), networkId: id('a'), origin: 'weft', createdAt: '', ...over });

describe('weft check: cluster, Docker, namespaces, nftables', () => {
  const scope = unitScopePerTest();
  // One store per test, opened by its first deps() (some tests never need one); the scope closes it.
  let store: LocalStore | undefined;
  afterEach(() => void (store = undefined));

  const deps = async (networks: NetworkRecord[], endpoints: EndpointRecord[], extra: Partial<CheckDeps> = {}): Promise<CheckDeps> => {
    store ??= (await scope.store('weft-check-')).store;
    return {
      controller: { listNetworks: async () => networks, listEndpoints: async () => endpoints } as unknown as Controller,
      ipam: new IpamService(store, async () => [], {}),
      links: async () => [],
      driver: () => ({}) as NetworkDriver,
      netnsExists: async () => true,
      ...extra,
    };
  };

  it('reports an address held by endpoints on two hosts, naming both hosts', async () => {
    const net = netOf({ driver: 'overlay' });
    const local = epOf('1', { addressV4: '10.8.0.5/24' });
    const d = await deps([net], [local], {
      clusterPeers: async () => [
        { endpointId: local.id, host: 'h1', ipv4: '10.8.0.5' },
        { endpointId: id('2'), host: 'h2', ipv4: '10.8.0.5' },
        { endpointId: id('3'), host: 'h2', ipv4: '10.8.0.6' },
      ],
    });
    const r = await runCheck(d);
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]).toMatchObject({ kind: 'duplicate-address', object: 'address 10.8.0.5', details: { crossHost: true, endpoints: [local.id, id('2')] } });
    expect(r.findings[0]!.message).toContain('host h2');
  });

  it('does not count other hosts\' addresses in a global pool as orphan allocations, but does count an address no host has', async () => {
    const d = await deps([], []);
    const pool = await d.ipam.requestPool({ addressSpace: 'local', pool: '10.8.1.0/24', v6: false });
    const theirs = await d.ipam.requestAddress({ poolId: pool.poolId, kind: 'endpoint', owner: id('2') });
    const nobody = await d.ipam.requestAddress({ poolId: pool.poolId, kind: 'endpoint', owner: id('9') });
    const net = netOf({ driver: 'overlay', ipv4: [{ subnet: '10.8.1.0/24', auxAddresses: {}, poolId: pool.poolId }] });
    const r = await runCheck({ ...(await deps([net], [])), ipam: d.ipam, clusterPeers: async () => [{ endpointId: id('2'), host: 'h2', ipv4: theirs.address.split('/')[0]! }] });
    expect(r.findings.map((f) => `${f.kind} ${f.object}`)).toEqual([`orphan-allocation address ${nobody.address.split('/')[0]}`]);
  });

  it('reports a joined endpoint whose namespace is gone as stale, once (its veth is not a second finding)', async () => {
    const net = netOf({ driver: 'bridge' });
    const ep = epOf('1', { sandbox: { name: 'gone', path: '/var/run/netns/gone' } });
    const driver = { expectedLinks: (_n: NetworkRecord, eps: EndpointRecord[]) => eps.map((e) => ({ name: `wfh${e.id.slice(0, 12)}`, what: 'veth', endpointId: e.id })) } as unknown as NetworkDriver;
    const r = await runCheck(await deps([net], [ep], { netnsExists: async (p) => p !== '/var/run/netns/gone', driver: () => driver }));
    expect(r.findings.map((f) => `${f.kind} ${f.object}`)).toEqual([`stale-endpoint endpoint ${ep.id}`]);
  });

  it('looks for a driver\'s in-sandbox link inside the namespace: missing -> finding naming the link and the namespace; stale endpoints are not probed', async () => {
    const net = netOf({ driver: 'macvlan' });
    const present = epOf('1', { ifName: 'eth0', sandbox: { name: 'ns1', path: '/var/run/netns/ns1' } });
    const missing = epOf('2', { ifName: 'eth1', sandbox: { path: '/proc/42/ns/net' } });
    const stale = epOf('3', { ifName: 'eth0', sandbox: { name: 'gone', path: '/var/run/netns/gone' } });
    const driver = { sandboxLink: (_n: NetworkRecord, e: EndpointRecord) => (e.ifName ? { name: e.ifName, what: 'macvlan' } : undefined) } as unknown as NetworkDriver;
    const probed: string[] = [];
    const r = await runCheck(
      await deps([net], [present, missing, stale], {
        driver: () => driver,
        netnsExists: async (p) => p !== '/var/run/netns/gone',
        sandboxLinkExists: async (sb, name) => (probed.push(`${sb.path} ${name}`), sb.path === '/var/run/netns/ns1'),
      }),
    );
    expect(r.findings.map((f) => `${f.kind} ${f.object}`).sort()).toEqual([`missing-kernel-object link eth1 in /proc/42/ns/net`, `stale-endpoint endpoint ${stale.id}`]);
    expect(r.findings.find((f) => f.kind === 'missing-kernel-object')!.details).toMatchObject({ link: 'eth1', endpointId: missing.id, networkId: net.id });
    expect(probed.sort()).toEqual(['/proc/42/ns/net eth1', '/var/run/netns/ns1 eth0']);
  });

  it('turns the firewall diff into orphan and missing nft element findings', async () => {
    const r = await runCheck(await deps([], [], { firewallDiff: async () => ({ extra: [{ set: 'dnat_any_v4', element: 'tcp . 1 : 10.0.0.1 . 1' }], missing: [{ set: 'bridges', element: '"wf-x"' }] }) }));
    expect(r.findings.map((f) => `${f.kind} ${f.object}`)).toEqual(['orphan-nft-element nft dnat_any_v4 tcp . 1 : 10.0.0.1 . 1', 'missing-nft-element nft bridges "wf-x"']);
    expect(r.clean).toBe(false);
  });

  it('compares with Docker: endpoints Docker has that weft lacks, and joined Docker endpoints Docker lacks', async () => {
    const net = netOf({ origin: 'docker', driver: 'bridge' });
    const known = epOf('1', { origin: 'docker', sandbox: { path: '/var/run/docker/netns/x' } });
    const lost = epOf('2', { origin: 'docker', sandbox: { path: '/var/run/docker/netns/y' } });
    const notJoined = epOf('3', { origin: 'docker' });
    const docker = [parseDockerNetwork({ Id: net.id, Name: 'web', Driver: 'weft-bridge', Containers: { c1: { Name: 'one', EndpointID: known.id, IPv4Address: '10.0.0.2/24' }, c9: { Name: 'nine', EndpointID: id('9') } } })];
    const diff = compareWithDocker(docker, [net], [known, lost, notJoined]);
    expect(diff.unknownToWeft.map((u) => [u.endpointId, u.container])).toEqual([[id('9'), 'nine']]);
    expect(diff.unknownToDocker.map((e) => e.id)).toEqual([lost.id]);
    const r = await runCheck(await deps([net], [known, lost, notJoined], { docker: async () => docker }));
    expect(r.findings.map((f) => `${f.kind} ${f.object}`).sort()).toEqual([`docker-endpoint-missing endpoint ${lost.id}`, `docker-endpoint-unknown endpoint ${id('9')}`]);
  });

  it('parses a Docker network answer defensively', () => {
    expect(parseDockerNetwork({ Id: 'abc', Driver: 'weft-bridge', Containers: { x: { EndpointID: '' }, y: 'nonsense' } })).toEqual({ id: 'abc', name: 'abc', driver: 'weft-bridge', endpoints: [] });
    expect(() => parseDockerNetwork([])).toThrow();
  });
});
