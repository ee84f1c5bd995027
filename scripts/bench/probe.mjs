// A focused probe for the scale figures (issue 8), faster than the full bench: one weftd, N
// attaches with or without a published port each, weftd's RSS (and anonymous memory) at every
// tenth, the median latency per tenth, weftd's process spawns by program, and network create with
// 0 and with 100 networks present. For comparing one change against another in the same minutes.
//
//   sudo node scripts/bench/probe.mjs [--count 1000] [--ports] [--networks 100] [--heap-snapshot]
//
// --heap-snapshot starts weftd with --heapsnapshot-signal=SIGUSR2 and writes a snapshot (into
// $PROBE_HEAP_DIR, default /tmp; its path is in the output) after the attaches. WEFT_BENCH_WEFTD_FLAGS adds node flags as for
// the bench. Everything runs in throw-away namespaces, removed at the end.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { median } from './stats.mjs';
import { cleanupAll, createNamespaces, nsName, sleep, timeMs } from './env.mjs';
import { memoryMiB, startWeftd } from './weftd.mjs';
import { connectSteps, stepMeans, weftdSpawns } from './attach.mjs';

function parse(argv) {
  const o = { count: 1000, ports: false, networks: 100, createRuns: 20, heapSnapshot: false, attach: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--count') o.count = Number(argv[++i]);
    else if (a === '--ports') o.ports = true;
    else if (a === '--networks') o.networks = Number(argv[++i]);
    else if (a === '--create-runs') o.createRuns = Number(argv[++i]);
    else if (a === '--heap-snapshot') o.heapSnapshot = true;
    else if (a === '--no-attach') o.attach = false;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** CPU time of a process so far (user + system), in ms. */
function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Resident anonymous memory (MiB) by kind of mapping: the brk heap (malloc's main arena), 64 MiB
 *  reservations (malloc's thread arenas), V8's 256 KiB pages, and the rest. */
function anonymousByMapping(pid) {
  const out = { brkHeap: 0, arenas64M: 0, v8Pages256K: 0, other: 0 };
  let kind;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      const size = (parseInt(head[2], 16) - parseInt(head[1], 16)) / 1024;
      const file = head[4];
      kind = file === '[heap]' ? 'brkHeap' : file !== '' || head[3] !== '0' ? undefined : size === 65536 || size === 131072 ? 'arenas64M' : size === 256 ? 'v8Pages256K' : 'other';
      continue;
    }
    const rss = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (rss && kind) out[kind] += Number(rss[1]) / 1024;
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, +v.toFixed(1)]));
}

