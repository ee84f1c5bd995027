// The transmit-checksum self-test (docs/overlay.md, "Transmit-checksum self-test"; anchors.md §3
// rows 16-17). VXLAN users hit a silent failure: with transmit checksum offload on the VXLAN
// device, the inner UDP/TCP checksum is left for the lower device to fill in, and some lower
// devices get that wrong; ICMP (ping) still works while TCP and UDP are dropped by the receiver.
// flannel's fix is turning tx checksum offload off on its VXLAN device.
//
// The test, in two throw-away namespaces A and B joined by a veth (the "underlay"):
//   A: a VXLAN device made as weft makes its own (same kind, dstport, nolearning), whose flood
//      entry points at B's underlay address;
//   B: no VXLAN device at all, only a UDP socket on the VXLAN port, so it receives the raw
//      encapsulated frames, exactly the bytes that left A.
// A sends a UDP datagram and a TCP SYN through the VXLAN device; B recomputes the inner IPv4,
// UDP and TCP checksums from the bytes (src/sys/checksum-packet.ts). The veth is the lower device:
// with its transmit offload off (`ethtool -K ... tx off`, the default here) the kernel must finish
// every checksum before the frame leaves A, so wrong bytes mean the kernel's own VXLAN transmit
// path produced them. With its offload left on (`lowerOffload`, used by the tests) the veth stands
// for a lower device that claims to offload but never computes: the bytes carry unfinished
// checksums, the test says "corrupted", and with `vxlanTxOff` it checks the remedy (the VXLAN
// device finishing checksums itself) gives good bytes again.
//
// What it cannot see: a physical NIC's offload engine (traffic between two namespaces never
// reaches one). docs/overlay.md says so.
//
// weftd never enters a namespace itself: every command here is `ip -n NS` or `ip netns exec NS`.

import { randomBytes } from 'node:crypto';
import { accessSync, constants, readdirSync } from 'node:fs';
import path from 'node:path';
import type { CommandRunner } from './exec.js';
import { checkVxlanPayload, type InnerPacketCheck } from './checksum-packet.js';
import { NETNS_DIR } from './netns.js';

export interface ChecksumSelfTestOptions {
  /** VXLAN UDP port (the cluster's). */
  port: number;
  /** Leave transmit offload on on the veth (a lower device that never fills checksums in). */
  lowerOffload?: boolean;
  /** Turn transmit checksum offload off on the test's VXLAN device (the remedy under test). */
  vxlanTxOff?: boolean;
  /** The ethtool binary; default: found on PATH. */
  ethtool?: string;
  /** Bound on the whole exchange. Default 5 s. */
  timeoutMs?: number;
}

export interface ProtocolResult {
  /** Inner packets of that protocol B received. */
  seen: number;
  /** Of those, how many had a wrong IPv4 header or transport checksum. */
  bad: number;
}

export interface ChecksumSelfTestRun {
  /** ok: every inner packet arrived with good checksums; corrupted: some did not; error: the test
   *  could not run to the end (reason says why); skipped: a tool it needs is missing. */
  verdict: 'ok' | 'corrupted' | 'error' | 'skipped';
  udp: ProtocolResult;
  tcp: ProtocolResult;
  reason?: string;
  durationMs: number;
}

/** Prefix of the throw-away namespaces; the pid after it lets a later weftd sweep a crash's leftovers. */
export const SELFTEST_NETNS_PREFIX = 'wfck-';
const UNDERLAY_A = '198.18.255.1';
const UNDERLAY_B = '198.18.255.2';
const INNER_A = '10.254.254.1';
const INNER_B = '10.254.254.2';
const INNER_B_MAC = '02:00:0a:fe:fe:02';
const TEST_VNI = 4242;
const INNER_PORT = 9;
const REPLY_PORT = 47999;

