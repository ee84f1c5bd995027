// The `weft host` command group: the hosts of a cluster (docs/cluster.md).

import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerHostInspect } from './host-inspect.js';
import { registerHostLs } from './host-ls.js';
import { registerHostRm } from './host-rm.js';

export function registerHost(program: Command, ctx: CliContext): void {
  const host = program.command('host').description('Manage the hosts of the cluster');
  registerHostLs(host, ctx);
  registerHostRm(host, ctx);
  registerHostInspect(host, ctx);
}
