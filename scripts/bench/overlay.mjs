// The overlay benchmarks (issue 6; docs/bench.md, "Overlay"), on a 5-host netns lab (scripts/lab)
// with etcd, short membership timers (--host-ttl 3, --host-dead-after 6):
//
//   convergence   time from `connect` returning on host A (the management API's answer) to the
//                 first ICMP echo reply seen by a container on host B. A is every host but h2 in
//                 turn, B is h2. The pinger is one Python process in B's container with a raw ICMP
//                 socket, pinging every new address every 2 ms; its ARP timer is set to 5 ms (the
//                 kernel's default of 1 s would quantize the figure to whole seconds, measuring the
//                 container's ARP retry instead of weft). Both clocks are this machine's wall clock.
//   detection     a host's weftd killed (SIGKILL: a crash, the lease runs out) and a host's underlay
//                 cut (`lab link hN down`): time until h1's weftd reports it lost, and, for the cut
//                 host, gone (VTEP silent for --host-dead-after). Target: lost <= TTL + 2 s.
//   throughput    iperf3 TCP between containers on h1 and h2 through weft's overlay, against a VXLAN
//                 built by hand with `ip` on the same lab (container veth -> bridge -> VXLAN, same
//                 MTU, another VNI and port), rounds interleaved. Target ratio >= 0.95.
//
// Every figure is printed, none is asserted. The lab is removed at the end (and on Ctrl-C).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { ApiClient, onCleanup, run, runOk, say, sleep } from './env.mjs';
import { pairedRatios, summary } from './stats.mjs';
import { ROOT } from './weftd.mjs';

const LAB = path.join(ROOT, 'scripts/lab');
const HOSTS = 5;
const TTL = 3;
const DEAD_AFTER = 6;
const VTEP = (i) => `198.18.0.${10 + i}`;

// B's pinger: reads addresses on stdin, pings each every 2 ms until the first reply, prints
// "ADDR EPOCH_MS" (or "ADDR timeout" after 10 s). Raw ICMP socket: one process, no spawn per ping.
const PINGER = `
import os, select, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.setblocking(False)
ident = os.getpid() & 0xffff
def csum(b):
    if len(b) % 2: b += b'\\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
def echo(seq):
    h = struct.pack('!BBHHH', 8, 0, 0, ident, seq & 0xffff) + b'weft-bench'
    return h[:2] + struct.pack('!H', csum(h)) + h[4:]
pending = {}
seq = 0
print('ready', flush=True)
while True:
    r, _, _ = select.select([sys.stdin, s], [], [], 0.002)
    now = time.time()
    if sys.stdin in r:
        line = sys.stdin.readline()
        if not line: break
        pending[line.strip()] = now + 10
    if s in r:
        while True:
            try: pkt, addr = s.recvfrom(2048)
            except BlockingIOError: break
            ihl = (pkt[0] & 15) * 4
            if len(pkt) >= ihl + 8 and pkt[ihl] == 0 and struct.unpack('!H', pkt[ihl+4:ihl+6])[0] == ident and addr[0] in pending:
                del pending[addr[0]]
                print('%s %.3f' % (addr[0], time.time() * 1000), flush=True)
    for ip, dl in list(pending.items()):
        if now > dl:
            del pending[ip]; print('%s timeout' % ip, flush=True); continue
        seq += 1
        try: s.sendto(echo(seq), (ip, 0))
        except OSError: pass
`;

function labArgv(lab, args) {
  return [LAB, '--name', lab.name, '--dir', lab.dir, ...args];
}
const labOk = (lab, args, timeoutMs = 120_000) => runOk(labArgv(lab, args), { timeoutMs });
const onHost = (lab, h, cmd, timeoutMs = 60_000) => run(labArgv(lab, ['exec', h, '--', ...cmd]), { timeoutMs });
const onHostOk = (lab, h, cmd, timeoutMs = 60_000) => runOk(labArgv(lab, ['exec', h, '--', ...cmd]), { timeoutMs });
/** A long-lived command on a host, with pipes; ended by PID at clean-up (lab down ends the rest). */
function spawnOnHost(lab, h, cmd) {
  const argv = labArgv(lab, ['exec', h, '--', ...cmd]);
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  onCleanup(() => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });
  return child;
}