function findOnPath(name: string, envPath = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'): string | undefined {
  for (const dir of ['/usr/sbin', '/sbin', ...envPath.split(':')]) {
    if (!dir.startsWith('/')) continue;
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function findEthtool(): string | undefined {
  return findOnPath('ethtool');
}

// B: print every datagram on the VXLAN port as hex, one per line, until one inner UDP and one
// inner TCP packet (IPv4 protocol byte at 8 + 14 + 9) arrived; then tell A to stop. Exit 1 at the
// deadline. A constant program, never built from input.
const RECEIVER = `
const dgram = require('node:dgram');
const [port, peer, replyPort, ms] = process.argv.slice(1).map((v, i) => (i === 1 ? v : Number(v)));
const s = dgram.createSocket('udp4');
const seen = new Set();
const t = setTimeout(() => process.exit(1), ms);
s.on('message', (m) => {
  process.stdout.write(m.toString('hex') + '\\n');
  if (m.length > 31) seen.add(m[31]);
  if (seen.has(17) && seen.has(6)) {
    clearTimeout(t);
    s.send('done', replyPort, peer, () => { s.close(); process.exit(0); });
  }
});
s.bind(port, '0.0.0.0', () => process.stdout.write('ready\\n'));
`;

// A: every 100 ms a UDP datagram (1200 bytes of varied payload) and a TCP connection attempt (a
// SYN) to B's inner address, until B says "done" or the deadline.
const SENDER = `
const dgram = require('node:dgram');
const net = require('node:net');
const [dst, port, self, replyPort, ms] = process.argv.slice(1).map((v, i) => (i === 0 || i === 2 ? v : Number(v)));
const payload = Buffer.alloc(1200, 0);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 131 + 7) & 0xff;
const u = dgram.createSocket('udp4');
const r = dgram.createSocket('udp4');
const socks = [];
const end = (code) => { for (const c of socks) c.destroy(); process.exit(code); };
r.on('message', () => end(0));
r.bind(replyPort, self, () => {
  const tick = setInterval(() => {
    u.send(payload, port, dst);
    const c = net.connect({ host: dst, port });
    c.on('error', () => {});
    socks.push(c);
  }, 100);
  setTimeout(() => { clearInterval(tick); end(1); }, ms);
});
`;

function tally(checks: InnerPacketCheck[], protocol: 'udp' | 'tcp'): ProtocolResult {
  const mine = checks.filter((c) => c.protocol === protocol && c.dst === INNER_B && c.dstPort === INNER_PORT);
  return { seen: mine.length, bad: mine.filter((c) => !c.ipHeaderOk || !c.l4Ok).length };
}

/** The verdict from what B printed (hex lines); pure, for the unit tests. */
export function judgeCapture(stdout: string): Pick<ChecksumSelfTestRun, 'verdict' | 'udp' | 'tcp' | 'reason'> {
  const checks: InnerPacketCheck[] = [];
  for (const line of stdout.split('\n')) {
    if (!/^[0-9a-f]+$/.test(line) || line.length % 2 !== 0) continue;
    const c = checkVxlanPayload(Buffer.from(line, 'hex'));
    if (c) checks.push(c);
  }
  const udp = tally(checks, 'udp');
  const tcp = tally(checks, 'tcp');
  if (udp.seen === 0 || tcp.seen === 0) {
    return { verdict: 'error', udp, tcp, reason: `the receiver saw ${udp.seen} UDP and ${tcp.seen} TCP packets through the test VXLAN device (expected at least one of each)` };
  }
  if (udp.bad > 0 || tcp.bad > 0) {
    return { verdict: 'corrupted', udp, tcp, reason: `${udp.bad} of ${udp.seen} UDP and ${tcp.bad} of ${tcp.seen} TCP packets left the VXLAN device with a wrong checksum` };
  }
  return { verdict: 'ok', udp, tcp };
}

/** Deletes self-test namespaces left by a weftd that died mid-test (its pid is in the name). */
export async function sweepSelfTestLeftovers(runner: CommandRunner): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = new RegExp(`^${SELFTEST_NETNS_PREFIX}(\\d+)-[0-9a-f]+-[ab]$`).exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (alive) continue;
    await runner.run(['ip', 'netns', 'del', n], { check: false });
    removed.push(n);
  }
  return removed;
}

