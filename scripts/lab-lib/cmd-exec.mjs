// `lab exec NODE [--] CMD...`: runs CMD in a node's namespaces (a host: its mount, network and UTS
// namespaces; an etcd member or the switch: its network namespace), in the caller's directory,
// with the node's daemons in the environment and the lab's bin/ first on PATH. Without CMD, a
// shell. The command joins the node's cgroup, so `lab down` finds whatever it leaves running.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { constants } from 'node:os';
import { inCgroupArgv } from './cgroups.mjs';
import { clientUrl } from './etcd.mjs';
import { hostNsenterArgv } from './host.mjs';
import { UsageError, findNode } from './layout.mjs';
import { netnsExists, netnsPath } from './netns.mjs';
import { SYSTEM_PATH } from './proc.mjs';

const FOREIGN = /^(WEFT_|DOCKER_|ETCDCTL_)/;

/** The environment of a command on `node`: the caller's, minus its weft/Docker/etcd settings, plus the node's. */
export function execEnv(state, node) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!FOREIGN.test(k) && v !== undefined) env[k] = v;
  const callerPath = (process.env.PATH ?? '').split(':').filter(Boolean);
  const pathParts = [path.join(state.dir, 'bin'), ...SYSTEM_PATH.split(':'), ...callerPath];
  env.PATH = [...new Set(pathParts)].join(':');
  env.WEFT_LAB_NAME = state.name;
  env.WEFT_LAB_DIR = state.dir;
  env.WEFT_LAB_NODE = node.name;
  if (node.kind === 'host') {
    env.WEFT_HOST = `unix://${node.socket}`;
    env.WEFT_LAB_ADDR = node.addr;
    if (node.docker) {
      env.DOCKER_HOST = `unix://${node.docker.socket}`;
      env.DOCKER_CONFIG = path.join(state.dir, 'docker-cli');
    }
  } else if (node.kind === 'etcd') {
    env.WEFT_LAB_ADDR = node.addr;
  }
  if (state.etcd.length > 0) {
    env.ETCDCTL_API = '3';
    env.ETCDCTL_ENDPOINTS = state.etcd.map(clientUrl).join(',');
  }
  return env;
}

/** The full argv that runs `cmd` on `node`. */
export function execArgv(state, node, cmd) {
  const cwd = process.cwd();
  let argv;
  if (node.kind === 'host') {
    argv = hostNsenterArgv(node, cmd, cwd);
  } else {
    if (!netnsExists(node.netns)) throw new UsageError(`${node.name}: its namespace ${node.netns} is gone`);
    argv = ['nsenter', `--net=${netnsPath(node.netns)}`, `--wd=${cwd}`, '--', ...cmd];
  }
  const cgroup = node.kind === 'switch' ? `${state.cgroup}/sw/lab` : node.cgroup;
  return inCgroupArgv(cgroup, argv);
}

/** Runs the command with the terminal attached and resolves its exit code (128 + N for signal N). */
export function execOn(state, nodeName, cmd) {
  const node = findNode(state, nodeName);
  if (!node) {
    const names = [...state.etcd, ...state.hosts].map((n) => n.name).join(', ');
    throw new UsageError(`no node ${JSON.stringify(nodeName)} in lab ${state.name} (nodes: ${names}, sw)`);
  }
  const command = cmd.length > 0 ? cmd : [existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh'];
  const argv = execArgv(state, node, command);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit', env: execEnv(state, node) });
    // The terminal sends ^C and ^\ to the child as well; the lab waits for the child's verdict.
    const ignore = () => undefined;
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', ignore);
    process.on('SIGQUIT', ignore);
    process.on('SIGTERM', forward);
    process.on('SIGHUP', forward);
    child.on('error', (e) => reject(new Error(`cannot run ${argv[0]}: ${e.message}`)));
    child.on('exit', (code, sig) => resolve(code ?? 128 + (constants.signals[sig] ?? 0)));
  });
}
