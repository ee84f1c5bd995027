// What `weft host ls` prints. Pure: views and the current time in, text out.

import type { HostView } from '../../api/types.js';
import { renderTable } from '../format.js';

/** "12 seconds ago", "3 minutes ago", like `docker ps`; "-" when unknown. */
export function ago(iso: string | undefined, nowMs: number): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  const s = Math.max(0, Math.round((nowMs - t) / 1000));
  if (s < 1) return 'just now';
  const units: [number, string][] = [
    [86_400, 'day'],
    [3_600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  for (const [size, name] of units) {
    if (s >= size) {
      const n = Math.floor(s / size);
      return `${n} ${name}${n === 1 ? '' : 's'} ago`;
    }
  }
  return 'just now';
}

const byName = (a: HostView, b: HostView) =>
  a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/** ID (this host marked with " *", as `docker node ls` does), HOSTNAME, ADDRESS, STATE, LAST SEEN. */
export function formatHostTable(hosts: readonly HostView[], nowMs: number): string {
  const rows = [...hosts]
    .sort(byName)
    .map((h) => [
      h.self ? `${h.id} *` : h.id,
      h.hostname,
      h.advertiseAddr || '-',
      h.state === 'gone' && h.goneReason ? `gone (${h.goneReason === 'probe' ? 'unreachable' : 'removed'})` : h.state,
      ago(h.lastSeen, nowMs),
    ]);
  return renderTable(['ID', 'HOSTNAME', 'ADDRESS', 'STATE', 'LAST SEEN'], rows);
}
