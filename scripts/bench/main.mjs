// scripts/bench/run [--quick] [--only LIST] [--out DIR]: every benchmark of weft beside its anchors
// (CNI reference plugins, Docker's own bridge, a hand-built topology), measured in the same run on
// this machine. Prints a table (median, p99, ratio to the anchor, target) and writes raw JSON, the
// table and an SVG chart into results/. Needs root. docs/bench.md explains every figure.

import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchWeft } from './attach.mjs';
import { lineChartSvg } from './chart.mjs';
import { benchCni, cniMissing } from './cni.mjs';
import { benchDataplane } from './dataplane.mjs';
import { benchDocker, dockerMissing } from './docker.mjs';
import { benchOverlay } from './overlay.mjs';
import { benchIpam } from './ipam.mjs';
import { benchSteps } from './steps.mjs';
import { cleanupAll, createNamespaces, nsName, run, say, timeMs } from './env.mjs';
import { summary } from './stats.mjs';
import { ROOT, assertBuilt, startWeftd } from './weftd.mjs';
import { renderTable } from './table.mjs';

const SECTIONS = ['baseline', 'weft', 'ipam', 'cni', 'docker', 'dataplane', 'overlay'];
const USAGE = `usage: scripts/bench/run [--quick] [--only ${SECTIONS.join(',')}] [--out DIR]
  --quick   short run (a few minutes): 200 endpoints/ports instead of 1,000, 2,000 IPAM allocations instead of 10,000, 20 Docker rounds, 3 iperf3 rounds of 2 s
  --soak [--scale N]  the long reliability run: crash churn + concurrency tests at N x (default 10; scripts/bench/soak.mjs)`;

function parseArgs(argv) {
  const o = { quick: false, soak: false, scale: 10, only: SECTIONS, out: path.join(ROOT, 'results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--soak') o.soak = true;
    else if (a === '--scale') o.scale = Number(argv[++i]);
    else if (a === '--only') {
      o.only = (argv[++i] ?? '').split(',');
      const bad = o.only.filter((s) => !SECTIONS.includes(s));
      if (bad.length || o.only.length === 0) throw Object.assign(new Error(`unknown section ${bad.join(',')}`), { usage: true });
    } else if (a === '--out') o.out = path.resolve(argv[++i] ?? '');
    else if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw Object.assign(new Error(`unknown argument ${a}`), { usage: true });
  }
  return o;
}

/** Cost of one spawn of `ip` and of `nft` (read-only commands), for the per-step picture. */
async function baseline(n) {
  const times = async (argv) => {
    const t = [];
    for (let i = 0; i < n; i++) t.push((await timeMs(() => run(argv))).ms);
    return summary(t);
  };
  const out = { ipSpawn: await times(['ip', 'link', 'show', 'lo']), nftCall: await times(['nft', 'list', 'tables']) };
  try {
    out.steps = await benchSteps(n);
  } catch (e) {
    say(`baseline: attach steps not measured: ${e.message}`);
  }
  return out;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('the bench needs root (namespaces, bridges, dockerd)');
  if (o.soak) return (await import('./soak.mjs')).runSoak(o);
  assertBuilt();
  const p = o.quick
    ? { count: 200, cliRuns: 10, createRuns: 10, networksPresent: 100, cniCount: 200, rounds: 20, dpRounds: 3, dpSeconds: 2, ipamCount: 2000, etcdPerHost: 200 }
    : { count: 1000, cliRuns: 30, createRuns: 20, networksPresent: 100, cniCount: 1000, rounds: 40, dpRounds: 6, dpSeconds: 5, ipamCount: 10000, etcdPerHost: 1000 };
  const started = new Date();
  const results = {
    startedAt: started.toISOString(),
    mode: o.quick ? 'quick' : 'full',
    params: p,
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, kernel: os.release(), node: process.version, loadavgAtStart: os.loadavg() },
    sections: {},
    errors: {},
  };
  const section = async (name, fn) => {
    if (!o.only.includes(name)) return;
    try {
      results.sections[name] = await fn();
    } catch (e) {
      say(`${name} failed: ${e.message}`);
      results.errors[name] = e.message;
    }
  };

  await section('baseline', () => baseline(20));
  if (o.only.includes('weft') || o.only.includes('dataplane')) {
    const host = nsName('h');
    await createNamespaces([host], { withLoopback: true });
    const weftd = await startWeftd(host);
    await section('weft', () => benchWeft(weftd, p));
    await section('dataplane', () => benchDataplane(weftd, host, { rounds: p.dpRounds, seconds: p.dpSeconds }));
    weftd.api.close();
  }
  await section('ipam', () => benchIpam(p));
  await section('cni', async () => {
    const missing = cniMissing();
    if (missing) throw new Error(missing);
    return benchCni({ count: p.cniCount });
  });
  await section('docker', async () => {
    const missing = dockerMissing();
    if (missing) throw new Error(missing);
    return benchDocker({ rounds: p.rounds });
  });
  await section('overlay', () => benchOverlay({ quick: o.quick }));
  results.finishedAt = new Date().toISOString();
  results.machine.loadavgAtEnd = os.loadavg();

  mkdirSync(o.out, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const base = path.join(o.out, `bench-${stamp}`);
  const table = renderTable(results);
  writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${base}.md`, table);
  const s = results.sections;
  const series = [
    s.weft && { name: 'weft attach (API)', points: s.weft.attach1.curve },
    s.weft && { name: 'weft attach + 1 port', points: s.weft.ports.curve },
    s.cni && { name: 'CNI bridge ADD', points: s.cni.bridge.add.curve },
    s.cni && { name: 'CNI macvlan ADD', points: s.cni.macvlan.add.curve },
  ].filter(Boolean);
  if (series.length) {
    writeFileSync(`${base}.svg`, lineChartSvg({ title: `Attach latency vs endpoints (${results.mode} run, ${started.toISOString().slice(0, 16)}Z)`, xLabel: 'endpoints attached', yLabel: 'median latency per bucket (ms)', series }));
  }
  process.stdout.write(table);
  process.stdout.write(`\nraw: ${base}.json\ntable: ${base}.md${series.length ? `\nchart: ${base}.svg` : ''}\n`);
  return Object.keys(results.errors).length ? 1 : 0;
}

main()
  .then(async (code) => {
    await cleanupAll();
    process.exit(code);
  })
  .catch(async (e) => {
    process.stderr.write(`bench: ${e.message}\n${e.usage ? `${USAGE}\n` : ''}`);
    await cleanupAll();
    process.exit(e.usage ? 2 : 1);
  });