async function labUp(lab) {
  say(`overlay: lab ${lab.name} up (${HOSTS} hosts, etcd, TTL ${TTL} s, dead-after ${DEAD_AFTER} s)`);
  onCleanup(async () => {
    await run(labArgv(lab, ['down']), { timeoutMs: 180_000 });
  });
  await labOk(lab, ['up', '--hosts', String(HOSTS), '--host-ttl', String(TTL), '--host-dead-after', String(DEAD_AFTER), '--log-level', 'info'], 300_000);
  lab.api = {};
  for (let i = 1; i <= HOSTS; i++) {
    lab.api[`h${i}`] = new ApiClient(path.join(lab.dir, `h${i}`, 'weft.sock'));
    onCleanup(() => lab.api[`h${i}`].close());
  }
}

// ---- convergence -----------------------------------------------------------------------------------

async function convergence(lab, count) {
  const api = lab.api;
  await api.h1.request('POST', '/v1/networks', { name: 'ovb', driver: 'overlay', ipam: [{ subnet: '10.70.0.0/20' }] });
  // B's pinger container: tight ARP timer (see the header), many solicitations before FAILED.
  await onHostOk(lab, 'h2', ['ip', 'netns', 'add', 'cb']);
  await api.h2.request('POST', '/v1/networks/ovb/connect', { netns: 'cb' });
  for (const [k, v] of [['retrans_time_ms', '5'], ['mcast_solicit', '255'], ['ucast_solicit', '255']]) {
    await onHostOk(lab, 'h2', ['ip', 'netns', 'exec', 'cb', 'sysctl', '-qw', `net.ipv4.neigh.eth0.${k}=${v}`]);
  }
  const pinger = spawnOnHost(lab, 'h2', ['ip', 'netns', 'exec', 'cb', 'python3', '-u', '-c', PINGER]);
  const lines = readline.createInterface({ input: pinger.stdout });
  const waiting = new Map();
  let ready;
  const readyP = new Promise((r) => (ready = r));
  lines.on('line', (l) => {
    if (l === 'ready') return ready();
    const [ip, at] = l.split(' ');
    waiting.get(ip)?.(at === 'timeout' ? undefined : Number(at));
    waiting.delete(ip);
  });
  await Promise.race([readyP, sleep(20_000).then(() => Promise.reject(new Error('the pinger did not start')))]);

  // The endpoint namespaces, made before timing: one exec per host.
  const senders = Array.from({ length: HOSTS }, (_, i) => `h${i + 1}`).filter((h) => h !== 'h2');
  const plan = Array.from({ length: count }, (_, i) => ({ host: senders[i % senders.length], ns: `e${i}` }));
  for (const h of senders) {
    const mine = plan.filter((p) => p.host === h).map((p) => p.ns);
    await onHostOk(lab, h, ['sh', '-c', 'for n in "$@"; do ip netns add "$n"; done', 'sh', ...mine], 120_000);
  }
  const conv = [];
  const fromRequest = [];
  const connectMs = [];
  let lost = 0;
  for (const p of plan) {
    const t = performance.now();
    const requested = Date.now();
    const ep = await api[p.host].request('POST', '/v1/networks/ovb/connect', { netns: p.ns });
    const returned = Date.now();
    connectMs.push(performance.now() - t);
    const ip = ep.ipv4.split('/')[0];
    const seen = new Promise((r) => waiting.set(ip, r));
    pinger.stdin.write(`${ip}\n`);
    const at = await seen;
    if (at === undefined) lost++;
    else {
      conv.push(Math.max(0, at - returned));
      fromRequest.push(at - requested);
    }
  }
  pinger.stdin.end();
  say(`overlay: convergence over ${count} endpoints: p50 ${summary(conv).median?.toFixed(1)} ms`);
  // fromRequestMs: the same first reply, counted from when the connect request was sent (B may be
  // programmed before A's connect returns: the peer record is written before A's links are made).
  return { convergenceMs: summary(conv), fromRequestMs: summary(fromRequest), connectMs: summary(connectMs), unreached: lost, count, samples: conv };
}

// ---- failure detection ---------------------------------------------------------------------------

