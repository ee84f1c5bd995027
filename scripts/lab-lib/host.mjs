// One lab host: the anchor that holds its namespaces, its weftd, and (with --docker) its dockerd.
// Each function records nothing itself: it returns the {pid, start} identity for the caller to
// put into the state.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inCgroupArgv } from './cgroups.mjs';
import { daemonEnv } from './daemon-env.mjs';
import { httpGet } from './http.mjs';
import { etcdStoreUrl } from './layout.mjs';
import { netnsPath } from './netns.mjs';
import { isAlive, isSameAlive, lastLines, run, sleep, spawnDaemon, stopIdents } from './proc.mjs';

const ANCHOR_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'host-anchor.sh');
export const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const WEFTD_START_MS = 30_000;
const DOCKERD_START_MS = 60_000;

/** argv that runs `argv` inside the host's mount, network and UTS namespaces, in `cwd`. */
export function hostNsenterArgv(host, argv, cwd = '/') {
  if (!isSameAlive(host.anchor)) throw new Error(`host ${host.name} has no live anchor (its namespaces are gone): run \`lab up\` again`);
  return ['nsenter', '-t', String(host.anchor.pid), '-m', '-n', '-u', `--wd=${cwd}`, '--', ...argv];
}

export async function startAnchor(host) {
  for (const d of [host.dir, host.pluginDir, host.netnsDir, host.stateDir]) mkdirSync(d, { recursive: true });
  const argv = inCgroupArgv(host.cgroup, [
    'unshare', '--mount', '--uts', '--propagation', 'slave', '--',
    'nsenter', `--net=${netnsPath(host.netns)}`, '--',
    '/bin/sh', ANCHOR_SCRIPT, host.dir, host.pluginDir, host.netnsDir, host.name,
  ]);
  writeFileSync(host.anchorLog, '');
  const ident = await spawnDaemon(argv, { logFile: host.anchorLog, env: daemonEnv() });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const log = readFileSync(host.anchorLog, 'utf8');
    if (/^ready$/m.test(log)) return ident;
    if (!isAlive(ident.pid)) throw new Error(`anchor of ${host.name} exited before it was ready:\n${lastLines(log, 20)}`);
    if (Date.now() > deadline) throw new Error(`anchor of ${host.name} not ready within 15 s:\n${lastLines(log, 20)}`);
    await sleep(20);
  }
}

export function weftdArgv(state, host) {
  const o = state.options;
  const js = path.join(state.repo, 'dist/src/daemon/main.js');
  const argv = [
    state.node, js,
    // An empty config file of its own: the machine's /etc/weft/weftd.json must not apply in the lab.
    '--config', path.join(host.dir, 'weftd.json'),
    '--state-dir', host.stateDir,
    '--socket', host.socket,
    '--plugin-dir', host.pluginDir,
    '--advertise-addr', host.addr,
    '--host-id', host.name,
    '--log-level', o.logLevel,
  ];
  if (o.store === 'etcd') argv.push('--store', etcdStoreUrl(state.etcd));
  else argv.push('--store', 'local');
  if (o.hostTtl !== undefined) argv.push('--host-ttl', String(o.hostTtl));
  if (o.hostDeadAfter !== undefined) argv.push('--host-dead-after', String(o.hostDeadAfter));
  // docker-sync talks to this host's own dockerd, never to a machine-wide /var/run/docker.sock.
  if (host.docker) argv.push('--docker-socket', host.docker.socket);
  else argv.push('--docker-sync=off');
  argv.push(...o.weftdArgs);
  return argv;
}

/** weftd's version answer, or undefined when its API does not answer. */
export async function weftdVersion(host) {
  const r = await httpGet({ socketPath: host.socket }, '/v1/version', 2_000);
  if (!r || r.status !== 200) return undefined;
  try {
    return JSON.parse(r.body);
  } catch {
    return undefined;
  }
}

