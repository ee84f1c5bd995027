// weft host rm [--force] HOST...
// Removes hosts for good: the other hosts drop what points at them and their global addresses
// are freed. Refused for a host that is up unless --force. Every name is tried; prints each one
// removed; exits with the first failure's code.

import { InvalidArgumentError, type Command } from 'commander';
import type { CliContext } from '../context.js';
import { isUnreachable } from '../errors.js';
import { isHostRef, removeHost } from './host-api.js';

function hostRef(value: string, previous: string[] = []): string[] {
  if (!isHostRef(value)) throw new InvalidArgumentError(`invalid host ${JSON.stringify(value)}: give a host id or hostname`);
  return [...previous, value];
}

export function registerHostRm(host: Command, ctx: CliContext): void {
  host
    .command('rm')
    .alias('remove')
    .description('Remove hosts from the cluster (refused while a host is up, unless --force)')
    .option('-f, --force', 'remove even a host that is up (its global addresses may then be handed out twice)')
    .argument('<host...>', 'host ids or hostnames', hostRef)
    .action(async (refs: string[], flags: { force?: boolean }, cmd: Command) => {
      const client = ctx.api(cmd).client;
      for (const ref of refs) {
        try {
          await removeHost(client, ref, flags.force === true);
          ctx.out(`${ref}\n`);
        } catch (e) {
          ctx.report(e);
          if (isUnreachable(e)) return;
        }
      }
    });
}