async function waitState(lab, from, hostId, state, limitMs) {
  const t0 = Date.now();
  while (Date.now() - t0 < limitMs) {
    const hosts = await lab.api[from].request('GET', '/v1/hosts');
    if (hosts.find((h) => h.id === hostId)?.state === state) return Date.now();
    await sleep(50);
  }
  return undefined;
}

async function detection(lab) {
  // Times count from the moment the lab command returned (weftd dead, cable out), so they are a
  // lower bound by the few ms the command itself took.
  // A crash: weftd of h5 killed; its lease runs out after at most TTL.
  await labOk(lab, ['stop', 'h5', '--kill']);
  const killedAt = Date.now();
  const killedLost = await waitState(lab, 'h1', 'h5', 'lost', (TTL + 20) * 1000);
  // An underlay cut: h4 loses etcd (lost) and stops answering probes (gone after dead-after).
  await labOk(lab, ['link', 'h4', 'down']);
  const cutAt = Date.now();
  const cutLost = await waitState(lab, 'h1', 'h4', 'lost', (TTL + 20) * 1000);
  const cutGone = await waitState(lab, 'h1', 'h4', 'gone', (TTL + DEAD_AFTER + 30) * 1000);
  await labOk(lab, ['link', 'h4', 'up']);
  const since = (t, t0) => (t === undefined ? undefined : t - t0);
  return {
    ttlSeconds: TTL,
    deadAfterSeconds: DEAD_AFTER,
    killedLostMs: since(killedLost, killedAt),
    cutLostMs: since(cutLost, cutAt),
    cutGoneMs: since(cutGone, cutAt),
  };
}

// ---- throughput ------------------------------------------------------------------------------------

/** The hand-made twin of weft's data path on host hI: netns qI -> veth -> bridge -> VXLAN. */
async function handVxlan(lab, i, peer) {
  const h = `h${i}`;
  const script = [
    'set -e',
    'ip netns add q1',
    'ip link add hbr type bridge',
    'ip link set hbr up',
    `ip link add hvx type vxlan id 999 dstport 4790 local ${VTEP(i)} nolearning`,
    'ip link set hvx master hbr mtu 1450 addrgenmode none up',
    `bridge fdb append 00:00:00:00:00:00 dev hvx dst ${VTEP(peer)} self permanent`,
    'ip link add hve mtu 1450 type veth peer name eth0 mtu 1450 netns q1',
    'ip link set hve master hbr up',
    `ip -n q1 addr add 10.99.0.${i}/24 dev eth0`,
    'ip -n q1 link set eth0 up',
    'ip -n q1 link set lo up',
  ].join('\n');
  await onHostOk(lab, h, ['sh', '-c', script]);
}

async function iperfOnce(lab, ns, dst, seconds) {
  let last = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    const r = await onHost(lab, 'h1', ['ip', 'netns', 'exec', ns, 'iperf3', '-c', dst, '-t', String(seconds), '-J'], (seconds + 30) * 1000);
    let j;
    try {
      j = JSON.parse(r.stdout);
    } catch {
      j = undefined;
    }
    const bps = j?.end?.sum_received?.bits_per_second;
    if (r.code === 0 && !j?.error && typeof bps === 'number') return bps / 1e9;
    // The server may not listen yet, or still be busy with the previous client: try again.
    last = j?.error ?? (r.stderr.trim() || `exit ${r.code}`);
    await sleep(300);
  }
  throw new Error(`iperf3 to ${dst} from ${ns} kept failing: ${last}`);
}

async function throughput(lab, rounds, seconds) {
  const api = lab.api;
  await api.h1.request('POST', '/v1/networks', { name: 'ovt', driver: 'overlay', ipam: [{ subnet: '10.71.0.0/24' }] });
  await onHostOk(lab, 'h1', ['ip', 'netns', 'add', 'p1']);
  await onHostOk(lab, 'h2', ['ip', 'netns', 'add', 'p1']);
  await api.h1.request('POST', '/v1/networks/ovt/connect', { netns: 'p1' });
  const server = await api.h2.request('POST', '/v1/networks/ovt/connect', { netns: 'p1' });
  const weftDst = server.ipv4.split('/')[0];
  await handVxlan(lab, 1, 2);
  await handVxlan(lab, 2, 1);
  spawnOnHost(lab, 'h2', ['ip', 'netns', 'exec', 'p1', 'iperf3', '-s']);
  spawnOnHost(lab, 'h2', ['ip', 'netns', 'exec', 'q1', 'iperf3', '-s']);
  const weft = [];
  const hand = [];
  for (let r = 0; r < rounds; r++) {
    // Interleaved, alternating which goes first, so drift in machine load hits both alike.
    const order = r % 2 === 0 ? ['weft', 'hand'] : ['hand', 'weft'];
    for (const which of order) {
      if (which === 'weft') weft.push(await iperfOnce(lab, 'p1', weftDst, seconds));
      else hand.push(await iperfOnce(lab, 'q1', '10.99.0.2', seconds));
    }
  }
  return { gbps: { weft: summary(weft), hand: summary(hand), ratio: pairedRatios(weft, hand) }, rounds, seconds };
}

