// IPAM durable allocations per second (issue 8 targets: >= 5,000/s on the embedded store, >= 1,000/s
// aggregate from 5 hosts on etcd). Each side runs in processes of its own (ipam-worker.mjs), the
// clock starts after the store is open and the pool exists, and every allocation is durable when
// it returns. etcd is a real etcd, started here in a network namespace of the bench's own and
// reached on that namespace's loopback; the five "hosts" are five processes in that namespace,
// each an IpamService with its own host id (block affinity: each claims its own blocks).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, spawnDaemon } from '../lab-lib/proc.mjs';
import { createNamespaces, nsName, onCleanup, run, say, sleep, stopProcess } from './env.mjs';

const WORKER = fileURLToPath(new URL('./ipam-worker.mjs', import.meta.url));

async function worker(args, { netns } = {}) {
  const argv = [...(netns ? ['ip', 'netns', 'exec', netns] : []), process.execPath, WORKER, ...args];
  const r = await run(argv, { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`ipam worker ${args.join(' ')} failed: ${r.stderr.trim().slice(-500)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function tempDir(tag) {
  const dir = mkdtempSync(path.join(tmpdir(), `weft-bench-${tag}-`));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Embedded store: one client, then 8 concurrent clients, on one /16; and what one durable commit
 *  costs on the same disk, which bounds both (group commit: N callers share one commit, so N
 *  callers get at most N / commit latency allocations per second). */
async function embedded(count) {
  const out = {};
  for (const clients of [1, 8]) {
    const dir = tempDir('ipam');
    const pool = '10.200.0.0/16';
    await worker(['--local', dir, '--pool', pool, '--create']);
    // Right before the run, on the same disk: the flush latency varies by the minute on a shared machine.
    const commit = await worker(['--local', tempDir('ipam-probe'), '--commit-probe', '300']);
    say(`ipam: ${count} allocations on the embedded store, ${clients} client(s)`);
    const r = await worker(['--local', dir, '--pool', pool, '--count', String(count), '--clients', String(clients)]);
    out[`clients${clients}`] = { ...r, perSecond: r.count / (r.ms / 1000), commit };
  }
  return out;
}

/** etcd: five host processes allocate from one global pool at once. */
async function etcd({ perHost, hosts = 5, clientsPerHost = 4 }) {
  const ns = nsName('e');
  await createNamespaces([ns], { withLoopback: true });
  const dir = tempDir('etcd');
  const ident = await spawnDaemon(
    ['ip', 'netns', 'exec', ns, '/usr/bin/etcd', '--name', 'bench', '--data-dir', path.join(dir, 'data'),
      '--listen-client-urls', 'http://127.0.0.1:2379', '--advertise-client-urls', 'http://127.0.0.1:2379',
      '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
      '--initial-cluster', 'bench=http://127.0.0.1:2380', '--logger', 'zap', '--log-outputs', 'stderr'],
    { logFile: path.join(dir, 'etcd.log') },
  );
  onCleanup(() => stopProcess(ident.pid));
  const pool = '10.201.0.0/16';
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await worker(['--etcd', '127.0.0.1:2379', '--pool', pool, '--space', 'global', '--create'], { netns: ns });
      break;
    } catch (e) {
      if (!isAlive(ident.pid)) throw new Error(`etcd exited during start-up (log ${path.join(dir, 'etcd.log')})`);
      if (Date.now() > deadline) throw e;
      await sleep(300);
    }
  }
  // What one durable etcd transaction costs from one client here (a quorum write: WAL fsync).
  const commit = await worker(['--etcd', '127.0.0.1:2379', '--commit-probe', '200'], { netns: ns });
  say(`ipam: ${hosts} hosts x ${perHost} allocations on etcd (${clientsPerHost} clients each)`);
  const start = Date.now() + 3_000;
  const rs = await Promise.all(
    Array.from({ length: hosts }, (_, i) =>
      worker(['--etcd', '127.0.0.1:2379', '--pool', pool, '--space', 'global', '--host', `h${i + 1}`, '--count', String(perHost), '--clients', String(clientsPerHost), '--start', String(start)], { netns: ns }),
    ),
  );
  const total = rs.reduce((a, r) => a + r.count, 0);
  const ms = Math.max(...rs.map((r) => r.ms));
  return { commit, hosts, perHost, clientsPerHost, total, errors: rs.reduce((a, r) => a + r.errors, 0), ms, perSecond: total / (ms / 1000), perHostResults: rs };
}

export async function benchIpam({ ipamCount, etcdPerHost }) {
  return { embedded: await embedded(ipamCount), etcd: await etcd({ perHost: etcdPerHost }) };
}
