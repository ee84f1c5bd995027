// weft network inspect NAME... [--format json]
// Like `docker network inspect`: one JSON array of the networks found; each name that fails gets
// its own error line, and the exit code is the first failure's.

import { Option, type Command } from 'commander';
import type { NetworkView } from '../../api/types.js';
import type { CliContext } from '../context.js';
import { isUnreachable } from '../errors.js';
import { formatJson } from '../format.js';
import { checkNetworkRef } from '../options.js';

export function registerNetworkInspect(network: Command, ctx: CliContext): void {
  network
    .command('inspect')
    .description('Show networks in detail (JSON)')
    .argument('<name...>', 'network names or ids')
    .addOption(new Option('--format <format>', 'output format').choices(['json']).default('json'))
    .action(async (names: string[], _flags: unknown, cmd: Command) => {
      const api = ctx.api(cmd);
      const found: NetworkView[] = [];
      for (const name of names) {
        try {
          found.push(await api.inspectNetwork(checkNetworkRef(name)));
        } catch (e) {
          ctx.report(e);
          if (isUnreachable(e)) return;
        }
      }
      // Docker prints the array even when some names failed (and `[]` when all did).
      ctx.out(formatJson(found, 4));
    });
}
