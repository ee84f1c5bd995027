// weft network disconnect NAME NETNS

import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { checkNetns, checkNetworkRef } from '../options.js';

export function registerNetworkDisconnect(network: Command, ctx: CliContext): void {
  network
    .command('disconnect')
    .description('Disconnect a network namespace from a network')
    .argument('<name>', 'network name or id')
    .argument('<netns>', 'the namespace given to `weft network connect`')
    .action(async (name: string, netns: string, _flags: unknown, cmd: Command) => {
      checkNetworkRef(name);
      await ctx.api(cmd).disconnect(name, { netns: checkNetns(netns) });
    });
}
