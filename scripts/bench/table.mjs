// The bench's table (Markdown, also printed): one row per figure with weft's median and p99, the
// anchor measured in the same run, the ratio weft/anchor, the target and whether it was met.
// Targets are printed beside the figures, never asserted.

import { overlayRows } from './overlay.mjs';

const f = (v, d = 1) => (v === undefined || Number.isNaN(v) ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(d));
const msPair = (s) => (s ? `${f(s.median)} / ${f(s.p99)} ms` : '-');
const verdict = (ok) => (ok === undefined ? '' : ok ? 'met' : 'MISSED');

export function renderTable(results) {
  const s = results.sections;
  const rows = [];
  const row = (what, weft, anchor, ratio, target, ok) => rows.push([what, weft, anchor, ratio, target, verdict(ok)]);
  const w = s.weft;
  const cni = s.cni;
  if (w) {
    const a = w.attach1;
    row(`attach, API, 1 client (n=${a.n})`, msPair(a), cni ? `CNI bridge ADD ${msPair(cni.bridge.add)}` : '-', cni ? `${f(a.median / cni.bridge.add.median, 2)}x` : '-', 'p50 <= 3 ms, p99 <= 10 ms', a.median <= 3 && a.p99 <= 10);
    if (cni) row('', '', `CNI macvlan ADD ${msPair(cni.macvlan.add)}`, `${f(a.median / cni.macvlan.add.median, 2)}x`, '', undefined);
    row('attach, time inside weftd (mean, /metrics)', `${f(w.attachServerMeanMs)} ms`, '', '', '', undefined);
    const steps = Object.entries(w.attachServerStepsMs ?? {});
    if (steps.length) row('attach steps inside weftd (mean, weft_connect_step_duration_seconds)', steps.map(([k, v]) => `${k} ${f(v)}`).join(' / ') + ' ms', '', '', '', undefined);
    // Counted by weftd: a program that runs per attach shows as about 1 per attach; the periodic
    // reconciler's firewall checks (nft, iptables) during the run show as a few in total.
    const byProgram = Object.entries(w.spawnsByProgram ?? {}).map(([k, v]) => `${k} ${Math.round(v * w.attach1.n)}`).join(', ');
    const spawnText = w.spawnsPerAttach === undefined ? '- (weftd does not count them)' : `${f(w.spawnsPerAttach, 2)} (${Math.round(w.spawnsPerAttach * w.attach1.n)} in ${w.attach1.n} attaches${byProgram ? `: ${byProgram}` : ''})`;
    row('process spawns per attach (weftd, weft_process_spawns_total)', `${spawnText}; machine-wide forks ${f(w.machineForksPerAttach, 1)}`, s.baseline ? `1 ip = ${f(s.baseline.ipSpawn.median)} ms, 1 nft = ${f(s.baseline.nftCall.median)} ms` : '', '', '0 for the target', w.spawnsPerAttach === undefined ? undefined : w.spawnsPerAttach < 0.05);
    const st = s.baseline?.steps;
    if (st) row(`attach steps, each alone (n=${st.n}): durable store commit / veth into the namespace / container side over netlink`, `${msPair(st.commit)} / ${msPair(st.veth)} / ${msPair(st.configure)}`, '', '', '', undefined);
    row(`attach, 8 concurrent clients (n=${w.attach8.n})`, `${f(w.attach8.perSecond)} /s (${msPair(w.attach8)})`, cni ? `CNI bridge sequential ${f(1000 / cni.bridge.add.median)} /s` : '-', cni ? `${f(w.attach8.perSecond / (1000 / cni.bridge.add.median), 2)}x` : '-', '>= 500 /s', w.attach8.perSecond >= 500);
    row(`attach, weft CLI end to end (n=${w.attachCli.n})`, msPair(w.attachCli), '', '', '', undefined);
    row(`detach, API, 1 client (n=${w.detach1.n})`, msPair(w.detach1), cni ? `CNI bridge DEL ${msPair(cni.bridge.del)}` : '-', cni ? `${f(w.detach1.median / cni.bridge.del.median, 2)}x` : '-', '', undefined);
    row(`flat: last ${w.flatAttach.k} of ${w.flatAttach.of} attaches vs first ${w.flatAttach.k}`, `${f(w.flatAttach.last)} vs ${f(w.flatAttach.first)} ms`, '', `${f(w.flatAttach.ratio, 2)}x`, '<= 1.5x', w.flatAttach.ratio <= 1.5);
    row(`flat: published port ${w.ports.of - w.ports.k + 1}-${w.ports.of} vs 1-${w.ports.k} (attach + 1 port)`, `${f(w.ports.last)} vs ${f(w.ports.first)} ms`, '', `${f(w.ports.ratio, 2)}x`, '<= 1.5x', w.ports.ratio <= 1.5);
    const anon = w.rss?.anonymousMiB !== undefined ? `; anonymous ${f(w.rss.anonymousMiB)} (${f(w.rss.afterRestartAnonymousMiB)}) MiB` : '';
    // The netns relay is part of weftd's footprint: its RSS is shown and counted in the target.
    const relay = w.rss?.relayMiB !== undefined ? `; + netns relay ${f(w.rss.relayMiB, 2)} MiB = ${f(w.rss.mib + w.rss.relayMiB)} MiB` : '';
    if (w.rss) row(`weftd RSS with ${w.rss.endpoints} endpoints (after restart)`, `${f(w.rss.mib)} MiB (${f(w.rss.afterRestartMiB)} MiB)${anon}${relay}`, '', '', '<= 100 MB', (w.rss.mib + (w.rss.relayMiB ?? 0)) * 1.048576 <= 100);
    if (w.restart) row(`restart + reconcile of ${w.restart.endpoints} endpoints (until the API answers)`, `${f(w.restart.ms)} ms${w.restart.endpointsAfter !== undefined ? `, ${w.restart.endpointsAfter} endpoints back` : ''}`, '', '', '<= 3 s', w.restart.ms <= 3000);
    const nc = w.networkCreate;
    row(`flat: network create with ${nc.present} present vs none (n=${nc.full.n})`, `${msPair(nc.full)} vs ${msPair(nc.empty)}`, '', `${f(nc.ratio, 2)}x`, '<= 1.5x', nc.ratio <= 1.5);
  }
  const ip = s.ipam;
  if (ip) {
    const e1 = ip.embedded.clients1;
    const e8 = ip.embedded.clients8;
    // One caller waits for one durable commit per allocation: its rate is bounded by the flush,
    // not by the IPAM, so it is reported beside that bound rather than against the target.
    // The mean, not the median: throughput is callers / mean wait, and the flush has a long tail.
    const bound = (n, p, what = 'durable commit') =>
      p ? `bound ${n} / commit = ${f((n * 1000) / p.meanMs)} /s (one ${what} ${f(p.meanMs, 2)} ms mean, median ${f(p.medianMs, 2)}, p90 ${f(p.p90Ms, 2)})` : '';
    row(`IPAM durable allocations, embedded store, 1 client (n=${e1.count})`, `${f(e1.perSecond)} /s`, bound(1, e1.commit), '', '(bounded by the flush)', undefined);
    row(`IPAM durable allocations, embedded store, 8 clients (n=${e8.count})`, `${f(e8.perSecond)} /s`, bound(8, e8.commit), '', '>= 5,000 /s', e8.perSecond >= 5000);
    const e = ip.etcd;
    row(`IPAM allocations on etcd, ${e.hosts} hosts x ${e.clientsPerHost} clients (n=${e.total})`, `${f(e.perSecond)} /s aggregate${e.errors ? `, ${e.errors} errors` : ''}`, bound(e.hosts * e.clientsPerHost, e.commit, 'etcd txn, alone'), '', '>= 1,000 /s', e.perSecond >= 1000);
  }
  const d = s.docker;
  if (d) {
    for (const [op, label] of [['connect', 'docker network connect'], ['disconnect', 'docker network disconnect'], ['run', 'docker run -d']]) {
      const x = d[op];
      row(`${label} (n=${x.weft.n}, interleaved)`, `weft-bridge ${msPair(x.weft)}`, `bridge ${msPair(x.docker)}`, `${f(x.ratio.median, 2)}x [p10 ${f(x.ratio.p10, 2)}, p90 ${f(x.ratio.p90, 2)}]`, '<= 1.0x', x.ratio.median <= 1.0);
    }
  }
  const dp = s.dataplane;
  if (dp) {
    row(`iperf3 TCP (n=${dp.gbps.weft.n}, interleaved)`, `${f(dp.gbps.weft.median, 2)} Gbit/s`, `by hand ${f(dp.gbps.hand.median, 2)} Gbit/s`, `${f(dp.gbps.ratio.median, 3)}x [${f(dp.gbps.ratio.min, 3)}, ${f(dp.gbps.ratio.max, 3)}]`, '>= 0.95x', dp.gbps.ratio.median >= 0.95);
    row('ping RTT, 200 back to back', `${f(dp.rttMs.weft.median, 3)} ms`, `by hand ${f(dp.rttMs.hand.median, 3)} ms`, `${f(dp.rttMs.ratio.median, 2)}x`, '', undefined);
  }
  if (s.overlay) for (const r of overlayRows(s.overlay, f)) row(...r);
  const head = ['benchmark', 'weft (median / p99)', 'anchor, same run', 'ratio weft/anchor', 'target', ''];
  const lines = [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`);
  const errs = Object.entries(results.errors).map(([k, v]) => `- ${k}: not measured: ${v}`);
  const m = results.machine;
  return [
    `weft bench, ${results.mode} run, ${results.startedAt} to ${results.finishedAt}`,
    `machine: ${m.cpus} x ${m.cpu}, kernel ${m.kernel}, node ${m.node}, load average ${m.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')} at start, ${m.loadavgAtEnd.map((x) => x.toFixed(2)).join(' ')} at end`,
    '',
    ...lines,
    ...(errs.length ? ['', ...errs] : []),
    '',
  ].join('\n');
}
