// The parts of one attach, timed one by one in this run (issue 8: "print the time per step so the
// gap is visible"): a durable commit of the embedded store, the veth pair created with its peer
// inside a container namespace (netlink), and the container side configured over netlink from a
// socket opened inside it (name, MAC, address, up, default route). weftd's connect is about two
// commits + one veth + one configuration + the HTTP round trip.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { summary } from './stats.mjs';
import { createNamespaces, deleteNamespaces, nsName, timeMs } from './env.mjs';
import { ROOT } from './weftd.mjs';

export async function benchSteps(n, { raw = false } = {}) {
  const { openLocalStore } = await import(`${ROOT}/dist/src/store/local-store.js`);
  const { NetlinkLinkOps } = await import(`${ROOT}/dist/src/sys/netlink/netlink-link-ops.js`);
  const { createNetlinkSandbox } = await import(`${ROOT}/dist/src/sys/netlink/netlink-sandbox.js`);
  const inNs = createNetlinkSandbox();
  const host = nsName('s');
  const names = Array.from({ length: n }, (_, i) => nsName('t', i));
  // The host side runs in a namespace of its own, like the bench's weftd: netlink is used from a
  // socket opened there (the same native call), so nothing touches the machine's own namespace.
  await createNamespaces([host, ...names]);
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-steps-'));
  const store = await openLocalStore({ path: dir });
  const out = { commit: [], veth: [], configure: [] };
  let ops;
  try {
    if (!inNs.sandbox) throw new Error(`no netlink sandbox path: ${inNs.reason}`);
    const { loadNetlink } = await import(`${ROOT}/dist/src/sys/netlink/netlink-link-ops.js`);
    const { loadNetnsNative, openRtNetlinkIn } = await import(`${ROOT}/dist/src/sys/netlink/netns-socket.js`);
    const nl = loadNetlink();
    const hostRef = { name: host, path: `/var/run/netns/${host}` };
    // NetlinkLinkOps takes the module it uses: hand it one whose sockets are born in `host`.
    const native = loadNetnsNative();
    ops = new NetlinkLinkOps({ ...nl, createRtNetlink: () => openRtNetlinkIn(nl, native, hostRef) });
    await ops.ensureBridge('wfbench0', {});
    await ops.ensureAddress('wfbench0', '10.98.0.1/16');
    for (let i = 0; i < n; i++) {
      out.commit.push((await timeMs(() => store.put(`bench/${i}`, { i, sandbox: names[i], pad: 'x'.repeat(300) }))).ms);
      const ref = { name: names[i], path: `/var/run/netns/${names[i]}` };
      out.veth.push((await timeMs(() => ops.ensureVeth(`wfbh${i}`, `wfbc${i}`, { master: 'wfbench0', alias: 'weft:bench', peerMac: '02:00:0a:62:00:02', hairpin: false, peerNetns: ref }))).ms);
      const req = { srcName: `wfbc${i}`, sandbox: ref, dstPrefix: 'eth', mac: '02:00:0a:62:00:02', addressV4: `10.98.${(i + 2) >> 8}.${(i + 2) & 255}/16`, gatewayV4: '10.98.0.1', staticRoutes: [], internal: false, linkInSandbox: true, announce: false };
      out.configure.push((await timeMs(() => inNs.sandbox.attach(req))).ms);
    }
  } finally {
    ops?.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    await deleteNamespaces([host, ...names]);
  }
  return { n, commit: summary(out.commit), veth: summary(out.veth), configure: summary(out.configure), ...(raw ? { raw: out } : {}) };
}
