// The pure parts of `weft host inspect`: ping's RTT parsing, the VTEP monitor's per-host record,
// the self-test decision, the inspect view (what a weftd says about itself vs another host) and
// the table the CLI prints.

import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { hostInspectView } from '../../../src/api/hosts-routes.js';
import type { HostInspectView } from '../../../src/api/types.js';
import { formatHostInspect, txChecksumText } from '../../../src/cli/commands/host-inspect-format.js';
import type { HostInfo } from '../../../src/cluster/host-records.js';
import { parsePingRtt, type ProbeOutcome, type RttProber } from '../../../src/cluster/prober.js';
import { decide } from '../../../src/cluster/tx-checksum-guard.js';
import { HEARTBEAT_MS, decodeHealthReport, shouldPublish } from '../../../src/cluster/health-records.js';
import { VtepMonitor, nextProbeResult } from '../../../src/cluster/vtep-monitor.js';
import type { ChecksumSelfTestRun } from '../../../src/sys/checksum-selftest.js';

describe('parsePingRtt', () => {
  it('reads BusyBox and iputils reply lines', () => {
    expect(parsePingRtt('64 bytes from 127.0.0.1: seq=0 ttl=64 time=0.032 ms\n')).toBe(0.032);
    expect(parsePingRtt('64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=12.5 ms')).toBe(12.5);
    expect(parsePingRtt('64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time<1 ms')).toBe(1);
    expect(parsePingRtt('1 packets transmitted, 0 packets received, 100% packet loss')).toBeUndefined();
  });
});

describe('nextProbeResult', () => {
  it('counts failures in a row, keeps the last success, resets on an answer and on a new address', () => {
    const a = nextProbeResult(undefined, 'h2', '198.18.0.12', { answered: true, rttMs: 0.2 }, 't1');
    expect(a).toEqual({ hostId: 'h2', addr: '198.18.0.12', reachable: true, rttMs: 0.2, lastProbe: 't1', lastSuccess: 't1', failures: 0 });
    const b = nextProbeResult(a, 'h2', '198.18.0.12', { answered: false }, 't2');
    const c = nextProbeResult(b, 'h2', '198.18.0.12', { answered: false }, 't3');
    expect(c).toEqual({ hostId: 'h2', addr: '198.18.0.12', reachable: false, lastProbe: 't3', lastSuccess: 't1', failures: 2 });
    expect(nextProbeResult(c, 'h2', '198.18.0.12', { answered: true }, 't4')).toMatchObject({ reachable: true, failures: 0, lastSuccess: 't4' });
    expect(nextProbeResult(c, 'h2', '198.18.0.99', { answered: false }, 't4')).toEqual({ hostId: 'h2', addr: '198.18.0.99', reachable: false, lastProbe: 't4', failures: 1 });
  });
});

const host = (id: string, addr: string, extra: Partial<HostInfo> = {}): HostInfo => ({
  id, hostname: id, advertiseAddr: addr, version: '0.1.0', startedAt: '2026-01-01T00:00:00.000Z', state: 'up', ...extra,
});

describe('VtepMonitor', () => {
  it('probes every other host with an address, and forgets hosts no longer listed', async () => {
    const answering = new Set(['198.18.0.12']);
    const probed: string[] = [];
    const prober: RttProber = {
      probe: async (a) => answering.has(a),
      probeRtt: async (a): Promise<ProbeOutcome> => {
        probed.push(a);
        return answering.has(a) ? { answered: true, rttMs: 0.5 } : { answered: false };
      },
    };
    let hosts = [host('h1', '198.18.0.11'), host('h2', '198.18.0.12'), host('h3', '198.18.0.13'), host('h4', '')];
    const m = new VtepMonitor({ selfId: 'h1', prober, hosts: () => hosts, intervalMs: 1000, logger: pino({ level: 'silent' }) });
    await m.round();
    expect(probed.sort()).toEqual(['198.18.0.12', '198.18.0.13']);
    expect(m.snapshot().map((p) => [p.hostId, p.reachable, p.rttMs])).toEqual([
      ['h2', true, 0.5],
      ['h3', false, undefined],
    ]);
    hosts = hosts.filter((h) => h.id !== 'h3');
    await m.round();
    expect(m.snapshot().map((p) => p.hostId)).toEqual(['h2']);
    expect(m.get('h2')?.failures).toBe(0);
  });
});

const runOf = (verdict: ChecksumSelfTestRun['verdict'], bad = 0, reason?: string): ChecksumSelfTestRun => ({
  verdict, udp: { seen: 2, bad }, tcp: { seen: 2, bad }, durationMs: 10, ...(reason ? { reason } : {}),
});

