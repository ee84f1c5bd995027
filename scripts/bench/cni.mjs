// The CNI anchor: Debian's containernetworking-plugins, `bridge` with `host-local` IPAM and
// `macvlan` (also host-local), ADD then DEL per container namespace, invoked from a runtime's
// position (cni-runner.mjs inside a host namespace of its own). Not installed: the bench says so
// and goes on without this anchor.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bucketMedians, summary } from './stats.mjs';
import { createNamespaces, nsName, onCleanup, run, runOk, say } from './env.mjs';

const CNI_PATH = '/usr/lib/cni';
const RUNNER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cni-runner.mjs');

export function cniMissing() {
  for (const p of ['bridge', 'macvlan', 'host-local']) {
    if (!existsSync(path.join(CNI_PATH, p))) return `CNI plugins not found in ${CNI_PATH} (${p}): install them with \`apt-get install containernetworking-plugins\``;
  }
  return undefined;
}

async function runPlugin(hostNs, plugin, config, names) {
  const job = JSON.stringify({ plugin, config, netns: names, cniPath: CNI_PATH });
  const r = await run(['ip', 'netns', 'exec', hostNs, process.execPath, RUNNER, job], { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`CNI ${plugin}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout);
}

export async function benchCni({ count }) {
  const host = nsName('cni');
  await createNamespaces([host], { withLoopback: true });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'weft-bench-cni-'));
  onCleanup(() => rmSync(dataDir, { recursive: true, force: true }));
  // macvlan needs a parent link in the host namespace: one end of a veth pair, both ends inside.
  await runOk(['ip', '-n', host, 'link', 'add', 'mvparent', 'type', 'veth', 'peer', 'name', 'mvpeer']);
  await runOk(['ip', '-n', host, 'link', 'set', 'mvparent', 'up']);
  await runOk(['ip', '-n', host, 'link', 'set', 'mvpeer', 'up']);
  const out = {};
  for (const [plugin, config, tag] of [
    ['bridge', { cniVersion: '1.0.0', name: 'benchbr', type: 'bridge', bridge: 'cnibench0', isGateway: true, ipMasq: true, ipam: { type: 'host-local', subnet: '10.62.0.0/21', dataDir } }, 'b'],
    ['macvlan', { cniVersion: '1.0.0', name: 'benchmv', type: 'macvlan', master: 'mvparent', mode: 'bridge', ipam: { type: 'host-local', subnet: '10.63.0.0/21', dataDir } }, 'm'],
  ]) {
    const names = Array.from({ length: count }, (_, i) => nsName(tag, i));
    await createNamespaces(names);
    say(`CNI ${plugin}: ${count} ADD, then ${count} DEL`);
    const r = await runPlugin(host, plugin, config, names);
    out[plugin] = { add: { ...summary(r.add), curve: bucketMedians(r.add, Math.max(10, Math.floor(count / 20))) }, del: summary(r.del) };
  }
  return out;
}
