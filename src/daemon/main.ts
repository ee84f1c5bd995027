#!/usr/bin/env node
// weftd: the daemon entry. Reads the configuration, opens the store, builds the object graph,
// repairs the kernel from the store, then serves the management API and Docker's plugin sockets.
// SIGTERM/SIGINT: stop taking requests, let in-flight ones finish, close the store.

import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { ApiServer } from '../api/server.js';
import { Reconciler } from '../controller/reconciler.js';
import { Records } from '../controller/records.js';
import { parseDefaultAddressPool } from '../ipam/default-pools.js';
import { ErrorCodes, WeftError, toWeftError } from '../model/errors.js';
import { PluginServer } from '../plugin/server.js';
import { openLocalStore } from '../store/local-store.js';
import { ensureSchema } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { IpLinks } from '../sys/links.js';
import { DEFAULT_CONFIG_FILE, parseConfigFile, resolveConfig, type DaemonConfig } from './config.js';
import { buildContainer } from './container.js';
import { createRootLogger } from './logger.js';
import { resolveGid } from './groups.js';
import { WEFT_VERSION, API_VERSION } from './version.js';

function parseFlags(argv: string[]): { flags: Record<string, unknown>; configFile?: string } {
  const collect = (v: string, prev: string[] = []) => [...prev, v];
  const program = new Command('weftd')
    .description('weft daemon: container networking for Docker and plain network namespaces')
    .version(WEFT_VERSION)
    .option('--config <file>', `config file (JSON; default ${DEFAULT_CONFIG_FILE} when present)`)
    .option('--state-dir <dir>', 'state directory (default /var/lib/weft)')
    .option('--socket <path>', 'management API socket (default /run/weft/weft.sock)')
    .option('--socket-group <group>', 'group allowed on the management socket besides root')
    .option('--plugin-dir <dir>', 'Docker plugin socket folder (default /run/docker/plugins)')
    .option('--store <store>', 'local, or etcd://HOST:PORT[,HOST:PORT...]')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info)')
    .option('--default-address-pool <spec>', 'base=CIDR,size=N (repeatable; replaces the defaults)', collect)
    .option('--advertise-addr <ip>', 'underlay address for VXLAN')
    .allowExcessArguments(false);
  program.parse(argv);
  const o = program.opts();
  return {
    flags: {
      stateDir: o.stateDir,
      socket: o.socket,
      socketGroup: o.socketGroup,
      pluginDir: o.pluginDir,
      store: o.store,
      logLevel: o.logLevel,
      defaultAddressPools: o.defaultAddressPool,
      advertiseAddr: o.advertiseAddr,
    },
    ...(o.config ? { configFile: o.config as string } : {}),
  };
}

function loadConfig(argv: string[], env: NodeJS.ProcessEnv): DaemonConfig {
  const { flags, configFile } = parseFlags(argv);
  const file = configFile ?? env.WEFT_CONFIG ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  let fileValues = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new WeftError(ErrorCodes.INVALID_OPTION, `cannot read config file ${file}: ${(e as Error).message}`);
    }
    fileValues = parseConfigFile(text, file);
  }
  return resolveConfig(flags, env, fileValues);
}

async function openStore(config: DaemonConfig): Promise<Store> {
  if (config.store !== 'local') {
    throw new WeftError(ErrorCodes.STORE_UNAVAILABLE, `the etcd store (${config.store}) is not in this weft release yet: use --store local`);
  }
  return openLocalStore({ path: path.join(config.stateDir, 'store') });
}

async function main(): Promise<void> {
  const config = loadConfig(process.argv, process.env);
  const logger = createRootLogger(config.logLevel);
  const defaultPools = config.defaultAddressPools.map(parseDefaultAddressPool);
  const socketGid = config.socketGroup === undefined ? undefined : resolveGid(config.socketGroup);
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  const store = await openStore(config);
  await ensureSchema(store);

  const services = await buildContainer(config, store, logger, defaultPools);
  const reconciler = new Reconciler(new Records(store), services.drivers, new IpLinks(services.runner), logger);
  await reconciler.run();

  const api = new ApiServer(
    {
      controller: services.controller,
      version: () => ({ version: WEFT_VERSION, apiVersion: API_VERSION, store: config.store, stateDir: config.stateDir, node: process.version }),
    },
    logger,
    { socketPath: config.socket, ...(socketGid !== undefined ? { socketGid } : {}) },
  );
  const plugins = new PluginServer(services.controller, services.ipam, logger, { pluginDir: config.pluginDir, ...(socketGid !== undefined ? { socketGid } : {}) });
  await api.listen();
  await plugins.listen();
  logger.info({ version: WEFT_VERSION, stateDir: config.stateDir, store: config.store, pid: process.pid }, 'weftd ready');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await Promise.all([api.close(), plugins.close()]);
    await store.close();
    logger.info('stopped');
    logger.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e) => {
  const err = toWeftError(e);
  process.stderr.write(`weftd: ${err.message} (${err.code})\n`);
  if (err.kind === 'Internal' && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
