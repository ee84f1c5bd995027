// What the CLI prints. Pure: views in, text out (each result ends with a newline when non-empty).

import type { EndpointView, NetworkView, VersionView } from '../api/types.js';

export const shortId = (id: string): string => id.slice(0, 12);

/**
 * Columns padded like Docker's tabwriter (min width 10, padding 3), so output looks and parses
 * like `docker network ls`. The last column is not padded (no trailing blanks).
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(10, ...[h, ...rows.map((r) => r[i] ?? '')].map((c) => c.length + 3)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('').trimEnd();
  return [headers, ...rows].map(line).join('\n') + '\n';
}

/** Docker sorts `network ls` by name; so does weft (the daemon's order is not a promise). */
const byName = (a: NetworkView, b: NetworkView) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function formatNetworkTable(networks: readonly NetworkView[], opts: { noTrunc?: boolean } = {}): string {
  const id = opts.noTrunc ? (s: string) => s : shortId;
  const rows = [...networks]
    .sort(byName)
    .map((n) => [id(n.id), n.name, n.driver, n.scope, n.ipam.map((p) => p.subnet).join(',')]);
  return renderTable(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE', 'SUBNET'], rows);
}

export function formatNetworkIds(networks: readonly NetworkView[], opts: { noTrunc?: boolean } = {}): string {
  return [...networks]
    .sort(byName)
    .map((n) => `${opts.noTrunc ? n.id : shortId(n.id)}\n`)
    .join('');
}

/** JSON for scripts: indented, one document, newline-terminated. */
export function formatJson(value: unknown, indent = 2): string {
  return `${JSON.stringify(value, null, indent)}\n`;
}

/** `weft network connect`: "net1 -> ns1: eth1 10.1.0.2/24 fd00::2/64 02:42:... (endpoint 1a2b3c4d5e6f)". */
export function formatEndpoint(ep: EndpointView, netnsAsGiven: string): string {
  const where = ep.netns ?? netnsAsGiven;
  const facts = [ep.ifName, ep.ipv4, ep.ipv6, ep.mac].filter((f): f is string => typeof f === 'string' && f !== '');
  return `${ep.network} -> ${where}: ${facts.length ? facts.join(' ') : '(no interface details)'} (endpoint ${shortId(ep.id)})\n`;
}

export function formatVersion(client: { version: string }, server?: VersionView): string {
  const rows: [string, string][] = [['Version', client.version]];
  let out = section('Client', rows);
  if (server) {
    out += section('Server', [
      ['Version', server.version],
      ['API version', server.apiVersion],
      ['Store', server.store],
      ['State dir', server.stateDir],
      ['Node', server.node],
    ]);
  }
  return out;
}

function section(title: string, rows: readonly [string, string][]): string {
  const w = Math.max(...rows.map(([k]) => k.length)) + 2;
  return `${title}:\n${rows.map(([k, v]) => ` ${`${k}:`.padEnd(w)}${v}\n`).join('')}`;
}
