// `lab up`: cleans up a previous lab of the same name, then builds the switch, etcd and hosts,
// recording every piece in the state file as soon as it exists.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { busyboxTarball, IMAGE } from './busybox.mjs';
import { ETCD_BIN, startMember, waitHealthy } from './etcd.mjs';
import { docker, startAnchor, startDockerd, startWeftd } from './host.mjs';
import { SWITCH_BRIDGE, UNDERLAY_PREFIX, UPLINK, etcdStoreUrl, planLab } from './layout.mjs';
import { createNetns, ipIn, plugIntoSwitch } from './netns.mjs';
import { say, step } from './progress.mjs';
import { lock, writeState } from './state.mjs';
import { leftovers, teardown } from './teardown.mjs';
import { printStatus } from './cmd-status.mjs';
import { SYSTEM_PATH } from './proc.mjs';

export async function up(ctx, opts) {
  const state = planLab({ ...opts, name: ctx.name, dir: ctx.dir, repo: ctx.repo, node: process.execPath });
  checkPrerequisites(state);
  const o = state.options;
  say(`lab ${state.name}: up: ${o.hosts} host(s), ${o.etcd ? `etcd ${o.etcd} member(s)` : 'no etcd'}, store ${o.store}` +
    `${o.docker ? ', docker' : ''}, mtu ${o.mtu}, dir ${state.dir}`);
  const t0 = Date.now();
  const release = lock(state.dir);
  try {
    const old = leftovers(state.name, state.dir);
    if (old.length > 0) await step(`clean up the previous lab (${old.length} leftover(s))`, () => teardown(state.name, state.dir));
    await build(state);
  } catch (e) {
    say(`lab up failed; what was made is left for inspection (logs under ${state.dir}); \`lab down\` removes it`);
    throw e;
  } finally {
    release();
  }
  say(`lab ${state.name}: ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await printStatus(state, { json: false });
}

async function build(state) {
  const o = state.options;
  writeState(state);
  await step('wrappers bin/weft, bin/weftd', async () => writeWrappers(state));

  const sw = state.switch.netns;
  await step(`switch ${sw}: bridge ${SWITCH_BRIDGE}, mtu ${o.mtu}, no uplink`, async () => {
    await createNetns(sw);
    await ipIn(sw, ['link', 'add', SWITCH_BRIDGE, 'mtu', String(o.mtu), 'type', 'bridge']);
    await ipIn(sw, ['link', 'set', SWITCH_BRIDGE, 'up']);
  });

  const plug = (node) =>
    plugIntoSwitch({
      switchNs: sw,
      bridge: SWITCH_BRIDGE,
      portIf: node.name,
      nodeNs: node.netns,
      nodeIf: UPLINK,
      cidr: `${node.addr}/${UNDERLAY_PREFIX}`,
      mtu: o.mtu,
    });

  if (state.etcd.length > 0) {
    await allOrFirstError(
      state.etcd.map((m) =>
        step(`etcd ${m.name}: netns ${m.netns}, ${m.addr}`, async () => {
          await createNetns(m.netns);
          await plug(m);
          m.etcd = await startMember(state, m);
          writeState(state);
        }),
      ),
    );
    await step(`etcd healthy (${etcdStoreUrl(state.etcd)})`, () => Promise.all(state.etcd.map((m) => waitHealthy(state, m))));
  }

  const tarball = o.docker ? busyboxTarball(state.dir) : undefined;
  tarball?.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile

  await allOrFirstError(
    state.hosts.map(async (h) => {
      await step(`${h.name}: netns ${h.netns}, ${h.addr}, own mount+uts namespace`, async () => {
        await createNetns(h.netns);
        await plug(h);
        h.anchor = await startAnchor(h);
        writeState(state);
      });
      await step(`${h.name}: weftd (store ${o.store})`, async () => {
        h.weftd = await startWeftd(state, h);
        writeState(state);
      });
      if (h.docker) {
        await step(`${h.name}: dockerd`, async () => {
          h.dockerd = await startDockerd(h);
          writeState(state);
        });
        await step(`${h.name}: image ${IMAGE} (docker import of busybox-static)`, async () => {
          const r = await docker(state, h, ['import', '--change', 'CMD ["sh"]', '-', IMAGE], { input: await tarball, timeoutMs: 120_000 });
          if (r.code !== 0) throw new Error(`docker import on ${h.name}: ${r.stderr.trim()}`);
        });
      }
    }),
  );
}

/** Waits for every task (so that no progress line comes after the error), then throws the failures. */
async function allOrFirstError(tasks) {
  const results = await Promise.allSettled(tasks);
  const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
  if (failed.length === 1) throw failed[0];
  if (failed.length > 1) throw new Error(failed.map((e) => (e instanceof Error ? e.message : String(e))).join('\n'));
}

/** bin/weft and bin/weftd: the built CLI and daemon of this repo, first on PATH in `lab exec`. */
function writeWrappers(state) {
  const bin = path.join(state.dir, 'bin');
  mkdirSync(bin, { recursive: true });
  mkdirSync(path.join(state.dir, 'docker-cli'), { recursive: true });
  for (const [name, js] of [['weft', 'dist/src/cli/main.js'], ['weftd', 'dist/src/daemon/main.js']]) {
    const body = `#!/bin/sh\n# made by scripts/lab: the ${name} of ${state.repo}\nexec ${shQuote(state.node)} ${shQuote(path.join(state.repo, js))} "$@"\n`;
    writeFileSync(path.join(bin, name), body, { mode: 0o755 });
  }
}

/** Single-quoted for sh; the values are paths of this machine's node and repo, quoted anyway. */
function shQuote(s) {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function checkPrerequisites(state) {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (network, mount and UTS namespaces)');
  const dirs = SYSTEM_PATH.split(':');
  const tools = ['ip', 'nsenter', 'unshare', 'mount', 'tar'];
  if (state.options.docker) tools.push('dockerd', 'containerd', 'containerd-shim-runc-v2', 'runc', 'iptables', 'docker');
  const missing = tools.filter((t) => !dirs.some((d) => existsSync(path.join(d, t))));
  if (state.etcd.length > 0 && !existsSync(ETCD_BIN)) missing.push(`${ETCD_BIN} (package etcd-server)`);
  if (state.options.docker && !existsSync('/bin/busybox')) missing.push('/bin/busybox (package busybox-static)');
  if (missing.length > 0) throw new Error(`missing for the lab: ${missing.join(', ')} (scripts/install-test-deps.sh installs them)`);
  for (const js of ['dist/src/daemon/main.js', 'dist/src/cli/main.js']) {
    if (!existsSync(path.join(state.repo, js))) throw new Error(`${path.join(state.repo, js)} is missing: run \`npm run build\` first`);
  }
}