async function main() {
  const o = parse(process.argv.slice(2));
  if (o.heapSnapshot) process.env.WEFT_BENCH_WEFTD_FLAGS = `${process.env.WEFT_BENCH_WEFTD_FLAGS ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${process.env.PROBE_HEAP_DIR ?? '/tmp'}`;
  const host = nsName('h');
  await createNamespaces([host], { withLoopback: true });
  const weftd = await startWeftd(host);
  const { api } = weftd;
  const out = { count: o.count, ports: o.ports, idle: memoryMiB(weftd.pid) };
  if (o.attach) {
    const names = Array.from({ length: o.count }, (_, i) => nsName('c', i));
    await createNamespaces(names);
    await api.request('POST', '/v1/networks', { name: 'probe', driver: 'bridge', ipam: [{ subnet: '10.62.0.0/21' }] });
    const s0 = await weftdSpawns(api);
    const cpu0 = cpuMs(weftd.pid);
    const lat = [];
    const tenth = Math.max(1, Math.floor(o.count / 10));
    out.tenths = [];
    let steps = await connectSteps(api);
    for (let i = 0; i < o.count; i++) {
      const body = { netns: names[i], ...(o.ports ? { publish: [`${20000 + i}:80`] } : {}) };
      lat.push((await timeMs(() => api.request('POST', '/v1/networks/probe/connect', body))).ms);
      if ((i + 1) % tenth === 0) {
        const m = memoryMiB(weftd.pid);
        // Open descriptors and mappings: both are copied by every fork (each spawn).
        const fds = readdirSync(`/proc/${weftd.pid}/fd`).length;
        const maps = readFileSync(`/proc/${weftd.pid}/maps`, 'utf8').split('\n').length - 1;
        // weftd's own time per connect step over this tenth (weft_connect_step_duration_seconds).
        const now = await connectSteps(api);
        const stepsMs = Object.fromEntries(Object.entries(stepMeans(steps, now)).map(([k, v]) => [k, +v.toFixed(2)]));
        steps = now;
        out.tenths.push({ upTo: i + 1, medianMs: +median(lat.slice(-tenth)).toFixed(2), rss: +m.rss.toFixed(1), anon: +m.anonymous.toFixed(1), fds, maps, stepsMs });
      }
    }
    // weftd's own CPU time per attach (user + system): less sensitive to the machine's load than latency.
    out.cpuMsPerAttach = +((cpuMs(weftd.pid) - cpu0) / o.count).toFixed(2);
    const s1 = await weftdSpawns(api);
    out.spawns = Object.fromEntries(Object.entries(s1 ?? {}).map(([k, v]) => [k, v - (s0?.[k] ?? 0)]).filter(([, v]) => v > 0));
    const k = Math.min(100, tenth);
    out.flat = { first: +median(lat.slice(0, k)).toFixed(2), last: +median(lat.slice(-k)).toFixed(2) };
    out.flat.ratio = +(out.flat.last / out.flat.first).toFixed(2);
    out.held = memoryMiB(weftd.pid);
    out.anonByMapping = anonymousByMapping(weftd.pid);
    await sleep(2000);
    out.heldAfter2s = memoryMiB(weftd.pid);
    if (o.heapSnapshot) {
      const dir = process.env.PROBE_HEAP_DIR ?? '/tmp';
      const before = new Set(readdirSync(dir));
      process.kill(weftd.pid, 'SIGUSR2');
      // Written once weftd's next request is answered (V8 writes it on the main thread): ask.
      await api.request('GET', '/v1/version');
      out.heapSnapshot = readdirSync(dir).map((f) => path.join(dir, f)).find((f) => f.endsWith('.heapsnapshot') && !before.has(path.basename(f)));
    }
    for (const n of names) await api.request('POST', '/v1/networks/probe/disconnect', { netns: n });
    await api.request('DELETE', '/v1/networks/probe');
  }
  if (o.networks > 0) {
    const createOnce = async (i) => {
      const t = await timeMs(() => api.request('POST', '/v1/networks', { name: `probe-n${i}`, driver: 'bridge', ipam: [{ subnet: `10.80.${i % 256}.0/24` }] }));
      const d = await timeMs(() => api.request('DELETE', `/v1/networks/probe-n${i}`));
      return [t.ms, d.ms];
    };
    const empty = [];
    for (let i = 0; i < o.createRuns; i++) empty.push(await createOnce(i));
    const s0 = await weftdSpawns(api);
    const fill = [];
    for (let i = 0; i < o.networks; i++) {
      fill.push((await timeMs(() => api.request('POST', '/v1/networks', { name: `probe-m${i}`, driver: 'bridge', ipam: [{ subnet: `10.${90 + Math.floor(i / 256)}.${i % 256}.0/24` }] }))).ms);
    }
    const s1 = await weftdSpawns(api);
    const full = [];
    for (let i = 0; i < o.createRuns; i++) full.push(await createOnce(i));
    out.networkCreate = {
      empty: +median(empty.map((x) => x[0])).toFixed(2),
      full: +median(full.map((x) => x[0])).toFixed(2),
      deleteEmpty: +median(empty.map((x) => x[1])).toFixed(2),
      deleteFull: +median(full.map((x) => x[1])).toFixed(2),
      fillFirst10: +median(fill.slice(0, 10)).toFixed(2),
      fillLast10: +median(fill.slice(-10)).toFixed(2),
      spawnsPerCreate: Object.fromEntries(Object.entries(s1 ?? {}).map(([k, v]) => [k, +((v - (s0?.[k] ?? 0)) / o.networks).toFixed(2)]).filter(([, v]) => v > 0)),
    };
    out.networkCreate.ratio = +(out.networkCreate.full / out.networkCreate.empty).toFixed(2);
    for (let i = 0; i < o.networks; i++) await api.request('DELETE', `/v1/networks/probe-m${i}`);
  }
  out.dir = weftd.dir;
  api.close();
  process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
}

main()
  .then(() => cleanupAll())
  .catch(async (e) => {
    process.stderr.write(`probe: ${e.stack}\n`);
    await cleanupAll();
    process.exit(1);
  });
