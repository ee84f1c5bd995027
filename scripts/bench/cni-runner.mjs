// Runs inside the "host" namespace of the CNI anchor, where a runtime (containerd, CRI-O) would
// run: invokes a CNI plugin binary per container the way a runtime does (CNI_COMMAND, CNI_NETNS,
// CNI_IFNAME, CNI_CONTAINERID, CNI_PATH in the environment, the network config on stdin), ADD for
// every namespace, then DEL for every namespace, and prints the latencies (ms) as JSON.
// Usage: node cni-runner.mjs '{"plugin":"bridge","config":{...},"netns":["..."],"cniPath":"/usr/lib/cni"}'

import { spawn } from 'node:child_process';

const job = JSON.parse(process.argv[2] ?? '{}');
if (!/^[a-z-]+$/.test(job.plugin ?? '') || !Array.isArray(job.netns)) throw new Error('cni-runner: bad job');

function invoke(command, ns, i) {
  const env = {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: `bench${i}`,
    CNI_NETNS: `/run/netns/${ns}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: job.cniPath,
  };
  const stdin = JSON.stringify(job.config);
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn(`${job.cniPath}/${job.plugin}`, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => out.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (code !== 0) reject(new Error(`${job.plugin} ${command} ${ns}: exit ${code}: ${Buffer.concat(out).toString()}`));
      else resolve(ms);
    });
    child.stdin.end(stdin);
  });
}

const add = [];
const del = [];
for (let i = 0; i < job.netns.length; i++) add.push(await invoke('ADD', job.netns[i], i));
for (let i = 0; i < job.netns.length; i++) del.push(await invoke('DEL', job.netns[i], i));
process.stdout.write(JSON.stringify({ add, del }));