/** Runs the test once. Never throws: a test that cannot run says so in its verdict. */
export async function runChecksumSelfTest(runner: CommandRunner, opts: ChecksumSelfTestOptions): Promise<ChecksumSelfTestRun> {
  const t0 = performance.now();
  const none = { seen: 0, bad: 0 };
  const done = (r: Omit<ChecksumSelfTestRun, 'durationMs'>): ChecksumSelfTestRun => ({ ...r, durationMs: Math.round(performance.now() - t0) });
  const ethtool = opts.ethtool ?? findEthtool();
  if (!ethtool) return done({ verdict: 'skipped', udp: none, tcp: none, reason: 'ethtool is not installed (Debian package ethtool)' });
  const timeoutMs = opts.timeoutMs ?? 5000;
  const tag = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const a = `${SELFTEST_NETNS_PREFIX}${tag}-a`;
  const b = `${SELFTEST_NETNS_PREFIX}${tag}-b`;
  const made: string[] = [];
  const ipA = (args: string[]) => runner.run(['ip', '-n', a, ...args]);
  const ipB = (args: string[]) => runner.run(['ip', '-n', b, ...args]);
  try {
    for (const ns of [a, b]) {
      await runner.run(['ip', 'netns', 'add', ns]);
      made.push(ns);
    }
    await ipA(['link', 'set', 'lo', 'up']);
    await ipB(['link', 'set', 'lo', 'up']);
    await ipA(['link', 'add', 'wfckv0', 'type', 'veth', 'peer', 'name', 'wfckv1', 'netns', b]);
    await ipA(['addr', 'add', `${UNDERLAY_A}/30`, 'dev', 'wfckv0']);
    await ipB(['addr', 'add', `${UNDERLAY_B}/30`, 'dev', 'wfckv1']);
    await ipA(['link', 'set', 'wfckv0', 'up']);
    await ipB(['link', 'set', 'wfckv1', 'up']);
    // The VXLAN device as drivers/overlay makes its own (src/sys/vxlan.ts, ensureVxlan).
    await ipA([
      'link', 'add', 'wfckx0', 'type', 'vxlan', 'id', String(TEST_VNI), 'dstport', String(opts.port),
      'local', UNDERLAY_A, 'nolearning', 'proxy', 'ttl', '64',
    ]);
    await ipA(['link', 'set', 'wfckx0', 'addrgenmode', 'none', 'up']);
    await ipA(['addr', 'add', `${INNER_A}/24`, 'dev', 'wfckx0']);
    await runner.run(['bridge', '-n', a, 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'wfckx0', 'dst', UNDERLAY_B, 'self', 'permanent']);
    await ipA(['neigh', 'replace', INNER_B, 'lladdr', INNER_B_MAC, 'dev', 'wfckx0', 'nud', 'permanent']);
    if (!opts.lowerOffload) await runner.run(['ip', 'netns', 'exec', a, ethtool, '-K', 'wfckv0', 'tx', 'off']);
    if (opts.vxlanTxOff) await runner.run(['ip', 'netns', 'exec', a, ethtool, '-K', 'wfckx0', 'tx', 'off']);

    const node = process.execPath;
    const receiver = runner.run(['ip', 'netns', 'exec', b, node, '-e', RECEIVER, String(opts.port), UNDERLAY_A, String(REPLY_PORT), String(timeoutMs)], {
      check: false,
      timeoutMs: timeoutMs + 3000,
    });
    const sender = runner.run(['ip', 'netns', 'exec', a, node, '-e', SENDER, INNER_B, String(INNER_PORT), UNDERLAY_A, String(REPLY_PORT), String(timeoutMs)], {
      check: false,
      timeoutMs: timeoutMs + 3000,
    });
    const [rx] = await Promise.all([receiver, sender]);
    const judged = judgeCapture(rx.stdout);
    if (judged.verdict === 'error' && rx.stderr.trim()) judged.reason = `${judged.reason}: ${rx.stderr.trim().slice(0, 300)}`;
    return done(judged);
  } catch (e) {
    return done({ verdict: 'error', udp: none, tcp: none, reason: (e as Error).message });
  } finally {
    for (const ns of made) await runner.run(['ip', 'netns', 'del', ns], { check: false }).catch(() => undefined);
  }
}

/** `ethtool -K DEV tx off` in this namespace: the VXLAN device finishes checksums itself. */
export async function disableTxChecksum(runner: CommandRunner, dev: string, ethtool: string): Promise<void> {
  await runner.run([ethtool, '-K', dev, 'tx', 'off']);
}

/** Is transmit checksumming on for DEV (`ethtool -k`: "tx-checksumming: on")? */
export async function txChecksumOn(runner: CommandRunner, dev: string, ethtool: string): Promise<boolean> {
  const r = await runner.run([ethtool, '-k', dev]);
  return /^tx-checksumming:\s+on/m.test(r.stdout);
}
