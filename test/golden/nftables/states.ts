// Firewall states shared by the nftables unit tests and their golden files.

import type { FirewallNetwork, FirewallPortMapping, FirewallState } from '../../../src/sys/firewall.js';

export const NET_PLAIN: FirewallNetwork = {
  id: 'a1',
  bridge: 'wf-a1',
  subnetsV4: ['172.18.0.0/16'],
  subnetsV6: [],
  icc: true,
  masquerade: true,
  masqueradeV6: false,
  internal: false,
};

export const NET_DUAL: FirewallNetwork = {
  id: 'b2',
  bridge: 'wf-b2',
  subnetsV4: ['10.10.0.0/24'],
  subnetsV6: ['fd00:10::/64'],
  icc: true,
  masquerade: true,
  masqueradeV6: true,
  internal: false,
};

export const NET_NOICC: FirewallNetwork = {
  id: 'c3',
  bridge: 'wf-c3',
  subnetsV4: ['10.20.0.0/24'],
  subnetsV6: ['fd00:20::/64'],
  icc: false,
  masquerade: true,
  masqueradeV6: false,
  internal: false,
};

export const NET_INTERNAL: FirewallNetwork = {
  id: 'd4',
  bridge: 'wf-d4',
  subnetsV4: ['10.30.0.0/24'],
  subnetsV6: [],
  icc: true,
  masquerade: true,
  masqueradeV6: false,
  internal: true,
};

export const NET_BINDING: FirewallNetwork = {
  id: 'e5',
  bridge: 'br.e5',
  subnetsV4: ['10.40.0.0/24', '10.41.0.0/24'],
  subnetsV6: [],
  icc: true,
  masquerade: false,
  masqueradeV6: false,
  internal: false,
  hostBindingIpv4: '192.0.2.10',
};

export const port = (p: Partial<FirewallPortMapping> & Pick<FirewallPortMapping, 'networkId' | 'containerIp'>): FirewallPortMapping => ({
  proto: 'tcp',
  family: 4,
  hostIp: '',
  hostPort: 8080,
  containerPort: 80,
  ...p,
});

/** name -> state; each has a golden file test/golden/nftables/<name>.nft. */
export const GOLDEN_STATES: Record<string, FirewallState> = {
  empty: { networks: [], ports: [] },
  'default-bridge': {
    networks: [NET_PLAIN],
    ports: [port({ networkId: 'a1', containerIp: '172.18.0.2' })],
  },
  'dual-stack-nat66': {
    networks: [NET_DUAL],
    ports: [
      port({ networkId: 'b2', containerIp: '10.10.0.2', hostPort: 443, containerPort: 8443 }),
      port({ networkId: 'b2', containerIp: 'fd00:10::2', family: 6, hostPort: 443, containerPort: 8443 }),
      port({ networkId: 'b2', containerIp: 'fd00:10::2', family: 6, hostIp: '2001:db8::1', proto: 'udp', hostPort: 53, containerPort: 53 }),
    ],
  },
  'icc-off-and-internal': {
    networks: [NET_PLAIN, NET_NOICC, NET_INTERNAL],
    ports: [port({ networkId: 'c3', containerIp: '10.20.0.5', proto: 'sctp', hostPort: 9000, containerPort: 9000 })],
  },
  'host-binding-and-localhost': {
    networks: [NET_BINDING],
    ports: [
      // No host IP: the network's host_binding_ipv4 applies.
      port({ networkId: 'e5', containerIp: '10.40.0.2' }),
      port({ networkId: 'e5', containerIp: '10.41.0.2', hostIp: '127.0.0.1', hostPort: 8081 }),
      // An explicit 0.0.0.0 means every address: the default does not apply.
      port({ networkId: 'e5', containerIp: '10.41.0.3', hostIp: '0.0.0.0', hostPort: 8082, proto: 'udp' }),
    ],
  },
};

/**
 * The state whose kernel listing is recorded in listing-inet.json and listing-bridge.json
 * (`nft -j list table inet|bridge weft` after loading it; the integration test re-records them
 * with WEFT_UPDATE_GOLDEN=1 and checks them against the kernel otherwise).
 */
export const LISTED_STATE: FirewallState = {
  networks: [NET_DUAL, NET_NOICC, NET_INTERNAL, NET_BINDING],
  ports: [
    port({ networkId: 'b2', containerIp: '10.10.0.2', hostPort: 443, containerPort: 8443 }),
    port({ networkId: 'b2', containerIp: 'fd00:10::2', family: 6, hostPort: 443, containerPort: 8443 }),
    port({ networkId: 'b2', containerIp: 'fd00:10::2', family: 6, hostIp: '2001:db8::1', proto: 'udp', hostPort: 53, containerPort: 53 }),
    port({ networkId: 'c3', containerIp: '10.20.0.5', proto: 'sctp', hostPort: 9000, containerPort: 9000 }),
    port({ networkId: 'e5', containerIp: '10.40.0.2' }),
    port({ networkId: 'e5', containerIp: '10.41.0.2', hostIp: '127.0.0.1', hostPort: 8081 }),
  ],
};