/** The whole overlay section. `quick`: 20 endpoints, 3 iperf3 rounds of 2 s (full: 100, 6 x 5 s). */
export async function benchOverlay({ quick }) {
  const lab = { name: `wbo${randomBytes(2).toString('hex')}`, dir: path.join(os.tmpdir(), `weft-bench-lab-${process.pid}`) };
  await labUp(lab);
  const count = quick ? 20 : 100;
  const out = { hosts: HOSTS, errors: {} };
  // Each part on its own: one that fails is reported, the others are still measured.
  const part = async (name, fn) => {
    try {
      out[name] = await fn();
    } catch (e) {
      say(`overlay ${name} failed: ${e.message}`);
      out.errors[name] = e.message;
    }
  };
  await part('convergence', () => convergence(lab, count));
  await part('throughput', () => throughput(lab, quick ? 3 : 6, quick ? 2 : 5));
  await part('detection', () => detection(lab));
  return out;
}

/** Table rows (benchmark, weft, anchor, ratio, target, met?) for scripts/bench/table.mjs. */
export function overlayRows(o, f) {
  const rows = [];
  const c = o.convergence;
  if (c) {
    rows.push([`overlay convergence, connect on A -> first ping from B (n=${c.convergenceMs.n}, ${o.hosts} hosts${c.unreached ? `, ${c.unreached} never reached` : ''})`, `${f(c.convergenceMs.median)} / ${f(c.convergenceMs.p99)} ms`, `connect itself ${f(c.connectMs.median)} / ${f(c.connectMs.p99)} ms; from the request ${f(c.fromRequestMs.median)} / ${f(c.fromRequestMs.p99)} ms`, '', 'p50 <= 100 ms, p99 <= 500 ms', c.convergenceMs.median <= 100 && c.convergenceMs.p99 <= 500 && c.unreached === 0]);
  }
  const d = o.detection;
  if (d) {
    const target = (d.ttlSeconds + 2) * 1000;
    const ms = (v) => (v === undefined ? 'not seen' : `${f(v)} ms`);
    rows.push([`host failure detection, weftd killed -> lost (TTL ${d.ttlSeconds} s)`, ms(d.killedLostMs), '', '', `<= TTL + 2 s (${target} ms)`, d.killedLostMs !== undefined && d.killedLostMs <= target]);
    rows.push([`host failure detection, underlay cut -> lost`, ms(d.cutLostMs), '', '', `<= TTL + 2 s (${target} ms)`, d.cutLostMs !== undefined && d.cutLostMs <= target]);
    rows.push([`host failure detection, underlay cut -> gone (dead-after ${d.deadAfterSeconds} s)`, ms(d.cutGoneMs), '', '', '', undefined]);
  }
  const t = o.throughput;
  if (t) {
    rows.push([`overlay iperf3 TCP h1 -> h2 (n=${t.gbps.weft.n}, interleaved)`, `${f(t.gbps.weft.median, 2)} Gbit/s`, `VXLAN by hand ${f(t.gbps.hand.median, 2)} Gbit/s`, `${f(t.gbps.ratio.median, 3)}x [${f(t.gbps.ratio.min, 3)}, ${f(t.gbps.ratio.max, 3)}]`, '>= 0.95x', t.gbps.ratio.median >= 0.95]);
  }
  for (const [k, v] of Object.entries(o.errors ?? {})) rows.push([`overlay ${k}`, `not measured: ${v}`, '', '', '', undefined]);
  return rows;
}