describe('decide', () => {
  it('keeps offload when the bytes are right, and records that the test can detect', () => {
    expect(decide(runOf('ok'), runOf('corrupted', 2), undefined)).toMatchObject({ state: 'ok', offload: 'kept', detects: true, durationMs: 20 });
    expect(decide(runOf('ok'), runOf('ok'), undefined)).toMatchObject({ detects: false });
  });
  it('disables offload when corrupted, and says whether the remedy was seen to work', () => {
    expect(decide(runOf('corrupted', 1, 'bad'), undefined, runOf('ok'))).toMatchObject({ state: 'corrupted', offload: 'disabled', reason: expect.stringMatching(/they are right/) });
    expect(decide(runOf('corrupted', 1, 'bad'), undefined, runOf('corrupted', 1))).toMatchObject({ offload: 'disabled', reason: expect.stringMatching(/did not help/) });
  });
  it('with --vxlan-tx-checksum off, disables offload whatever the test said, and says so', () => {
    expect(decide(runOf('ok'), runOf('corrupted', 2), undefined, true)).toMatchObject({ state: 'ok', offload: 'disabled', forced: true, detects: true });
    expect(decide(runOf('skipped', 0, 'no ethtool'), undefined, undefined, true)).toMatchObject({ state: 'skipped', offload: 'disabled', forced: true });
    expect(decide(runOf('ok'), runOf('corrupted', 2), undefined)).not.toHaveProperty('forced');
    expect(txChecksumText({ state: 'ok', udp: { seen: 1, bad: 0 }, tcp: { seen: 1, bad: 0 }, detects: true, offload: 'disabled', forced: true, devicesFixed: 2 })).toBe(
      'ok (UDP 1/1, TCP 1/1 good); the test detects bad checksums here; tx checksum offload turned off on weft VXLAN devices (--vxlan-tx-checksum off) (2 so far)',
    );
  });

  it('changes nothing when the test could not run', () => {
    expect(decide(runOf('skipped', 0, 'ethtool is not installed'), undefined, undefined)).toMatchObject({ state: 'skipped', offload: 'kept', reason: 'ethtool is not installed' });
  });
});

describe('hostInspectView and its table', () => {
  const probes = [
    { hostId: 'h2', addr: '198.18.0.12', reachable: true, rttMs: 0.12, lastProbe: '2026-01-01T00:00:09.000Z', lastSuccess: '2026-01-01T00:00:09.000Z', failures: 0 },
    { hostId: 'h3', addr: '198.18.0.13', reachable: false, lastProbe: '2026-01-01T00:00:09.000Z', lastSuccess: '2026-01-01T00:00:01.000Z', failures: 4 },
  ];
  const health = {
    probes: () => probes,
    txChecksum: () => ({ state: 'ok' as const, udp: { seen: 3, bad: 0 }, tcp: { seen: 3, bad: 0 }, detects: true, offload: 'kept' as const, devicesFixed: 0 }),
    overlay: () => ({ repairs: 2, lastRepairAt: '2026-01-01T00:00:05.000Z', passes: 9, networks: { n1: {} }, peers: 2, fdbEntries: 4, neighEntries: 2 }),
  };
  const now = Date.parse('2026-01-01T00:00:10.000Z');

  it('for this host: its probes to everyone, its self-test and counters, the lease deadline', () => {
    const v = hostInspectView(host('h1', '198.18.0.11', { ttl: 15, lastSeen: '2026-01-01T00:00:08.000Z', firstSeen: '2025-12-31T00:00:00.000Z' }), 'h1', health);
    expect(v).toMatchObject({
      id: 'h1', self: true, inspectedFrom: 'h1', lease: { ttlSeconds: 15, expiresBy: '2026-01-01T00:00:23.000Z' },
      txChecksum: { state: 'ok' }, overlay: { repairs: 2, networks: 1, peers: 2, fdbEntries: 4, neighEntries: 2 },
    });
    expect(v.probes).toHaveLength(2);
    const text = formatHostInspect(v, now);
    expect(text).toContain('ID:                 h1 (this host)');
    expect(text).toMatch(/Lease:\s+TTL 15s, held \(runs out in 13s unless refreshed\)/);
    expect(text).toMatch(/Tx checksum test:\s+ok \(UDP 3\/3, TCP 3\/3 good\); the test detects bad checksums here; offload left on/);
    expect(text).toMatch(/Overlay:\s+1 network\(s\) with local endpoints, 2 remote peer\(s\), 4 FDB and 2 neighbour entries programmed/);
    expect(text).toMatch(/Anti-entropy:\s+2 repair\(s\), last 2026-01-01T00:00:05.000Z in 9 pass\(es\)/);
    expect(text).toMatch(/^h2\s+198\.18\.0\.12\s+yes\s+0\.120 ms\s+1 second ago$/m);
    expect(text).toMatch(/^h3\s+198\.18\.0\.13\s+no \(4 in a row\)\s+-\s+9 seconds ago$/m);
  });

  it('for another host: only the probe to it; a gone host shows why and holds no lease', () => {
    const gone = host('h3', '198.18.0.13', { state: 'gone', ttl: 15, lastSeen: '2026-01-01T00:00:01.000Z', gone: { at: '2026-01-01T00:00:07.000Z', reason: 'probe', by: 'h2' } });
    const v: HostInspectView = hostInspectView(gone, 'h1', health);
    expect(v.probes.map((p) => p.hostId)).toEqual(['h3']);
    expect(v.txChecksum).toBeUndefined();
    expect(v.overlay).toBeUndefined();
    expect(v.lease).toEqual({ ttlSeconds: 15 });
    const text = formatHostInspect(v, now);
    expect(text).toMatch(/State:\s+gone \(unreachable at 2026-01-01T00:00:07.000Z, marked by h2\)/);
    expect(text).toMatch(/Lease:\s+TTL 15s, not held/);
    expect(text).toContain('VTEP probes from h1:');
    expect(text).toContain('run weft host inspect h3 on that host');
  });

  it('says what the self-test did in every state', () => {
    expect(txChecksumText(undefined)).toMatch(/not run/);
    expect(txChecksumText({ state: 'pending', offload: 'kept', devicesFixed: 0 })).toBe('running');
    expect(txChecksumText({ state: 'corrupted', udp: { seen: 2, bad: 2 }, tcp: { seen: 2, bad: 1 }, offload: 'disabled', devicesFixed: 3, reason: 'why' })).toBe(
      'corrupted (UDP 0/2, TCP 1/2 good): why; tx checksum offload turned off on weft VXLAN devices (3 so far)',
    );
    expect(txChecksumText({ state: 'skipped', offload: 'kept', devicesFixed: 0, reason: 'ethtool is not installed' })).toBe('skipped: ethtool is not installed; offload left on');
  });
});

