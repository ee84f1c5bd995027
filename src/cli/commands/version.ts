// weft version [--format json]: this CLI's version, then the daemon's (like `docker version`,
// the client part prints even when the daemon cannot be reached).

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import type { VersionView } from '../../api/types.js';
import type { CliContext } from '../context.js';
import { formatJson, formatVersion } from '../format.js';

let cached: string | undefined;

/**
 * The version in weft's package.json. Found by walking up from this file, because the relative
 * path differs between the sources (src/cli/commands) and the build (dist/src/cli/commands).
 */
export function clientVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'weft' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // no package.json here: keep walking up
    }
    const up = dirname(dir);
    if (up === dir) return (cached = 'unknown');
    dir = up;
  }
}

export function registerVersion(program: Command, ctx: CliContext): void {
  program
    .command('version')
    .description('Show the weft CLI and weftd versions')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (flags: { format: 'text' | 'json' }, cmd: Command) => {
      const client = { version: clientVersion() };
      let server: VersionView | undefined;
      let failure: unknown;
      try {
        server = await ctx.api(cmd).version();
      } catch (e) {
        failure = e;
      }
      ctx.out(flags.format === 'json' ? formatJson(server ? { client, server } : { client }) : formatVersion(client, server));
      if (failure !== undefined) ctx.report(failure);
    });
}
