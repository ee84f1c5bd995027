// Failure-test commands on one node: `lab stop NODE [--kill] [--only weftd|dockerd]`,
// `lab start NODE`, `lab link NODE up|down` (cut or restore its underlay cable at the switch),
// and `lab logs NODE [DAEMON]`.

import { existsSync, readFileSync } from 'node:fs';
import { memberHealth, startMember, stopMember } from './etcd.mjs';
import { startDockerd, startWeftd, stopHostDaemons } from './host.mjs';
import { UsageError, findNode } from './layout.mjs';
import { ipIn } from './netns.mjs';
import { say, step } from './progress.mjs';
import { isSameAlive, sleep } from './proc.mjs';
import { lock, requireState, writeState } from './state.mjs';

function nodeOf(state, name, kinds) {
  const node = findNode(state, name);
  if (!node || !kinds.includes(node.kind)) {
    const names = [...state.etcd, ...state.hosts].filter((n) => kinds.includes(n.kind)).map((n) => n.name);
    throw new UsageError(`no ${kinds.join(' or ')} node ${JSON.stringify(name)} in lab ${state.name} (${names.join(', ')})`);
  }
  return node;
}

/** Runs fn on the state under the lab lock and saves the state afterwards, whatever happened. */
async function mutate(ctx, fn) {
  const release = lock(ctx.dir);
  try {
    const state = requireState(ctx.dir, ctx.name);
    try {
      return await fn(state);
    } finally {
      writeState(state);
    }
  } finally {
    release();
  }
}

export function stop(ctx, nodeName, { kill, only }) {
  if (only !== undefined && only !== 'weftd' && only !== 'dockerd') throw new UsageError(`bad --only ${JSON.stringify(only)}: weftd or dockerd`);
  return mutate(ctx, async (state) => {
    const node = nodeOf(state, nodeName, ['host', 'etcd']);
    const how = kill ? 'SIGKILL' : 'SIGTERM';
    if (node.kind === 'etcd') {
      if (only) throw new UsageError('--only is for hosts');
      await step(`${node.name}: etcd stopped (${how})`, () => stopMember(node, { kill }));
      return;
    }
    if (only === 'dockerd' && !node.docker) throw new UsageError(`${node.name} has no dockerd (lab up --docker)`);
    const what = only ?? (node.docker ? 'dockerd + weftd' : 'weftd');
    await step(`${node.name}: ${what} stopped (${how})`, () => stopHostDaemons(node, { kill, only }));
  });
}

export function start(ctx, nodeName) {
  return mutate(ctx, async (state) => {
    const node = nodeOf(state, nodeName, ['host', 'etcd']);
    if (node.kind === 'etcd') {
      if (isSameAlive(node.etcd)) return say(`  ${node.name}: etcd is running (PID ${node.etcd.pid})`);
      await step(`${node.name}: etcd started`, async () => {
        node.etcd = await startMember(state, node);
      });
      // Healthy only with a quorum, which may still be missing on purpose: wait a little, do not fail.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && !(await memberHealth(state, node)).healthy) await sleep(200);
      if (!(await memberHealth(state, node)).healthy) say(`  ${node.name}: running, not healthy yet (no quorum?)`);
      return;
    }
    if (!isSameAlive(node.anchor)) {
      throw new UsageError(`${node.name}'s namespaces are gone (its anchor died): run \`lab down\` and \`lab up\``);
    }
    // weftd first: dockerd asks its plugins about networks while it starts.
    if (isSameAlive(node.weftd)) say(`  ${node.name}: weftd is running (PID ${node.weftd.pid})`);
    else {
      await step(`${node.name}: weftd started`, async () => {
        node.weftd = await startWeftd(state, node);
      });
    }
    if (!node.docker) return;
    if (isSameAlive(node.dockerd)) say(`  ${node.name}: dockerd is running (PID ${node.dockerd.pid})`);
    else {
      await step(`${node.name}: dockerd started`, async () => {
        node.dockerd = await startDockerd(node);
      });
    }
  });
}

export function link(ctx, nodeName, updown) {
  if (updown !== 'up' && updown !== 'down') throw new UsageError(`lab link ${nodeName} needs up or down`);
  return mutate(ctx, async (state) => {
    const node = nodeOf(state, nodeName, ['host', 'etcd']);
    await step(`${node.name}: underlay link ${updown} (switch port ${node.name} on ${state.switch.netns})`, () =>
      ipIn(state.switch.netns, ['link', 'set', node.name, updown]),
    );
  });
}

export function logs(ctx, nodeName, which) {
  const state = requireState(ctx.dir, ctx.name);
  const node = nodeOf(state, nodeName, ['host', 'etcd']);
  const files = node.kind === 'etcd'
    ? { etcd: node.log }
    : { weftd: node.weftdLog, anchor: node.anchorLog, ...(node.docker ? { dockerd: node.docker.log } : {}) };
  const pick = which ?? Object.keys(files)[0];
  const file = files[pick];
  if (!file) throw new UsageError(`${node.name} has no ${JSON.stringify(pick)} log (${Object.keys(files).join(', ')})`);
  if (existsSync(file)) process.stdout.write(readFileSync(file));
}