export async function startWeftd(state, host) {
  writeFileSync(path.join(host.dir, 'weftd.json'), '{}\n');
  rmSync(host.socket, { force: true }); // a stale socket of a killed weftd must not look alive
  const argv = inCgroupArgv(host.cgroup, hostNsenterArgv(host, weftdArgv(state, host), host.dir));
  const offset = existsSync(host.weftdLog) ? readFileSync(host.weftdLog).length : 0;
  const ident = await spawnDaemon(argv, { logFile: host.weftdLog, env: daemonEnv() });
  const deadline = Date.now() + WEFTD_START_MS;
  for (;;) {
    if (await weftdVersion(host)) return ident;
    if (!isAlive(ident.pid)) {
      const log = readFileSync(host.weftdLog).subarray(offset).toString('utf8');
      throw new Error(`weftd on ${host.name} exited during start-up:\n${lastLines(log, 20)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`weftd on ${host.name} did not answer within ${WEFTD_START_MS / 1000} s (log ${host.weftdLog}):\n${lastLines(readFileSync(host.weftdLog, 'utf8'), 20)}`);
    }
    await sleep(50);
  }
}

function dockerdArgv(host) {
  const d = host.docker;
  return [
    'dockerd',
    '--config-file', path.join(d.root, 'daemon.json'),
    '--data-root', path.join(d.root, 'data'),
    '--exec-root', path.join(d.root, 'exec'),
    '--pidfile', path.join(d.root, 'dockerd.pid'),
    '-H', `unix://${d.socket}`,
    // Containers' cgroups go below the lab's cgroup, where `lab down` finds them.
    '--cgroup-parent', d.cgroupParent,
    // A bound on dockerd's own shutdown. It does not shorten each container's stop timeout
    // (10 s unless `docker run --stop-timeout`): `lab down` removes containers first for that.
    '--shutdown-timeout', '2',
    '--log-level', 'info',
  ];
}

export async function dockerPing(host) {
  if (!host.docker || !existsSync(host.docker.socket)) return false;
  const r = await httpGet({ socketPath: host.docker.socket }, '/_ping', 2_000);
  return r?.status === 200;
}

export async function startDockerd(host) {
  const d = host.docker;
  for (const sub of ['data', 'exec']) mkdirSync(path.join(d.root, sub), { recursive: true });
  if (!existsSync(path.join(d.root, 'daemon.json'))) writeFileSync(path.join(d.root, 'daemon.json'), '{}\n');
  rmSync(d.socket, { force: true });
  const argv = inCgroupArgv(host.cgroup, hostNsenterArgv(host, dockerdArgv(host), host.dir));
  writeFileSync(d.log, `# ${argv.join(' ')}\n`, { flag: 'a' });
  const ident = await spawnDaemon(argv, { logFile: d.log, env: daemonEnv() });
  const deadline = Date.now() + DOCKERD_START_MS;
  for (;;) {
    if (await dockerPing(host)) return ident;
    if (!isAlive(ident.pid)) throw new Error(`dockerd on ${host.name} exited during start-up:\n${lastLines(readFileSync(d.log, 'utf8'), 20)}`);
    if (Date.now() > deadline) throw new Error(`dockerd on ${host.name} did not answer /_ping within ${DOCKERD_START_MS / 1000} s (log ${d.log})`);
    await sleep(100);
  }
}

/** The docker CLI against the host's dockerd, from outside (its socket is a plain file path). */
export function docker(state, host, args, opts = {}) {
  const env = { ...daemonEnv(), DOCKER_CONFIG: path.join(state.dir, 'docker-cli') };
  return run([DOCKER_CLI, '-H', `unix://${host.docker.socket}`, ...args], { timeoutMs: 60_000, env, ...opts });
}

/** SIGTERM (or SIGKILL with kill) to dockerd, then weftd: dockerd first, so its leave calls still reach weft. */
export async function stopHostDaemons(host, { kill = false, only } = {}) {
  const sig = kill ? 'SIGKILL' : 'SIGTERM';
  if (only !== 'weftd' && host.dockerd) {
    // dockerd stops its containers (2 s each at most) and its containerd.
    await stopIdents([host.dockerd], { sig, graceMs: 25_000 });
    host.dockerd = null;
  }
  if (only !== 'dockerd' && host.weftd) {
    await stopIdents([host.weftd], { sig, graceMs: 15_000 });
    host.weftd = null;
  }
}
