// weft network create [-d DRIVER] [--subnet CIDR]... [--gateway IP]... [--ip-range CIDR]...
//                     [--aux-address NAME=IP]... [--ipv6] [--internal] [-o KEY=VALUE]... NAME

import type { Command } from 'commander';
import type { CreateNetworkBody } from '../../api/types.js';
import type { CliContext } from '../context.js';
import { buildIpamConfig } from '../ipam-config.js';
import { checkNetworkRef, parseKeyValues } from '../options.js';
import { repeat } from './repeat.js';

export interface CreateFlags {
  driver?: string;
  subnet?: string[];
  gateway?: string[];
  ipRange?: string[];
  auxAddress?: string[];
  ipv6?: boolean;
  internal?: boolean;
  opt?: string[];
}

/** The request body for the flags, or a WeftError (exit 2) before anything is sent. Pure. */
export function createBody(name: string, f: CreateFlags): CreateNetworkBody {
  checkNetworkRef(name);
  const ipam = buildIpamConfig({
    subnets: f.subnet ?? [],
    gateways: f.gateway ?? [],
    ipRanges: f.ipRange ?? [],
    auxAddresses: f.auxAddress ?? [],
  });
  const options = parseKeyValues(f.opt ?? [], '--opt');
  return {
    name,
    ...(f.driver !== undefined ? { driver: f.driver } : {}),
    ...(ipam.length ? { ipam } : {}),
    ...(f.ipv6 ? { ipv6: true } : {}),
    ...(f.internal ? { internal: true } : {}),
    ...(Object.keys(options).length ? { options } : {}),
  };
}

export function registerNetworkCreate(network: Command, ctx: CliContext): void {
  network
    .command('create')
    .description('Create a network')
    .argument('<name>', 'network name')
    .option('-d, --driver <driver>', 'driver: bridge, host, none, macvlan, overlay (daemon default: bridge)')
    .option('--subnet <cidr>', 'subnet in CIDR form (repeatable; one per address pool)', repeat)
    .option('--gateway <ip>', 'gateway of the subnet that contains it (repeatable)', repeat)
    .option('--ip-range <cidr>', 'allocate addresses from this part of the subnet that contains it (repeatable)', repeat)
    .option('--aux-address <name=ip>', 'address the IPAM must never hand out (repeatable)', repeat)
    .option('--ipv6', 'enable IPv6')
    .option('--internal', 'no external connectivity')
    .option('-o, --opt <key=value>', 'driver option (repeatable)', repeat)
    .action(async (name: string, flags: CreateFlags, cmd: Command) => {
      const body = createBody(name, flags);
      const created = await ctx.api(cmd).createNetwork(body);
      ctx.out(`${created.id}\n`);
    });
}
