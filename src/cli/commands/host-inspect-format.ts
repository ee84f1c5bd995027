// What `weft host inspect` prints. Pure: the view and the current time in, text out.

import type { HostInspectView, HostProbeView, OverlayHealthView, TxChecksumView } from '../../api/types.js';
import { renderTable } from '../format.js';
import { ago } from './host-format.js';

function line(label: string, value: string): string {
  return `${`${label}:`.padEnd(20)}${value}\n`;
}

function stateText(v: HostInspectView): string {
  if (v.state !== 'gone' || !v.gone) return v.state;
  return `gone (${v.gone.reason === 'probe' ? 'unreachable' : 'removed'} at ${v.gone.at}, marked by ${v.gone.by})`;
}

function leaseText(v: HostInspectView, nowMs: number): string {
  const ttl = v.lease.ttlSeconds !== undefined ? `TTL ${v.lease.ttlSeconds}s` : 'TTL unknown';
  if (v.state !== 'up') return `${ttl}, not held`;
  if (!v.lease.expiresBy) return `${ttl}, held`;
  const left = Math.round((Date.parse(v.lease.expiresBy) - nowMs) / 1000);
  return `${ttl}, held (runs out ${left > 0 ? `in ${left}s` : 'now'} unless refreshed)`;
}

/** "ok (UDP 12/12, TCP 12/12 good; the test detects bad checksums)", or why not. */
export function txChecksumText(t: TxChecksumView | undefined): string {
  if (!t) return 'not run (no cluster store: no overlay)';
  if (t.state === 'pending') return 'running';
  const counts = t.udp && t.tcp ? ` (UDP ${t.udp.seen - t.udp.bad}/${t.udp.seen}, TCP ${t.tcp.seen - t.tcp.bad}/${t.tcp.seen} good)` : '';
  const detects = t.detects === undefined ? '' : t.detects ? '; the test detects bad checksums here' : '; WARNING: the test did not detect a simulated bad offload';
  const offload =
    t.offload === 'disabled'
      ? `; tx checksum offload turned off on weft VXLAN devices${t.forced ? ' (--vxlan-tx-checksum off)' : ''} (${t.devicesFixed} so far)`
      : '; offload left on';
  const reason = t.state === 'ok' ? '' : t.reason ? `: ${t.reason}` : '';
  return `${t.state}${counts}${reason}${detects}${offload}`;
}

function probeRows(probes: readonly HostProbeView[], nowMs: number): string[][] {
  return probes.map((p) => [
    p.hostId,
    p.addr,
    p.reachable ? 'yes' : `no (${p.failures} in a row)`,
    p.rttMs !== undefined && p.reachable ? `${p.rttMs.toFixed(3)} ms` : '-',
    p.lastSuccess ? ago(p.lastSuccess, nowMs) : 'never',
  ]);
}

function overlayLines(o: OverlayHealthView): string {
  return (
    line('Overlay', `${o.networks} network(s) with local endpoints, ${o.peers} remote peer(s), ${o.fdbEntries} FDB and ${o.neighEntries} neighbour entries programmed`) +
    line('Anti-entropy', `${o.repairs} repair(s)${o.lastRepairAt ? `, last ${o.lastRepairAt}` : ''} in ${o.passes} pass(es)`)
  );
}

export function formatHostInspect(v: HostInspectView, nowMs: number): string {
  const self = v.id === v.inspectedFrom;
  let out = '';
  out += line('ID', self ? `${v.id} (this host)` : v.id);
  out += line('Hostname', v.hostname);
  out += line('VTEP address', v.advertiseAddr || '- (none: never probed, never marked gone)');
  out += line('State', stateText(v));
  out += line('Lease', leaseText(v, nowMs));
  out += line('Last seen', v.lastSeen ? `${v.lastSeen} (${ago(v.lastSeen, nowMs)})` : '-');
  out += line('Started', v.startedAt);
  if (v.firstSeen) out += line('First seen', v.firstSeen);
  out += line('Version', v.version);
  if (self) {
    out += line('Tx checksum test', txChecksumText(v.txChecksum));
    if (v.overlay) out += overlayLines(v.overlay);
  } else if (v.reported) {
    const r = v.reported;
    out += line('Reported', `${r.at} (${ago(r.at, nowMs)}), by ${v.hostname || v.id} itself${v.state === 'up' ? '' : ': stale, the host is not up'}`);
    out += line('Tx checksum test', txChecksumText(r.txChecksum));
    if (r.overlay) out += overlayLines(r.overlay);
  }
  out += `\nVTEP probes from ${self ? 'this host' : v.inspectedFrom}${self ? ' to every other host' : ''}:\n`;
  if (v.probes.length === 0) out += '  (none yet)\n';
  else out += renderTable(['HOST', 'ADDRESS', 'REACHABLE', 'RTT', 'LAST SUCCESS'], probeRows(v.probes, nowMs));
  if (!self && v.reported) {
    out += `\nVTEP probes from ${v.hostname || v.id} to the others (reported ${ago(v.reported.at, nowMs)}):\n`;
    out += v.reported.probes.length ? renderTable(['HOST', 'ADDRESS', 'REACHABLE', 'RTT', 'LAST SUCCESS'], probeRows(v.reported.probes, nowMs)) : '  (none)\n';
  } else if (!self) {
    out += `\n${v.hostname || v.id} has published no health report (an older weftd, or not yet): run weft host inspect ${v.hostname || v.id} on that host.\n`;
  }
  return out;
}
