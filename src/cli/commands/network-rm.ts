// weft network rm NAME...
// Every name is tried; a failure for one does not stop the others. Prints each name removed;
// exits with the first failure's code.

import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { isUnreachable } from '../errors.js';
import { checkNetworkRef } from '../options.js';

export function registerNetworkRm(network: Command, ctx: CliContext): void {
  network
    .command('rm')
    .alias('remove')
    .description('Remove networks (refused while endpoints are connected)')
    .argument('<name...>', 'network names or ids')
    .action(async (names: string[], _flags: unknown, cmd: Command) => {
      const api = ctx.api(cmd);
      for (const name of names) {
        try {
          await api.removeNetwork(checkNetworkRef(name));
          ctx.out(`${name}\n`);
        } catch (e) {
          ctx.report(e);
          // Without a daemon every further name would fail the same way: say it once.
          if (isUnreachable(e)) return;
        }
      }
    });
}
