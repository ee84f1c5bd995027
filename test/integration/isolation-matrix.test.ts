// The isolation matrix on one host, on the real kernel: for each pair of network kinds, the
// traffic that must be blocked is blocked and the traffic that must flow flows, in the same test
// (the positive control is what makes a "blocked" assertion able to fail).
//
//                      upstream netns (192.168.77.2: "the internet")
//                          | veth (hostNs default route)
//   hostNs (weftd) ------ bridges iso-a, iso-b, iso-int (--internal)
//                 \------ par0 == lan0 (LAN netns: router .1, LAN host .10), macvlan private
//                 \------ par1 == lan1 (second LAN), macvlan bridge mode (the control)
//
// Containers are plain namespaces connected with `weft network connect`; traffic is busybox ping.
// Two overlays across hosts need the multi-host lab: see docs/testing.md ("Isolation matrix").

import { beforeAll, describe, expect, it } from 'vitest';
import { createVethPair, netnsScopePerFile, type Netns } from '../helpers/netns.js';
import { startWeftdInNetns, type WeftdHandle } from '../helpers/weftd.js';

const UPSTREAM = '192.168.77.2';

describe('isolation between networks of each kind', () => {
  const scope = netnsScopePerFile();
  let host: Netns;
  let weftd: WeftdHandle;

  /** One ICMP echo, 1 s to answer: true when it came back. */
  const reaches = async (from: Netns, ip: string) => (await from.exec(['busybox', 'ping', '-c', '1', '-W', '1', ip])).code === 0;
  /** A blocked path is tried twice (ARP on the first try must not count as the block). */
  const blocked = async (from: Netns, ip: string) => !(await reaches(from, ip)) && !(await reaches(from, ip));
  const container = async (net: string): Promise<{ ns: Netns; ip: string }> => {
    const ns = await scope.create();
    const ep = JSON.parse(await weftd.cliOk(['network', 'connect', '--format', 'json', net, ns.name])) as { ipv4: string };
    return { ns, ip: ep.ipv4.split('/')[0]! };
  };

  beforeAll(async () => {
    host = await scope.create();
    const upstream = await scope.create();
    await createVethPair({ ns: host, name: 'up0', cidr: '192.168.77.1/24' }, { ns: upstream, name: 'wan', cidr: `${UPSTREAM}/24` });
    await host.ip(['route', 'add', 'default', 'via', UPSTREAM]);
    weftd = await startWeftdInNetns(scope, host);
  });

  it('two bridges: blocked both ways, while each reaches its own peers and the outside', async () => {
    await weftd.cliOk(['network', 'create', '--subnet', '10.91.1.0/24', 'iso-a']);
    await weftd.cliOk(['network', 'create', '--subnet', '10.91.2.0/24', 'iso-b']);
    const [a1, a2, b1, b2] = await Promise.all([container('iso-a'), container('iso-a'), container('iso-b'), container('iso-b')]);
    // Allowed: inside each network, and out through the host.
    expect(await reaches(a1!.ns, a2!.ip)).toBe(true);
    expect(await reaches(b1!.ns, b2!.ip)).toBe(true);
    expect(await reaches(a1!.ns, UPSTREAM)).toBe(true);
    expect(await reaches(b1!.ns, UPSTREAM)).toBe(true);
    // Blocked: across, both ways.
    expect(await blocked(a1!.ns, b1!.ip)).toBe(true);
    expect(await blocked(b1!.ns, a1!.ip)).toBe(true);
    expect(await blocked(b2!.ns, a2!.ip)).toBe(true);
  });

  it('bridge and --internal bridge: the internal one reaches nothing outside, and nothing reaches it from the other', async () => {
    await weftd.cliOk(['network', 'create', '--internal', '--subnet', '10.91.3.0/24', 'iso-int']);
    await weftd.cliOk(['network', 'create', '--subnet', '10.91.4.0/24', 'iso-c']);
    const [i1, i2, c1] = await Promise.all([container('iso-int'), container('iso-int'), container('iso-c')]);
    // Allowed: inside the internal network; the other network goes out.
    expect(await reaches(i1!.ns, i2!.ip)).toBe(true);
    expect(await reaches(c1!.ns, UPSTREAM)).toBe(true);
    // Blocked: internal -> outside, internal -> other network, other network -> internal.
    expect(await blocked(i1!.ns, UPSTREAM)).toBe(true);
    expect(await blocked(i1!.ns, c1!.ip)).toBe(true);
    expect(await blocked(c1!.ns, i1!.ip)).toBe(true);
    expect(await blocked(c1!.ns, i2!.ip)).toBe(true);
  });

  it('macvlan private: container to container blocked, the LAN host reachable; bridge mode is the control', async () => {
    const lans: Netns[] = [];
    for (const i of [0, 1]) {
      const lan = await scope.create();
      await createVethPair({ ns: host, name: `par${i}` }, { ns: lan, name: 'lan', cidr: `10.92.${i}.1/24` });
      await lan.ip(['addr', 'add', `10.92.${i}.10/24`, 'dev', 'lan']);
      lans.push(lan);
    }
    await weftd.cliOk(['network', 'create', '-d', 'macvlan', '-o', 'parent=par0', '-o', 'macvlan_mode=private', '--subnet', '10.92.0.0/24', '--gateway', '10.92.0.1', 'iso-mp']);
    await weftd.cliOk(['network', 'create', '-d', 'macvlan', '-o', 'parent=par1', '-o', 'macvlan_mode=bridge', '--subnet', '10.92.1.0/24', '--gateway', '10.92.1.1', 'iso-mb']);
    const [p1, p2, q1, q2] = await Promise.all([container('iso-mp'), container('iso-mp'), container('iso-mb'), container('iso-mb')]);
    // Allowed: the LAN host (through the parent's wire), from both private containers.
    expect(await reaches(p1!.ns, '10.92.0.10')).toBe(true);
    expect(await reaches(p2!.ns, '10.92.0.10')).toBe(true);
    // Control: in bridge mode the same two-container setup talks.
    expect(await reaches(q1!.ns, q2!.ip)).toBe(true);
    expect(await reaches(q1!.ns, '10.92.1.10')).toBe(true);
    // Blocked: private containers of one parent, both ways.
    expect(await blocked(p1!.ns, p2!.ip)).toBe(true);
    expect(await blocked(p2!.ns, p1!.ip)).toBe(true);
  });
});
