// src/sys/vxlan.ts on the real kernel, in two throw-away namespaces joined by a veth "underlay":
// the VXLAN device is created with learning off and proxy on, re-created when its VNI changes,
// refused when the name belongs to something else; FDB and neighbour entries are listed and
// changed in batches; and a ping crosses the tunnel on programmed entries alone.

import { describe, expect, it } from 'vitest';
import type { CommandRunner } from '../../src/sys/exec.js';
import { ProcessRunner } from '../../src/sys/exec.js';
import { applyTableChanges, ensureVxlan, FLOOD_MAC, getVxlan, listFdb, listNeigh, underlayMtu } from '../../src/sys/vxlan.js';
import { netnsScopePerTest, type Netns } from '../helpers/netns.js';

const processes = new ProcessRunner();
/** Runs every command inside `ns` (the code under test addresses its own namespace). */
const inside = (ns: Netns): CommandRunner => ({ run: (argv, opts) => processes.run(['ip', 'netns', 'exec', ns.name, ...argv], opts) });

async function underlay(a: Netns, b: Netns): Promise<void> {
  await a.execOk(['ip', 'link', 'add', 'ul0', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', b.name, 'mtu', '1400']);
  for (const [ns, ip] of [[a, '198.18.9.1'], [b, '198.18.9.2']] as const) {
    await ns.execOk(['ip', 'addr', 'add', `${ip}/24`, 'dev', 'ul0']);
    await ns.execOk(['ip', 'link', 'set', 'ul0', 'up']);
    await ns.execOk(['ip', 'link', 'set', 'lo', 'up']);
    await ns.execOk(['ip', 'link', 'add', 'wfobr', 'type', 'bridge']);
    await ns.execOk(['ip', 'link', 'set', 'wfobr', 'mtu', '1350', 'up']);
  }
}

describe('VXLAN device and tables (iproute2)', () => {
  const scope = netnsScopePerTest();

  it('creates the device as specified, idempotently, and re-creates it on a VNI change', async () => {
    const [a, b] = [await scope.create(), await scope.create()];
    await underlay(a, b);
    const r = inside(a);
    const spec = { name: 'wfxtest', vni: 4096, port: 4789, local: '198.18.9.1', mtu: 1350, master: 'wfobr', alias: 'weft:abc' };
    await ensureVxlan(r, spec);
    await ensureVxlan(r, spec);
    const [link] = await a.ipJson<Array<{ ifindex: number; mtu: number; master: string; ifalias: string; linkinfo: { info_data: { id: number; learning: boolean; proxy: boolean; port: number } } }>>(['-d', 'link', 'show', 'wfxtest']);
    expect(link).toMatchObject({ mtu: 1350, master: 'wfobr', ifalias: 'weft:abc', linkinfo: { info_data: { id: 4096, learning: false, proxy: true, port: 4789 } } });
    await ensureVxlan(r, { ...spec, vni: 4097 });
    expect((await getVxlan(r, 'wfxtest'))?.vni).toBe(4097);
    await expect(ensureVxlan(r, { ...spec, alias: 'weft:other' })).rejects.toThrow(/not weft's VXLAN device/);
    expect(await underlayMtu(r, '198.18.9.1')).toBe(1400);
    expect(await underlayMtu(r, '198.18.9.99')).toBeUndefined();
  });

  it('lists and changes FDB and neighbour entries, and a ping crosses on them alone', async () => {
    const [a, b] = [await scope.create(), await scope.create()];
    await underlay(a, b);
    const ends = [
      { ns: a, local: '198.18.9.1', remote: '198.18.9.2', ip: '10.9.0.1', mac: '02:42:0a:09:00:01' },
      { ns: b, local: '198.18.9.2', remote: '198.18.9.1', ip: '10.9.0.2', mac: '02:42:0a:09:00:02' },
    ];
    for (const e of ends) {
      await e.ns.execOk(['ip', 'link', 'set', 'wfobr', 'address', e.mac]);
      await e.ns.execOk(['ip', 'addr', 'add', `${e.ip}/24`, 'dev', 'wfobr']);
      await ensureVxlan(inside(e.ns), { name: 'wfxtest', vni: 5000, port: 4789, local: e.local, mtu: 1350, master: 'wfobr', alias: 'weft:abc' });
    }
    // Nothing programmed: nothing crosses (no learning, no flood entry).
    expect((await a.exec(['busybox', 'ping', '-c', '1', '-W', '1', '10.9.0.2'])).code).not.toBe(0);
    for (const [e, peer] of [[ends[0]!, ends[1]!], [ends[1]!, ends[0]!]] as const) {
      await applyTableChanges(inside(e.ns), 'wfxtest', {
        addFdb: [{ mac: peer.mac, dst: e.remote }, { mac: FLOOD_MAC, dst: e.remote }],
        delFdb: [],
        addNeigh: [{ ip: peer.ip, mac: peer.mac }],
        delNeigh: [],
      });
    }
    expect(await listFdb(inside(a), 'wfxtest')).toEqual(expect.arrayContaining([{ mac: '02:42:0a:09:00:02', dst: '198.18.9.2' }, { mac: FLOOD_MAC, dst: '198.18.9.2' }]));
    expect(await listNeigh(inside(a), 'wfxtest')).toEqual([{ ip: '10.9.0.2', mac: '02:42:0a:09:00:02' }]);
    const ping = await a.exec(['busybox', 'ping', '-c', '2', '-W', '2', '10.9.0.2']);
    expect(ping.code, ping.stdout + ping.stderr).toBe(0);
    await applyTableChanges(inside(a), 'wfxtest', { addFdb: [], delFdb: [{ mac: '02:42:0a:09:00:02', dst: '198.18.9.2' }], addNeigh: [], delNeigh: [{ ip: '10.9.0.2', mac: '02:42:0a:09:00:02' }] });
    expect(await listFdb(inside(a), 'wfxtest')).toEqual([{ mac: FLOOD_MAC, dst: '198.18.9.2' }]);
    expect(await listNeigh(inside(a), 'wfxtest')).toEqual([]);
  });
});
