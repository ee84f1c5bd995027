// weft network connect [--ip IP] [--ip6 IP] [--publish SPEC]... [--format json] NAME NETNS

import { Option, type Command } from 'commander';
import type { ConnectBody } from '../../api/types.js';
import type { CliContext } from '../context.js';
import { formatEndpoint, formatJson } from '../format.js';
import { checkIp, checkNetns, checkNetworkRef, checkPublishSpec } from '../options.js';
import { repeat } from './repeat.js';

export interface ConnectFlags {
  ip?: string;
  ip6?: string;
  publish?: string[];
  format?: 'text' | 'json';
}

/** The request body for the flags, or a WeftError (exit 2) before anything is sent. Pure. */
export function connectBody(netns: string, f: ConnectFlags): ConnectBody {
  return {
    netns: checkNetns(netns),
    ...(f.ip !== undefined ? { ip: checkIp(f.ip, 4, '--ip') } : {}),
    ...(f.ip6 !== undefined ? { ip6: checkIp(f.ip6, 6, '--ip6') } : {}),
    ...(f.publish?.length ? { publish: f.publish.map(checkPublishSpec) } : {}),
  };
}

export function registerNetworkConnect(network: Command, ctx: CliContext): void {
  network
    .command('connect')
    .description('Connect a network namespace to a network')
    .argument('<name>', 'network name or id')
    .argument('<netns>', 'named network namespace (ip netns) or a path such as /proc/PID/ns/net')
    .option('--ip <ip>', 'IPv4 address for the endpoint')
    .option('--ip6 <ip>', 'IPv6 address for the endpoint')
    .option('-p, --publish <spec>', 'publish a port: [[HOST_IP:][HOST_PORT]:]CONTAINER_PORT[/PROTO] (repeatable)', repeat)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (name: string, netns: string, flags: ConnectFlags, cmd: Command) => {
      checkNetworkRef(name);
      const body = connectBody(netns, flags);
      const ep = await ctx.api(cmd).connect(name, body);
      ctx.out(flags.format === 'json' ? formatJson(ep) : formatEndpoint(ep, netns));
    });
}
