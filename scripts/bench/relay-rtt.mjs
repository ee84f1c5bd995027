// One netlink request (RTM_GETLINK of lo) through the netns relay vs on an rtnetlink socket of the
// process's own namespace, N times each, 3 rounds; and the cost of a relay session (open + close).
// `npm run build && node scripts/bench/relay-rtt.mjs [N]` (root; makes and removes one namespace).

import { readFileSync } from 'node:fs';
import { createNamespaces, cleanupAll, nsName } from './env.mjs';
import { ROOT } from './weftd.mjs';

const n = Number(process.argv[2] ?? 2000);
const { NetnsRelay, findNetnsRelay } = await import(`${ROOT}/dist/src/sys/netlink/netns-relay.js`);
const { loadNetlink } = await import(`${ROOT}/dist/src/sys/netlink/netlink-link-ops.js`);
const found = findNetnsRelay();
if (!found.file) throw new Error(found.reason);
const ns = nsName('r');
const ref = { name: ns, path: `/var/run/netns/${ns}` };
await createNamespaces([ns]);
const relay = new NetnsRelay(found.file);
const own = loadNetlink().createRtNetlink();
const viaRelay = await relay.open(ref);

async function time(sock) {
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await sock.getLink({ index: 1 }, {});
    t.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  t.sort((a, b) => a - b);
  return `median ${t[n >> 1].toFixed(1)} us, p99 ${t[Math.floor(n * 0.99)].toFixed(1)} us`;
}

try {
  for (let r = 1; r <= 3; r++) console.log(`round ${r}: own namespace ${await time(own)}; through the relay ${await time(viaRelay)}`);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 200; i++) (await relay.open(ref)).socket.close();
  console.log(`relay session open + close: mean ${(Number(process.hrtime.bigint() - t0) / 1000 / 200).toFixed(1)} us`);
  console.log(`relay ${readFileSync(`/proc/${relay.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS'))}`);
} finally {
  viaRelay.socket.close();
  own.socket.close();
  relay.close();
  await cleanupAll();
}
