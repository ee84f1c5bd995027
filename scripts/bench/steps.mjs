// The parts of one attach, timed one by one in this run (issue 8: "print the time per step so the
// gap is visible"): a durable commit of the embedded store, the veth pair created with its peer
// inside a container namespace (netlink), and the container side configured over netlink from a
// socket that weft's netns relay opened inside it (name, MAC, address, up, default route).
// weftd's connect is about two commits + one veth + one configuration + the HTTP round trip.
//
// The timed part runs in a child process inside a namespace of its own (`ip netns exec HOST node
// steps.mjs --child ...`), like the bench's weftd: the host side uses netlink on the child's own
// namespace, so nothing touches the machine's, and the relay is started by that child as weftd
// starts it.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { summary } from './stats.mjs';
import { createNamespaces, deleteNamespaces, nsName, run, timeMs } from './env.mjs';
import { ROOT } from './weftd.mjs';

export async function benchSteps(n, { raw = false } = {}) {
  const host = nsName('s');
  const names = Array.from({ length: n }, (_, i) => nsName('t', i));
  await createNamespaces([host, ...names]);
  try {
    const r = await run(['ip', 'netns', 'exec', host, process.execPath, fileURLToPath(import.meta.url), '--child', JSON.stringify(names)], { timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`attach steps failed: ${r.stderr.trim()}`);
    const out = JSON.parse(r.stdout);
    return { n, commit: summary(out.commit), veth: summary(out.veth), configure: summary(out.configure), ...(raw ? { raw: out } : {}) };
  } finally {
    await deleteNamespaces([host, ...names]);
  }
}

/** In the child, inside the host namespace: times each step for each sandbox in `names`. */
async function child(names) {
  const { openLocalStore } = await import(`${ROOT}/dist/src/store/local-store.js`);
  const { NetlinkLinkOps } = await import(`${ROOT}/dist/src/sys/netlink/netlink-link-ops.js`);
  const { createNetlinkSandbox } = await import(`${ROOT}/dist/src/sys/netlink/netlink-sandbox.js`);
  const { findNetnsRelay, NetnsRelay } = await import(`${ROOT}/dist/src/sys/netlink/netns-relay.js`);
  const found = findNetnsRelay();
  if (!found.file) throw new Error(`no netlink sandbox path: ${found.reason}`);
  const relay = new NetnsRelay(found.file);
  const inNs = createNetlinkSandbox(relay);
  if (!inNs.sandbox) throw new Error(`no netlink sandbox path: ${inNs.reason}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-steps-'));
  const store = await openLocalStore({ path: dir });
  const out = { commit: [], veth: [], configure: [] };
  const ops = new NetlinkLinkOps();
  try {
    await ops.ensureBridge('wfbench0', {});
    await ops.ensureAddress('wfbench0', '10.98.0.1/16');
    for (let i = 0; i < names.length; i++) {
      out.commit.push((await timeMs(() => store.put(`bench/${i}`, { i, sandbox: names[i], pad: 'x'.repeat(300) }))).ms);
      const ref = { name: names[i], path: `/var/run/netns/${names[i]}` };
      out.veth.push((await timeMs(() => ops.ensureVeth(`wfbh${i}`, `wfbc${i}`, { master: 'wfbench0', alias: 'weft:bench', peerMac: '02:00:0a:62:00:02', hairpin: false, peerNetns: ref }))).ms);
      const req = { srcName: `wfbc${i}`, sandbox: ref, dstPrefix: 'eth', mac: '02:00:0a:62:00:02', addressV4: `10.98.${(i + 2) >> 8}.${(i + 2) & 255}/16`, gatewayV4: '10.98.0.1', staticRoutes: [], internal: false, linkInSandbox: true, announce: false };
      out.configure.push((await timeMs(() => inNs.sandbox.attach(req))).ms);
    }
  } finally {
    ops.close();
    relay.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out));
}

if (process.argv[2] === '--child' && import.meta.url === pathToFileURL(process.argv[1]).href) {
  child(JSON.parse(process.argv[3])).catch((e) => {
    process.stderr.write(`${e.stack ?? e}\n`);
    process.exit(1);
  });
}
