// The `weft network` command group.

import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerNetworkConnect } from './network-connect.js';
import { registerNetworkCreate } from './network-create.js';
import { registerNetworkDisconnect } from './network-disconnect.js';
import { registerNetworkInspect } from './network-inspect.js';
import { registerNetworkLs } from './network-ls.js';
import { registerNetworkRm } from './network-rm.js';

export function registerNetwork(program: Command, ctx: CliContext): void {
  const network = program.command('network').description('Manage networks');
  registerNetworkCreate(network, ctx);
  registerNetworkLs(network, ctx);
  registerNetworkInspect(network, ctx);
  registerNetworkRm(network, ctx);
  registerNetworkConnect(network, ctx);
  registerNetworkDisconnect(network, ctx);
}
