// The lab's etcd: one member or a three-member cluster, each in a network namespace of its own on
// the underlay, with short timers so that failure tests stay fast (heartbeat 250 ms, election
// 2.5 s; etcd's defaults are 100 ms and 1 s, tuned for a LAN, its docs advise ~10x the RTT).

import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inCgroupArgv } from './cgroups.mjs';
import { daemonEnv } from './daemon-env.mjs';
import { ETCD_CLIENT_PORT, ETCD_PEER_PORT } from './layout.mjs';
import { netnsPath } from './netns.mjs';
import { isAlive, lastLines, run, sleep, spawnDaemon, stopIdents } from './proc.mjs';

export const ETCD_BIN = '/usr/bin/etcd';
const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'probe.mjs');
const HEARTBEAT_MS = 250;
const ELECTION_MS = 2500;
const START_MS = 30_000;

export const clientUrl = (m) => `http://${m.addr}:${ETCD_CLIENT_PORT}`;
const peerUrl = (m) => `http://${m.addr}:${ETCD_PEER_PORT}`;

function etcdArgv(state, m) {
  return [
    ETCD_BIN,
    '--name', m.name,
    '--data-dir', m.dataDir,
    '--listen-client-urls', clientUrl(m),
    '--advertise-client-urls', clientUrl(m),
    '--listen-peer-urls', peerUrl(m),
    '--initial-advertise-peer-urls', peerUrl(m),
    // Only read while the data dir is empty: a restarted member rejoins with what it has.
    '--initial-cluster', state.etcd.map((x) => `${x.name}=${peerUrl(x)}`).join(','),
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', `weft-lab-${state.name}`,
    '--heartbeat-interval', String(HEARTBEAT_MS),
    '--election-timeout', String(ELECTION_MS),
    '--logger', 'zap',
    '--log-outputs', 'stderr',
  ];
}

/** Starts one member (does not wait: a cluster member is healthy only once a quorum runs). */
export async function startMember(state, m) {
  mkdirSync(m.dir, { recursive: true });
  const argv = inCgroupArgv(m.cgroup, ['nsenter', `--net=${netnsPath(m.netns)}`, '--', ...etcdArgv(state, m)]);
  return spawnDaemon(argv, { logFile: m.log, env: daemonEnv(), cwd: m.dir });
}

/** GET /health of a member from inside its namespace: {healthy, detail}. */
export async function memberHealth(state, m) {
  const r = await run(['nsenter', `--net=${netnsPath(m.netns)}`, '--', state.node, PROBE, `${clientUrl(m)}/health`, '1500'], {
    timeoutMs: 5_000,
    env: daemonEnv(),
  }).catch((e) => ({ code: 1, stdout: e.message }));
  const healthy = r.code === 0 && /"health"\s*:\s*"true"/.test(r.stdout);
  return { healthy, detail: r.stdout.trim() };
}

export async function waitHealthy(state, m) {
  const deadline = Date.now() + START_MS;
  for (;;) {
    if (!isAlive(m.etcd?.pid)) throw new Error(`etcd ${m.name} exited during start-up:\n${lastLines(readFileSync(m.log, 'utf8'), 20)}`);
    const h = await memberHealth(state, m);
    if (h.healthy) return;
    if (Date.now() > deadline) throw new Error(`etcd ${m.name} not healthy within ${START_MS / 1000} s (${h.detail}; log ${m.log})`);
    await sleep(200);
  }
}

export async function stopMember(m, { kill = false } = {}) {
  if (m.etcd) await stopIdents([m.etcd], { sig: kill ? 'SIGKILL' : 'SIGTERM', graceMs: 10_000 });
  m.etcd = null;
}
