// Data plane: iperf3 TCP throughput and ping round trip between two namespaces on a weft bridge
// network, against the same topology built by hand with `ip` in the same host namespace (so the
// same kernel, br_netfilter state and weft's nft table apply to both), runs interleaved A B / B A.

import { pairedRatios, summary } from './stats.mjs';
import { createNamespaces, nsName, run, runOk, say, sleep } from './env.mjs';

const ipn = (ns, args) => runOk(['ip', '-n', ns, ...args]);

async function iperf(server, client, ip, seconds) {
  const srv = run(['ip', 'netns', 'exec', server, 'iperf3', '-s', '-1', '-p', '5201'], { timeoutMs: (seconds + 30) * 1000 });
  await sleep(300);
  const r = await run(['ip', 'netns', 'exec', client, 'iperf3', '-c', ip, '-p', '5201', '-t', String(seconds), '-J'], { timeoutMs: (seconds + 30) * 1000 });
  await srv;
  if (r.code !== 0) throw new Error(`iperf3 to ${ip}: ${r.stdout.slice(0, 500)} ${r.stderr}`);
  return JSON.parse(r.stdout).end.sum_received.bits_per_second / 1e9;
}

/** Average RTT (ms) of `count` pings sent back to back (-A). */
async function rtt(client, ip, count) {
  const r = await run(['ip', 'netns', 'exec', client, 'busybox', 'ping', '-A', '-q', '-c', String(count), ip], { timeoutMs: 30_000 });
  const m = /= [\d.]+\/([\d.]+)\//.exec(r.stdout);
  if (r.code !== 0 || !m) throw new Error(`ping ${ip}: ${r.stdout} ${r.stderr}`);
  return Number(m[1]);
}

export async function benchDataplane(weftd, hostNs, { rounds, seconds }) {
  const [ws, wc, hs, hc] = ['ws', 'wc', 'hs', 'hc'].map((t) => nsName(t));
  await createNamespaces([ws, wc, hs, hc], { withLoopback: true });
  // weft: a bridge network and two endpoints.
  await weftd.api.request('POST', '/v1/networks', { name: 'bench-i', driver: 'bridge', ipam: [{ subnet: '10.66.0.0/24' }] });
  const a = await weftd.api.request('POST', '/v1/networks/bench-i/connect', { netns: ws });
  await weftd.api.request('POST', '/v1/networks/bench-i/connect', { netns: wc });
  const weftIp = a.ipv4.split('/')[0];
  // By hand: bridge + two veth pairs, same MTU, in weftd's host namespace.
  const br = `${nsName('br')}`.slice(0, 15);
  await ipn(hostNs, ['link', 'add', br, 'type', 'bridge']);
  await ipn(hostNs, ['addr', 'add', '10.67.0.1/24', 'dev', br]);
  await ipn(hostNs, ['link', 'set', br, 'up']);
  for (const [ns, addr, i] of [[hs, '10.67.0.2/24', 1], [hc, '10.67.0.3/24', 2]]) {
    const host = `${br.slice(0, 11)}v${i}`;
    await runOk(['ip', 'link', 'add', host, 'netns', hostNs, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await ipn(hostNs, ['link', 'set', host, 'master', br, 'up']);
    await ipn(ns, ['addr', 'add', addr, 'dev', 'eth0']);
    await ipn(ns, ['link', 'set', 'eth0', 'up']);
  }
  const handIp = '10.67.0.2';
  await sleep(500); // let both bridges reach forwarding
  const tput = { weft: [], hand: [] };
  const lat = { weft: [], hand: [] };
  say(`data plane: ${rounds} interleaved rounds of iperf3 (${seconds} s) and 200 pings`);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['weft', 'hand'] : ['hand', 'weft'];
    for (const sys of order) tput[sys].push(sys === 'weft' ? await iperf(ws, wc, weftIp, seconds) : await iperf(hs, hc, handIp, seconds));
    for (const sys of order) lat[sys].push(sys === 'weft' ? await rtt(wc, weftIp, 200) : await rtt(hc, handIp, 200));
  }
  await weftd.api.request('POST', '/v1/networks/bench-i/disconnect', { netns: ws });
  await weftd.api.request('POST', '/v1/networks/bench-i/disconnect', { netns: wc });
  await weftd.api.request('DELETE', '/v1/networks/bench-i');
  return {
    gbps: { weft: summary(tput.weft), hand: summary(tput.hand), ratio: pairedRatios(tput.weft, tput.hand) },
    rttMs: { weft: summary(lat.weft), hand: summary(lat.hand), ratio: pairedRatios(lat.weft, lat.hand) },
  };
}
