// weft attach through the management API (POST /v1/networks/NAME/connect: create endpoint + join
// the namespace), the way an orchestrator with a long-lived connection would call it; then the
// same through the `weft` CLI, end to end (one node process per call). Also: flat cost with 1,000
// endpoints, 1,000 published ports, and network create with 100 networks present.

import { bucketMedians, median, summary } from './stats.mjs';
import { WEFT_JS, memoryMiB, relayRssMiB, restartWeftd, rssMiB } from './weftd.mjs';
import { createNamespaces, forkCount, nsName, run, say, timeMs } from './env.mjs';

/** Server-side connect time from weftd's own histogram: {count, sum} in seconds. */
async function connectHistogram(api, operation = 'connect') {
  const text = await api.request('GET', '/metrics');
  const pick = (suffix) => {
    const line = text.split('\n').find((l) => l.startsWith(`weft_operation_duration_seconds_${suffix}{operation="${operation}",driver="bridge",outcome="ok"}`));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  return { count: pick('count'), sum: pick('sum') };
}

/** weftd's own time per connect step (weft_connect_step_duration_seconds): {step: {sum, count}}. */
export async function connectSteps(api) {
  const text = await api.request('GET', '/metrics');
  const out = {};
  for (const l of text.split('\n')) {
    const m = /^weft_connect_step_duration_seconds_(sum|count)\{step="([^"]*)"\} (\S+)$/.exec(l);
    if (m) (out[m[2]] ??= { sum: 0, count: 0 })[m[1]] = Number(m[3]);
  }
  return out;
}

/** Mean milliseconds per step between two readings of connectSteps. */
export const stepMeans = (a, b) =>
  Object.fromEntries(Object.entries(b).map(([k, v]) => [k, ((v.sum - (a[k]?.sum ?? 0)) / Math.max(1, v.count - (a[k]?.count ?? 0))) * 1000]));

/** Processes weftd started so far (weft_process_spawns_total, all programs), by program. */
export async function weftdSpawns(api) {
  const text = await api.request('GET', '/metrics');
  // A weftd from before the counter existed: unknown, not zero.
  if (!text.includes('# TYPE weft_process_spawns_total')) return undefined;
  const by = {};
  for (const l of text.split('\n')) {
    const m = /^weft_process_spawns_total\{program="([^"]*)"\} (\S+)$/.exec(l);
    if (m) by[m[1]] = Number(m[2]);
  }
  return by;
}

const spawnDelta = (a, b) => (a === undefined || b === undefined ? undefined : Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]).filter(([, v]) => v > 0)));

async function connectAll(api, net, names, publish) {
  const lat = [];
  for (let i = 0; i < names.length; i++) {
    const body = { netns: names[i], ...(publish ? { publish: [publish(i)] } : {}) };
    lat.push((await timeMs(() => api.request('POST', `/v1/networks/${net}/connect`, body))).ms);
  }
  return lat;
}

async function disconnectAll(api, net, names, concurrency = 1) {
  const lat = [];
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const n = names[next++];
      lat.push((await timeMs(() => api.request('POST', `/v1/networks/${net}/disconnect`, { netns: n }))).ms);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return lat;
}

