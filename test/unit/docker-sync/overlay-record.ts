// The cluster's record of an overlay network as docker-sync sees it (10.60.0.0/24 from the global
// pool), shared by the plan and the sync-loop tests.

import type { NetworkRecord } from '../../../src/model/network.js';

export const overlayRecord = (name: string, c: string, extra: Partial<NetworkRecord> = {}): NetworkRecord => ({
  id: c.repeat(64),
  name,
  driver: 'overlay',
  origin: 'weft',
  options: {},
  internal: false,
  enableIPv6: false,
  ipv4: [{ subnet: '10.60.0.0/24', gateway: '10.60.0.1', auxAddresses: {}, poolId: 'global/10.60.0.0/24' }],
  ipv6: [],
  createdAt: '2026-01-01T00:00:00Z',
  ...extra,
});
