// The host's routes, for choosing default pools that collide with nothing the host can reach
// (Docker checks its auto pools against host routes the same way).

import type { CommandRunner } from './exec.js';

/** Destinations of `ip -j route show` output as CIDRs; "default" routes are left out. */
export function parseRouteDestinations(stdout: string, family: 4 | 6): string[] {
  const rows = JSON.parse(stdout || '[]') as Array<{ dst?: string }>;
  return rows
    .map((r) => r.dst)
    .filter((d): d is string => typeof d === 'string' && d !== 'default')
    .map((d) => (d.includes('/') ? d : `${d}/${family === 4 ? 32 : 128}`));
}

export async function readHostRoutes(runner: CommandRunner): Promise<string[]> {
  const [v4, v6] = await Promise.all([
    runner.run(['ip', '-j', '-4', 'route', 'show', 'table', 'all']),
    runner.run(['ip', '-j', '-6', 'route', 'show', 'table', 'all']),
  ]);
  // Local-table entries (the host's own addresses, broadcast) are fine to leave in: a pool that
  // contains the host's own address would collide too.
  return [...parseRouteDestinations(v4.stdout, 4), ...parseRouteDestinations(v6.stdout, 6).filter((d) => !d.startsWith('fe80:') && !d.startsWith('ff00:') && !d.startsWith('ff'))];
}
