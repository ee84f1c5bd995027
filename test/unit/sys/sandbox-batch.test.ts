// The in-namespace attach batch and the reading of its output. The outputs in fixtures/attach-*
// were recorded from `ip -force -j -batch -` (iproute2 6.1) running these very lines: a first
// attach, a second one whose default route already existed, and one with an unreachable next hop.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildAttachBatch, buildDeleteBatch, buildUndoBatch, readAttachOutcome } from '../../../src/sys/iproute2/sandbox-batch.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const recorded = (name: string, code: number) => ({ code, stdout: fixture(`${name}.stdout`), stderr: fixture(`${name}.stderr`) });

const base = (n: number) => ({
  srcName: `wfc${n}`,
  handle: `wfaaaaaaaaaaa${n}`,
  dstPrefix: 'eth',
  mac: `02:42:0a:58:00:0${n}`,
  mtu: 1400,
  addressV4: `10.88.0.${n + 1}/24`,
  gatewayV4: '10.88.0.1',
  staticRoutes: [],
});

describe('buildAttachBatch', () => {
  it('renames through an altname, addresses, up, connected routes, gateways, routes via next hop, then reports the name', () => {
    const b = buildAttachBatch({
      ...base(1),
      addressV6: 'fd88::2/64',
      gatewayV6: 'fd88::1',
      staticRoutes: [
        { destination: '10.201.0.0/24', routeType: 0, nextHop: '10.88.0.254' },
        { destination: '169.254.1.1/32', routeType: 1 },
      ],
    });
    expect(b.lines.map((l) => l.join(' '))).toEqual([
      'link property add dev wfc1 altname wfaaaaaaaaaaa1',
      'link set dev wfc1 name eth%d address 02:42:0a:58:00:01 mtu 1400',
      'addr add 10.88.0.2/24 dev wfaaaaaaaaaaa1',
      'addr add fd88::2/64 dev wfaaaaaaaaaaa1 nodad',
      'link set dev wfaaaaaaaaaaa1 up',
      'route add 169.254.1.1/32 dev wfaaaaaaaaaaa1',
      'route add 0.0.0.0/0 via 10.88.0.1 dev wfaaaaaaaaaaa1',
      'route add ::/0 via fd88::1 dev wfaaaaaaaaaaa1',
      'route add 10.201.0.0/24 via 10.88.0.254',
      'link show dev wfaaaaaaaaaaa1',
      'link property del dev wfaaaaaaaaaaa1 altname wfaaaaaaaaaaa1',
    ]);
    expect(b.steps).toEqual(['altname', 'rename', 'address', 'address', 'up', 'route', 'default4', 'default6', 'route', 'show', 'altname-del']);
  });

  it('leaves out what was not asked for', () => {
    const b = buildAttachBatch({ srcName: 'wfc1', handle: 'wfa1', dstPrefix: 'net', staticRoutes: [] });
    expect(b.lines.map((l) => l.join(' '))).toEqual([
      'link property add dev wfc1 altname wfa1',
      'link set dev wfc1 name net%d',
      'link set dev wfa1 up',
      'link show dev wfa1',
      'link property del dev wfa1 altname wfa1',
    ]);
  });
});

describe('readAttachOutcome (recorded output)', () => {
  it('a first attach: eth0, default route added', () => {
    expect(readAttachOutcome(buildAttachBatch(base(1)), recorded('attach-ok', 0))).toEqual({ ifName: 'eth0', defaultRouteV4: 'added', defaultRouteV6: 'none', fatal: [] });
  });

  it('a second attach: eth1, the existing default route is kept and that is no failure', () => {
    expect(readAttachOutcome(buildAttachBatch(base(2)), recorded('attach-kept', 1))).toEqual({ ifName: 'eth1', defaultRouteV4: 'kept', defaultRouteV6: 'none', fatal: [] });
  });

  it('an unreachable next hop is fatal, with its line and message', () => {
    const b = buildAttachBatch({ ...base(3), staticRoutes: [{ destination: '10.251.0.0/24', routeType: 0, nextHop: '10.250.0.1' }] });
    const o = readAttachOutcome(b, recorded('attach-fatal', 1));
    expect(o.ifName).toBe('eth2');
    expect(o.fatal).toEqual([{ line: 6, step: 'route', message: 'Error: Nexthop has invalid gateway.' }]);
  });

  it('ip refusing its input as a whole, and output without a name, are fatal', () => {
    const b = buildAttachBatch(base(1));
    expect(readAttachOutcome(b, { code: 255, stdout: '', stderr: 'Error: argument "x" is wrong\n' }).fatal).toEqual([{ line: 0, step: 'altname', message: 'Error: argument "x" is wrong' }]);
    expect(readAttachOutcome(b, { code: 0, stdout: 'garbage', stderr: '' }).fatal).toHaveLength(1);
    // A failed altname removal is cosmetic.
    expect(readAttachOutcome(b, { code: 1, stdout: fixture('attach-ok.stdout'), stderr: 'Error: nope\nCommand failed -:7\n' }).fatal).toEqual([]);
  });
});

describe('undo', () => {
  it('finds the link by its new name or by the altname, renames it back and sends it home', () => {
    const u = buildUndoBatch({ srcName: 'wfc1', handle: 'wfa1', ifName: 'eth0', target: '4242' });
    expect(u.lines.map((l) => l.join(' '))).toEqual([
      'link set dev eth0 down',
      'link set dev eth0 name wfc1',
      'link set dev wfa1 down',
      'link set dev wfa1 name wfc1',
      'link set dev wfc1 down',
      'link property del dev wfc1 altname wfa1',
      'link set dev wfc1 netns 4242',
    ]);
    expect(u.moveLine).toBe(7);
    expect(buildUndoBatch({ srcName: 'wfc1', handle: 'wfa1', target: 'wt-host' }).lines[0]).toEqual(['link', 'set', 'dev', 'wfa1', 'down']);
    expect(buildDeleteBatch({ srcName: 'wfc1', handle: 'wfa1', ifName: 'eth0' }).map((l) => l.join(' '))).toEqual(['link del dev eth0', 'link del dev wfa1', 'link del dev wfc1']);
  });
});
