#!/usr/bin/env node
// The weft lab (docs/lab.md): hosts as network namespaces on one machine, joined by an underlay
// switch, with etcd, a weftd per host and, with --docker, a dockerd per host. Entry: scripts/lab.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { up } from './cmd-up.mjs';
import { execOn } from './cmd-exec.mjs';
import { link, logs, start, stop } from './cmd-node.mjs';
import { printStatus } from './cmd-status.mjs';
import { DEFAULT_NAME, UsageError, defaultDir, validateDir, validateName } from './layout.mjs';
import { say, step } from './progress.mjs';
import { lock, readState, requireState } from './state.mjs';
import { leftovers, removeDirIfEmpty, teardown } from './teardown.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const USAGE = `usage: scripts/lab [--name NAME] [--dir DIR] COMMAND ...

  up [--hosts N] [--etcd 1|3] [--docker] [--mtu M] [--store etcd|local]
     [--host-ttl S] [--host-dead-after S] [--weftd-arg ARG]... [--log-level L]
                                  build the lab (a previous lab of the same name is removed first)
  exec NODE [--] [CMD...]         run CMD (default: a shell) on NODE (h1.., e1.., sw)
  status [--json]                 nodes, addresses, daemons, PIDs, health
  stop NODE [--kill] [--only weftd|dockerd]
                                  stop a host's daemons (dockerd, then weftd) or an etcd member
  start NODE                      start them again on the same state
  link NODE up|down               plug or unplug NODE's underlay cable at the switch
  logs NODE [weftd|dockerd|anchor|etcd]
  down                            remove everything the lab made

  --name NAME   lab name, prefix of its namespaces (default ${DEFAULT_NAME}; env WEFT_LAB_NAME)
  --dir DIR     run dir with the state and every node's files (default /run/weft-lab/NAME;
                env WEFT_LAB_DIR)
Defaults of up: 3 hosts, store etcd with 1 member (--store local: no etcd unless --etcd), mtu 1500.
`;

const GLOBAL_OPTIONS = {
  name: { type: 'string' },
  dir: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const COMMAND_OPTIONS = {
  up: {
    hosts: { type: 'string' },
    etcd: { type: 'string' },
    docker: { type: 'boolean' },
    mtu: { type: 'string' },
    store: { type: 'string' },
    'host-ttl': { type: 'string' },
    'host-dead-after': { type: 'string' },
    'weftd-arg': { type: 'string', multiple: true },
    'log-level': { type: 'string' },
  },
  status: { json: { type: 'boolean' } },
  stop: { kill: { type: 'boolean' }, only: { type: 'string' } },
  start: {},
  link: {},
  logs: {},
  down: {},
};

function parse(argv) {
  // Global options come before the command; the command's own options after it. `exec` passes
  // everything after NODE to the command untouched.
  const cmdIndex = argv.findIndex((a, i) => !a.startsWith('-') && !['--name', '--dir'].includes(argv[i - 1]));
  const globalArgs = cmdIndex < 0 ? argv : argv.slice(0, cmdIndex);
  const { values: g } = parseArgs({ args: globalArgs, options: GLOBAL_OPTIONS, strict: true });
  if (g.help || cmdIndex < 0) return { help: true };
  const command = argv[cmdIndex];
  const rest = argv.slice(cmdIndex + 1);
  const name = validateName(g.name ?? process.env.WEFT_LAB_NAME ?? DEFAULT_NAME);
  const givenDir = g.dir ?? process.env.WEFT_LAB_DIR;
  const dir = validateDir(givenDir ? path.resolve(givenDir) : defaultDir(name));
  const ctx = { name, dir, repo: REPO };
  if (command === 'exec') {
    const [node, ...cmd] = rest;
    if (!node || node.startsWith('-')) throw new UsageError('usage: lab exec NODE [--] [CMD...]');
    return { ctx, command, node, cmd: cmd[0] === '--' ? cmd.slice(1) : cmd };
  }
  const options = COMMAND_OPTIONS[command];
  if (!options) throw new UsageError(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
  const { values, positionals } = parseArgs({ args: rest, options: { ...options, ...GLOBAL_OPTIONS }, strict: true, allowPositionals: true });
  if (values.name !== undefined || values.dir !== undefined) throw new UsageError('--name and --dir go before the command');
  return { ctx, command, values, positionals };
}

function expectPositionals(p, min, max, usage) {
  if (p.length < min || p.length > max) throw new UsageError(`usage: lab ${usage}`);
}

async function main(argv) {
  const a = parse(argv);
  if (a.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { ctx, command, values = {}, positionals = [] } = a;
  switch (command) {
    case 'up':
      expectPositionals(positionals, 0, 0, 'up [options]');
      await up(ctx, {
        hosts: values.hosts ?? 3,
        etcd: values.etcd,
        docker: values.docker ?? false,
        mtu: values.mtu,
        store: values.store ?? 'etcd',
        hostTtl: values['host-ttl'],
        hostDeadAfter: values['host-dead-after'],
        weftdArgs: values['weftd-arg'] ?? [],
        logLevel: values['log-level'] ?? 'debug',
      });
      return 0;
    case 'exec':
      return execOn(requireState(ctx.dir, ctx.name), a.node, a.cmd);
    case 'status': {
      expectPositionals(positionals, 0, 0, 'status [--json]');
      const state = readState(ctx.dir);
      if (!state) {
        if (values.json) process.stdout.write('null\n');
        else process.stdout.write(`no lab "${ctx.name}" in ${ctx.dir}\n`);
        return 3;
      }
      await printStatus(state, { json: values.json ?? false });
      return 0;
    }
    case 'stop':
      expectPositionals(positionals, 1, 1, 'stop NODE [--kill] [--only weftd|dockerd]');
      await stop(ctx, positionals[0], { kill: values.kill ?? false, only: values.only });
      return 0;
    case 'start':
      expectPositionals(positionals, 1, 1, 'start NODE');
      await start(ctx, positionals[0]);
      return 0;
    case 'link':
      expectPositionals(positionals, 2, 2, 'link NODE up|down');
      await link(ctx, positionals[0], positionals[1]);
      return 0;
    case 'logs':
      expectPositionals(positionals, 1, 2, 'logs NODE [weftd|dockerd|anchor|etcd]');
      logs(ctx, positionals[0], positionals[1]);
      return 0;
    case 'down': {
      expectPositionals(positionals, 0, 0, 'down');
      say(`lab ${ctx.name}: down (${ctx.dir})`);
      const found = leftovers(ctx.name, ctx.dir);
      if (found.length === 0) {
        say('  nothing to remove');
        return 0;
      }
      const release = lock(ctx.dir);
      try {
        await step(`removed processes, cgroups, namespaces and files (${found.length} piece(s) found)`, () => teardown(ctx.name, ctx.dir));
      } finally {
        release();
      }
      removeDirIfEmpty(ctx.dir);
      return 0;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

// A reader that goes away (`lab up | head`) must not kill the lab half-way through a step.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`lab: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = e instanceof UsageError || e?.code?.startsWith?.('ERR_PARSE_ARGS') ? 2 : 1;
  },
);
