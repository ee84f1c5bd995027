// The overlay's cluster records on the embedded store (same Store contract as etcd): VNI
// allocation with compare-and-swap, the cluster-wide VXLAN port, the peer table.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PeerTable, networkOfPeerKey } from '../../../src/cluster/peers.js';
import { FIRST_VNI, VniAllocator } from '../../../src/cluster/vni.js';
import { DEFAULT_VXLAN_PORT, resolveVxlanPort } from '../../../src/cluster/vxlan-port.js';
import { openLocalStore, type LocalStore } from '../../../src/store/local-store.js';

const NET_A = 'a'.repeat(64);
const NET_B = 'b'.repeat(64);
const NET_C = 'c'.repeat(64);

describe('overlay cluster records', () => {
  let dir: string;
  let store: LocalStore;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'weft-ovl-'));
    store = await openLocalStore({ path: path.join(dir, 'store') });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('hands out the lowest free VNI from 4096, refuses a taken one, and reuses a released one', async () => {
    const vnis = new VniAllocator(store);
    expect(await vnis.allocate(NET_A)).toBe(FIRST_VNI);
    expect(await vnis.allocate(NET_A)).toBe(FIRST_VNI); // idempotent for the same network
    expect(await vnis.allocate(NET_B, 5000)).toBe(5000);
    await expect(vnis.allocate(NET_C, 5000)).rejects.toMatchObject({ code: 'WEFT_ERR_NETWORK_EXISTS', message: expect.stringMatching(/VXLAN id 5000 is taken by network bbbbbbbbbbbb/) });
    await expect(vnis.allocate(NET_C, 0)).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_OPTION' });
    expect(await vnis.of(NET_C)).toBeUndefined();
    expect(await vnis.allocate(NET_C)).toBe(FIRST_VNI + 1);
    await vnis.release(NET_A);
    expect(await vnis.of(NET_A)).toBeUndefined();
    expect(await vnis.allocate(NET_A)).toBe(FIRST_VNI);
  });

  it('allocates distinct VNIs to concurrent creators', async () => {
    const vnis = new VniAllocator(store);
    const ids = Array.from({ length: 8 }, (_, i) => String(i).repeat(64));
    const got = await Promise.all(ids.map((id) => vnis.allocate(id)));
    expect(new Set(got).size).toBe(8);
  });

  it('records the first host\'s VXLAN port and refuses a different one later', async () => {
    expect(await resolveVxlanPort(store, undefined, 'h1')).toBe(DEFAULT_VXLAN_PORT);
    expect(await resolveVxlanPort(store, 4789, 'h2')).toBe(4789);
    await expect(resolveVxlanPort(store, 8472, 'h3')).rejects.toMatchObject({
      code: 'WEFT_ERR_INVALID_OPTION',
      message: expect.stringMatching(/--vxlan-port 8472 differs from the cluster's VXLAN port 4789 \(set by host h1\)/),
    });
    await expect(resolveVxlanPort(store, 70000, 'h3')).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_OPTION' });
  });

  it('takes an explicit port on a new cluster', async () => {
    expect(await resolveVxlanPort(store, 8472, 'h1')).toBe(8472);
    expect(await resolveVxlanPort(store, undefined, 'h2')).toBe(8472);
  });

  it('keeps peers per network', async () => {
    const peers = new PeerTable(store);
    await peers.put(NET_A, 'e1', { host: 'h1', vtep: '198.18.0.11', mac: '02:42:0a:00:00:02', ipv4: '10.0.0.2' });
    await peers.put(NET_A, 'e2', { host: 'h2', vtep: '198.18.0.12', mac: '02:42:0a:00:00:03' });
    await peers.put(NET_B, 'e3', { host: 'h2', vtep: '198.18.0.12', mac: '02:42:0a:00:01:03' });
    expect((await peers.list(NET_A)).map((p) => p.endpointId)).toEqual(['e1', 'e2']);
    await peers.delete(NET_A, 'e1');
    expect((await peers.list(NET_A)).map((p) => p.host)).toEqual(['h2']);
    await peers.deleteNetwork(NET_A);
    expect(await peers.list(NET_A)).toEqual([]);
    expect(await peers.list(NET_B)).toHaveLength(1);
    expect(networkOfPeerKey(`overlay/peers/${NET_B}/e3`)).toBe(NET_B);
    expect(networkOfPeerKey('overlay/vnis/4096')).toBeUndefined();
  });
});
