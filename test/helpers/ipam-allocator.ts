// Child process for the IPAM group-commit tests (test/unit/ipam/ipam-group-commit.test.ts and
// test/e2e/ipam-etcd-hosts.test.ts): one "host" taking addresses from one pool with the real
// IpamService (the code weftd runs), as its own process. Run as
//
//   node --import ./test/helpers/ts-register.mjs test/helpers/ipam-allocator.ts \
//     (--local STORE_DIR | --etcd HOST:PORT --prefix PREFIX) --pool CIDR [--space local|global]
//     [--host ID] [--count N] [--clients C] [--create] [--start EPOCH_MS]
//
// With --create it creates the pool and prints `pool <poolId>`. Otherwise it prints `ready`, then
// C concurrent callers take N addresses in all, printing one line per answer only after the
// answer came (so an `ack` line means the allocation was acknowledged, i.e. durable):
//
//   ack <cidr> <owner>
//   err <code>
//   done
//
// stdout is a pipe and Node writes to pipes synchronously on Linux, so a printed line is in the
// pipe before the next allocation is answered; a test may SIGKILL this process at any moment.

import { parseArgs } from 'node:util';
import { IpamService } from '../../src/ipam/ipam-service.js';
import { isWeftError } from '../../src/model/errors.js';
import { openLocalStore } from '../../src/store/local-store.js';
import type { Store } from '../../src/store/store.js';

const { values: a } = parseArgs({
  options: {
    local: { type: 'string' },
    etcd: { type: 'string' },
    prefix: { type: 'string', default: '/weft-test' },
    host: { type: 'string', default: 'local' },
    pool: { type: 'string' },
    space: { type: 'string', default: 'local' },
    count: { type: 'string', default: '100' },
    clients: { type: 'string', default: '8' },
    create: { type: 'boolean', default: false },
    start: { type: 'string' },
  },
});

// Never outlive a test that forgot us.
setTimeout(() => process.exit(3), 120_000).unref();
process.stdout.on('error', () => process.exit(4));

let store: Store;
if (a.local) store = await openLocalStore({ path: a.local });
else if (a.etcd) store = await (await import('../../src/store/etcd-store.js')).openEtcdStore({ endpoints: [a.etcd], prefix: a.prefix! });
else throw new Error('give --local DIR or --etcd HOST:PORT');

const ipam = new IpamService(store, async () => [], { hostId: a.host });
try {
  if (a.create) {
    const p = await ipam.requestPool({ addressSpace: a.space!, pool: a.pool, v6: false, network: 'test' });
    process.stdout.write(`pool ${p.poolId}\n`);
  } else {
    const poolId = (await ipam.listPools()).find((p) => p.pool === a.pool)?.poolId;
    if (!poolId) throw new Error(`no pool ${a.pool}`);
    process.stdout.write('ready\n');
    // Several processes start together at a wall-clock instant, not each as soon as it is up.
    if (a.start) await new Promise((r) => setTimeout(r, Math.max(0, Number(a.start) - Date.now())));
    const total = Number(a.count);
    let next = 0;
    await Promise.all(
      Array.from({ length: Number(a.clients) }, async () => {
        while (next < total) {
          const owner = `${a.host}-${next++}`;
          try {
            const got = await ipam.requestAddress({ poolId, kind: 'endpoint', owner });
            process.stdout.write(`ack ${got.address} ${owner}\n`);
          } catch (e) {
            process.stdout.write(`err ${isWeftError(e) ? e.code : String(e)}\n`);
          }
        }
      }),
    );
    process.stdout.write('done\n');
  }
} finally {
  await store.close();
}
