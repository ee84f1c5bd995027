// weft host ls [--format table|json]

import { Option, type Command } from 'commander';
import type { CliContext } from '../context.js';
import { formatJson } from '../format.js';
import { listHosts } from './host-api.js';
import { formatHostTable } from './host-format.js';

export function registerHostLs(host: Command, ctx: CliContext): void {
  host
    .command('ls')
    .alias('list')
    .description('List the hosts of the cluster with their state (up, lost, gone)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (flags: { format: 'table' | 'json' }, cmd: Command) => {
      const hosts = await listHosts(ctx.api(cmd).client);
      if (flags.format === 'json') ctx.out(formatJson(hosts));
      else ctx.out(formatHostTable(hosts, Date.now()));
    });
}
