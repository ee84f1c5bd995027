// One IPAM client for the IPAM benchmark (ipam.mjs): opens the store (embedded at --local DIR, or
// etcd at --etcd HOST:PORT), and takes addresses from one pool with `--clients` concurrent callers
// until `--count` allocations are done. Every allocation is durable when it returns (an fdatasync
// on the embedded store, a quorum write on etcd). Prints one JSON line: {count, ms, errors}.
// Run as its own process so that five "hosts" on etcd are five event loops, as in a cluster.
// `--commit-probe N` instead times N sequential durable one-key transactions on the store (what
// one allocation, or one group of allocations, waits for at least) and prints {n, meanMs,
// medianMs, p90Ms}.

import { parseArgs } from 'node:util';
import { ROOT } from './weftd.mjs';

const { values: a } = parseArgs({
  options: {
    local: { type: 'string' },
    etcd: { type: 'string' },
    host: { type: 'string', default: 'bench' },
    pool: { type: 'string' },
    space: { type: 'string', default: 'local' },
    create: { type: 'boolean', default: false },
    count: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '1' },
    start: { type: 'string' },
    'commit-probe': { type: 'string' },
  },
});

const { IpamService } = await import(`${ROOT}/dist/src/ipam/ipam-service.js`);
const store = a.local
  ? await (await import(`${ROOT}/dist/src/store/local-store.js`)).openLocalStore({ path: a.local })
  : await (await import(`${ROOT}/dist/src/store/etcd-store.js`)).openEtcdStore({ endpoints: [a.etcd], prefix: '/weft-bench' });
const ipam = new IpamService(store, async () => [], { hostId: a.host });
try {
  if (a['commit-probe']) {
    const n = Number(a['commit-probe']);
    const ms = [];
    // A value the size of a full 64-address block record, as an allocation commits.
    const held = Object.fromEntries(Array.from({ length: 64 }, (_, j) => [`10.250.0.${j}`, { kind: 'endpoint', owner: `probe-${j}`, at: new Date().toISOString() }]));
    for (let i = 0; i < n; i++) {
      const t = process.hrtime.bigint();
      await store.txn({ compares: [], success: [{ type: 'put', key: `bench/probe/${i % 16}`, value: { held, i } }] });
      ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const meanMs = ms.reduce((x, y) => x + y, 0) / n;
    ms.sort((x, y) => x - y);
    process.stdout.write(`${JSON.stringify({ n, meanMs, medianMs: ms[Math.floor(n / 2)], p90Ms: ms[Math.floor(n * 0.9)] })}\n`);
  } else if (a.create) {
    const p = await ipam.requestPool({ addressSpace: a.space, pool: a.pool, v6: false, network: 'bench' });
    process.stdout.write(`${JSON.stringify({ poolId: p.poolId })}\n`);
  } else {
    const poolId = (await ipam.listPools()).find((p) => p.pool === a.pool)?.poolId;
    if (!poolId) throw new Error(`no pool ${a.pool}`);
    // All hosts start together (a wall-clock instant given by the bench), not as each one is ready.
    if (a.start) await new Promise((r) => setTimeout(r, Math.max(0, Number(a.start) - Date.now())));
    const total = Number(a.count);
    let next = 0;
    let errors = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: Number(a.clients) }, async () => {
        while (next < total) {
          const i = next++;
          try {
            await ipam.requestAddress({ poolId, kind: 'endpoint', owner: `${a.host}-${i}` });
          } catch {
            errors++;
          }
        }
      }),
    );
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    process.stdout.write(`${JSON.stringify({ count: total - errors, errors, ms })}\n`);
  }
} finally {
  await store.close();
}