/** Runs every weft measurement on one weftd; `count` endpoints (1,000 in a full run). */
export async function benchWeft(weftd, { count, cliRuns, createRuns, networksPresent }) {
  let { api } = weftd;
  const out = {};
  const names = Array.from({ length: count }, (_, i) => nsName('c', i));
  say(`weft: ${count} container namespaces`);
  await createNamespaces(names);

  // 1. Sequential attaches with one client, on one network, up to `count` endpoints.
  await api.request('POST', '/v1/networks', { name: 'bench-a', driver: 'bridge', ipam: [{ subnet: '10.60.0.0/21' }] });
  say(`weft: ${count} sequential attaches (1 client)`);
  const h0 = await connectHistogram(api);
  const st0 = await connectSteps(api);
  const s0 = await weftdSpawns(api);
  const f0 = forkCount();
  const seq = await connectAll(api, 'bench-a', names);
  const forks = forkCount() - f0;
  const spawned = spawnDelta(s0, await weftdSpawns(api));
  const h1 = await connectHistogram(api);
  out.attach1 = { ...summary(seq), curve: bucketMedians(seq, Math.max(10, Math.floor(count / 20))) };
  out.attachServerMeanMs = ((h1.sum - h0.sum) / Math.max(1, h1.count - h0.count)) * 1000;
  out.attachServerStepsMs = stepMeans(st0, await connectSteps(api));
  // weftd's own count (its metric); the machine-wide fork count is kept for context only: on a
  // shared machine it also counts everybody else's processes.
  if (spawned) {
    out.spawnsPerAttach = Object.values(spawned).reduce((a, b) => a + b, 0) / count;
    out.spawnsByProgram = Object.fromEntries(Object.entries(spawned).map(([k, v]) => [k, v / count]));
  }
  out.machineForksPerAttach = forks / count;
  const k = Math.min(100, Math.floor(count / 10));
  out.flatAttach = { first: median(seq.slice(0, k)), last: median(seq.slice(-k)), k, of: count };
  out.flatAttach.ratio = out.flatAttach.last / out.flatAttach.first;
  // Memory with `count` endpoints, then a restart that restores them all (issue 8: <= 100 MB with
  // 1,000; restart with reconcile of 1,000 <= 3 s).
  out.rss = { endpoints: count, mib: rssMiB(weftd.pid), anonymousMiB: memoryMiB(weftd.pid).anonymous, relayMiB: relayRssMiB(weftd.pid) };
  say(`weft: restart with ${count} endpoints`);
  out.restart = { endpoints: count, ms: await restartWeftd(weftd) };
  out.rss.afterRestartMiB = rssMiB(weftd.pid);
  out.rss.afterRestartAnonymousMiB = memoryMiB(weftd.pid).anonymous;
  const api2 = weftd.api;
  const eps = await api2.request('GET', '/v1/networks/bench-a');
  out.restart.endpointsAfter = Array.isArray(eps?.endpoints) ? eps.endpoints.length : undefined;
  say('weft: sequential detaches');
  out.detach1 = summary(await disconnectAll(api2, 'bench-a', names));

  api = weftd.api; // a new client after the restart

  // 2. Eight concurrent clients.
  say(`weft: ${count} attaches from 8 concurrent clients`);
  let next = 0;
  const conc = [];
  const wall = await timeMs(() =>
    Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < names.length) {
          const n = names[next++];
          conc.push((await timeMs(() => api.request('POST', '/v1/networks/bench-a/connect', { netns: n }))).ms);
        }
      }),
    ),
  );
  out.attach8 = { ...summary(conc), perSecond: names.length / (wall.ms / 1000), wallMs: wall.ms };
  await disconnectAll(api, 'bench-a', names, 8);

  // 3. The CLI, end to end: node start-up + socket + the same connect.
  say(`weft: ${cliRuns} attaches through the weft CLI`);
  const cli = [];
  for (const n of names.slice(0, cliRuns)) {
    const t = await timeMs(() => run([process.execPath, WEFT_JS, '--host', `unix://${weftd.socket}`, 'network', 'connect', 'bench-a', n], { timeoutMs: 30_000 }));
    if (t.result.code !== 0) throw new Error(`weft network connect failed: ${t.result.stderr}`);
    cli.push(t.ms);
  }
  out.attachCli = summary(cli);
  await disconnectAll(api, 'bench-a', names.slice(0, cliRuns));
  await api.request('DELETE', '/v1/networks/bench-a');

  // 4. Published ports: one port per endpoint, host ports 20000.., the n-th against the first.
  say(`weft: ${count} attaches each publishing a port`);
  await api.request('POST', '/v1/networks', { name: 'bench-p', driver: 'bridge', ipam: [{ subnet: '10.61.0.0/21' }] });
  const ports = await connectAll(api, 'bench-p', names, (i) => `${20000 + i}:80`);
  out.ports = { ...summary(ports), first: median(ports.slice(0, k)), last: median(ports.slice(-k)), k, of: count, curve: bucketMedians(ports, Math.max(10, Math.floor(count / 20))) };
  out.ports.ratio = out.ports.last / out.ports.first;
  await disconnectAll(api, 'bench-p', names, 8);
  await api.request('DELETE', '/v1/networks/bench-p');

  // 5. Network create (and delete) with no other network, then with `networksPresent` present.
  say(`weft: network create with 0 and ${networksPresent} networks present`);
  const createOnce = async (i) => {
    const t = await timeMs(() => api.request('POST', '/v1/networks', { name: `bench-n${i}`, driver: 'bridge', ipam: [{ subnet: `10.80.${i % 256}.0/24` }] }));
    await api.request('DELETE', `/v1/networks/bench-n${i}`);
    return t.ms;
  };
  const empty = [];
  for (let i = 0; i < createRuns; i++) empty.push(await createOnce(i));
  for (let i = 0; i < networksPresent; i++) {
    await api.request('POST', '/v1/networks', { name: `bench-m${i}`, driver: 'bridge', ipam: [{ subnet: `10.${90 + Math.floor(i / 256)}.${i % 256}.0/24` }] });
  }
  const full = [];
  for (let i = 0; i < createRuns; i++) full.push(await createOnce(i));
  out.networkCreate = { empty: summary(empty), full: summary(full), present: networksPresent, ratio: median(full) / median(empty) };
  for (let i = 0; i < networksPresent; i++) await api.request('DELETE', `/v1/networks/bench-m${i}`);
  return out;
}
