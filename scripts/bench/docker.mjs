// weft-bridge against Docker's built-in bridge on one Docker Engine: a one-host lab
// (scripts/lab up --hosts 1 --docker: dockerd and weftd in their own namespaces, the busybox image
// imported, nothing pulled). The docker CLI is timed end to end for both drivers alike, rounds
// interleaved (A B, then B A) so that drift on a busy machine hits both; per-round ratios weft/docker.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pairedRatios, summary } from './stats.mjs';
import { onCleanup, run, runOk, say, timeMs } from './env.mjs';

const LAB = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lab');
const LAB_NAME = 'wbench';
const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export function dockerMissing() {
  for (const p of ['/usr/sbin/dockerd', '/usr/bin/containerd', '/bin/busybox']) {
    if (!existsSync(p)) return `${p} not found: install docker.io, containerd, runc, iptables and busybox-static (scripts/install-test-deps.sh)`;
  }
  return undefined;
}

export async function benchDocker({ rounds }) {
  say('docker: lab up (one host: weftd + dockerd)');
  onCleanup(() => runOk([LAB, '--name', LAB_NAME, 'down'], { timeoutMs: 120_000 }));
  await runOk([LAB, '--name', LAB_NAME, 'up', '--hosts', '1', '--docker', '--store', 'local', '--log-level', 'warn'], { timeoutMs: 180_000 });
  const status = JSON.parse((await runOk([LAB, '--name', LAB_NAME, 'status', '--json'])).stdout);
  const h1 = status.nodes.find((n) => n.name === 'h1');
  const env = { PATH: process.env.PATH, DOCKER_CONFIG: path.join(status.dir, 'docker-cli') };
  const docker = async (args) => {
    const r = await run([DOCKER_CLI, '-H', h1.env.DOCKER_HOST, ...args], { env, timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  };
  const version = await docker(['version', '--format', '{{.Server.Version}}']);
  await docker(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.64.0.0/22', 'wnet']);
  await docker(['network', 'create', '-d', 'bridge', '--subnet', '10.65.0.0/22', 'dnet']);
  await docker(['run', '-d', '--name', 'hold', 'busybox', 'sleep', '3600']);

  const systems = { weft: 'wnet', docker: 'dnet' };
  const samples = { connect: { weft: [], docker: [] }, disconnect: { weft: [], docker: [] }, run: { weft: [], docker: [] } };
  say(`docker: ${rounds} interleaved rounds of connect, disconnect, run -d`);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['weft', 'docker'] : ['docker', 'weft'];
    for (const sys of order) samples.connect[sys].push((await timeMs(() => docker(['network', 'connect', systems[sys], 'hold']))).ms);
    for (const sys of order) samples.disconnect[sys].push((await timeMs(() => docker(['network', 'disconnect', systems[sys], 'hold']))).ms);
    for (const sys of order) {
      const t = await timeMs(() => docker(['run', '-d', '--network', systems[sys], 'busybox', 'sleep', '3600']));
      samples.run[sys].push(t.ms);
      await docker(['rm', '-f', t.result]);
    }
  }
  const out = { engine: version, rounds };
  for (const [op, s] of Object.entries(samples)) {
    out[op] = { weft: summary(s.weft), docker: summary(s.docker), ratio: pairedRatios(s.weft, s.docker) };
  }
  await docker(['rm', '-f', 'hold']);
  return out;
}
