// weft host inspect [--format table|json] HOST
// One host's record, the VTEP probes of the weftd answering, and (for that host itself) its
// transmit-checksum self-test and overlay counters. HOST = host id or hostname.

import { InvalidArgumentError, Option, type Command } from 'commander';
import type { CliContext } from '../context.js';
import { formatJson } from '../format.js';
import { inspectHost, isHostRef } from './host-api.js';
import { formatHostInspect } from './host-inspect-format.js';

function hostRef(value: string): string {
  if (!isHostRef(value)) throw new InvalidArgumentError(`invalid host ${JSON.stringify(value)}: give a host id or hostname`);
  return value;
}

export function registerHostInspect(host: Command, ctx: CliContext): void {
  host
    .command('inspect')
    .description('Show a host: record, lease, VTEP probe results, transmit-checksum self-test, overlay counters')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .argument('<host>', 'host id or hostname', hostRef)
    .action(async (ref: string, flags: { format: 'table' | 'json' }, cmd: Command) => {
      const view = await inspectHost(ctx.api(cmd).client, ref);
      if (flags.format === 'json') ctx.out(formatJson(view));
      else ctx.out(formatHostInspect(view, Date.now()));
    });
}
