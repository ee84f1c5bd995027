// weft network ls [--format table|json] [-q] [--no-trunc]

import { Option, type Command } from 'commander';
import type { CliContext } from '../context.js';
import { formatJson, formatNetworkIds, formatNetworkTable } from '../format.js';

export function registerNetworkLs(network: Command, ctx: CliContext): void {
  network
    .command('ls')
    .alias('list')
    .description('List networks')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('-q, --quiet', 'only print network ids')
    .option('--no-trunc', 'print full network ids')
    .action(async (flags: { format: 'table' | 'json'; quiet?: boolean; trunc: boolean }, cmd: Command) => {
      const networks = await ctx.api(cmd).listNetworks();
      const noTrunc = !flags.trunc;
      if (flags.quiet) ctx.out(formatNetworkIds(networks, { noTrunc }));
      else if (flags.format === 'json') ctx.out(formatJson(networks));
      else ctx.out(formatNetworkTable(networks, { noTrunc }));
    });
}