describe('health reports', () => {
  const base = {
    id: 'h2',
    txChecksum: { state: 'ok' as const, offload: 'kept' as const, devicesFixed: 0 },
    overlay: { repairs: 0, passes: 3, networks: 1, peers: 1, fdbEntries: 2, neighEntries: 1 },
    probes: [{ hostId: 'h1', addr: '198.18.0.11', reachable: true, rttMs: 0.1, lastProbe: 't1', lastSuccess: 't1', failures: 0 }],
  };

  it('are written when something that matters changed, or when the heartbeat is due', () => {
    expect(shouldPublish(undefined, base, 0)).toBe(true);
    const last = { report: base, atMs: 1000 };
    // Probe times, RTTs and pass counts alone are not worth a write.
    const noise = { ...base, overlay: { ...base.overlay, passes: 9 }, probes: [{ ...base.probes[0]!, rttMs: 0.3, lastProbe: 't2', lastSuccess: 't2' }] };
    expect(shouldPublish(last, noise, 2000)).toBe(false);
    expect(shouldPublish(last, noise, 1000 + HEARTBEAT_MS)).toBe(true);
    expect(shouldPublish(last, { ...base, overlay: { ...base.overlay, repairs: 1 } }, 2000)).toBe(true);
    expect(shouldPublish(last, { ...base, probes: [{ ...base.probes[0]!, reachable: false }] }, 2000)).toBe(true);
    expect(shouldPublish(last, { ...base, txChecksum: { ...base.txChecksum, state: 'corrupted' as const } }, 2000)).toBe(true);
  });

  it('are read back only under their own key and in a shape this weft knows', () => {
    const r = { ...base, at: '2026-01-01T00:00:00.000Z' };
    expect(decodeHealthReport('host-health/h2', r)).toEqual(r);
    expect(decodeHealthReport('host-health/h3', r)).toBeUndefined();
    expect(decodeHealthReport('host-health/h2', { id: 'h2' })).toBeUndefined();
    expect(decodeHealthReport('host-health/h2', 'x')).toBeUndefined();
  });

  it('show in another host\'s inspect view, with their time, and stale when the host is not up', () => {
    const reported = { ...base, at: '2026-01-01T00:00:05.000Z' };
    const now = Date.parse('2026-01-01T00:00:10.000Z');
    const up = hostInspectView(host('h2', '198.18.0.12', { ttl: 3, lastSeen: '2026-01-01T00:00:09.000Z' }), 'h1', undefined, reported);
    expect(up.reported).toEqual({ at: reported.at, txChecksum: reported.txChecksum, overlay: reported.overlay, probes: reported.probes });
    expect(up.txChecksum).toBeUndefined();
    const text = formatHostInspect(up, now);
    expect(text).toMatch(/Reported:\s+2026-01-01T00:00:05.000Z \(5 seconds ago\), by h2 itself\n/);
    expect(text).toMatch(/Tx checksum test:\s+ok; offload left on/);
    expect(text).toMatch(/Overlay:\s+1 network\(s\) with local endpoints, 1 remote peer\(s\), 2 FDB and 1 neighbour entries programmed/);
    expect(text).toContain('VTEP probes from h2 to the others (reported 5 seconds ago):');
    expect(text).toMatch(/^h1\s+198\.18\.0\.11\s+yes\s+0\.100 ms/m);
    const lost = formatHostInspect(hostInspectView(host('h2', '198.18.0.12', { state: 'lost' }), 'h1', undefined, reported), now);
    expect(lost).toContain('stale, the host is not up');
    // A report under another id is not shown as this host's.
    expect(hostInspectView(host('h2', '198.18.0.12'), 'h1', undefined, { ...reported, id: 'h9' }).reported).toBeUndefined();
  });
});
