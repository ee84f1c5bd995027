// Docker restarts and stale calls (issue 7, docker-plugin-protocol.md §6): after dockerd restarts,
// Leave / DeleteEndpoint for endpoints weft no longer has succeed; after an unclean Docker stop
// (dockerd, containerd, shims and containers SIGKILLed), Docker skips Leave/DeleteEndpoint for a
// plugin it has not loaded yet, and weft itself finds the endpoints whose sandbox is gone.

import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, RUN_DEFAULTS, importBusybox } from '../helpers/busybox-image.js';
import { pidsInCgroup } from '../helpers/cgroups.js';
import { startDockerd, type DockerdHandle } from '../helpers/dockerd.js';
import { isAlive, pidsWithCmdline, sleep } from '../helpers/process.js';
import { allEndpoints, expectCheckClean, inspectContainer, pluginCall, snapshot, startWeftdIn } from '../helpers/weft-docker.js';
import type { WeftdHandle } from '../helpers/weftd.js';

const RECONCILE_S = 2;
const RUN = ['run', ...RUN_DEFAULTS];

describe('Docker restarts', () => {
  let dockerd: DockerdHandle;
  let weftd: WeftdHandle;

  beforeAll(async () => {
    dockerd = await startDockerd();
    await importBusybox(dockerd);
    weftd = await startWeftdIn(dockerd, ['--reconcile-interval', String(RECONCILE_S)]);
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.73.0.0/24', 'rn']);
  }, 120_000);
  afterAll(async () => {
    await dockerd?.stop();
    await weftd?.cleanup();
  });

  const networkId = async (name: string) => (JSON.parse((await dockerd.dockerOk(['network', 'inspect', name])).stdout)[0] as { Id: string }).Id;

  it('answers Leave, DeleteEndpoint and RevokeExternalConnectivity for endpoints it no longer has with success', async () => {
    await dockerd.dockerOk([...RUN, '-d', '--name', 'r1', '--network', 'rn', BUSYBOX_IMAGE, 'sleep', '600']);
    const { endpointId } = (await inspectContainer(dockerd, 'r1')).networks.rn!;
    const nid = await networkId('rn');
    expect(allEndpoints(await snapshot(weftd)).map((e) => e.id)).toContain(endpointId);

    await dockerd.restartDockerd();
    // A clean stop: Docker stopped r1 and told weft (Leave, DeleteEndpoint) itself.
    expect(allEndpoints(await snapshot(weftd)).map((e) => e.id)).not.toContain(endpointId);

    // The calls a restarted dockerd re-sends for what it had: all of them are done, not errors.
    const sock = dockerd.pluginSocket('weft-bridge');
    const unknownNet = 'f'.repeat(64);
    for (const [n, e] of [[nid, endpointId], [unknownNet, endpointId], [nid, 'e'.repeat(64)]] as const) {
      for (const method of ['NetworkDriver.RevokeExternalConnectivity', 'NetworkDriver.Leave', 'NetworkDriver.DeleteEndpoint']) {
        const r = await pluginCall(sock, method, { NetworkID: n, EndpointID: e });
        expect([method, r.status, r.body]).toEqual([method, 200, '{}']);
      }
    }
    const dn = await pluginCall(sock, 'NetworkDriver.DeleteNetwork', { NetworkID: unknownNet });
    expect([dn.status, dn.body]).toEqual([200, '{}']);
    await expectCheckClean(weftd, 'after the stale calls');

    // The container starts again on the same network.
    await dockerd.dockerOk(['start', 'r1']);
    const again = (await inspectContainer(dockerd, 'r1')).networks.rn!;
    expect(allEndpoints(await snapshot(weftd)).map((e) => e.id)).toContain(again.endpointId);
    await dockerd.dockerOk(['rm', '-f', 'r1']);
    await expectCheckClean(weftd, 'after rm');
  });

  it('after an unclean Docker stop, deletes the endpoints whose sandbox is gone', async () => {
    for (const n of ['u1', 'u2']) await dockerd.dockerOk([...RUN, '-d', '--name', n, '--network', 'rn', BUSYBOX_IMAGE, 'sleep', '600']);
    const ids = await Promise.all(['u1', 'u2'].map(async (n) => (await inspectContainer(dockerd, n)).networks.rn!.endpointId));
    expect(allEndpoints(await snapshot(weftd)).map((e) => e.id)).toEqual(expect.arrayContaining(ids));

    // Docker dies uncleanly: dockerd, its containerd, the shims (all named by this handle's
    // exec-root on their command line) and the containers (this handle's cgroup), by PID.
    const pids = new Set([dockerd.dockerdPid, ...(await pidsWithCmdline(dockerd.execRoot)), ...pidsInCgroup(dockerd.cgroupParent)]);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 20_000;
    while ([...pids].some(isAlive) && Date.now() < deadline) await sleep(100);
    // PID 1 of these machines reaps slowly: containerd may still be a zombie, which the next
    // dockerd would take for a running containerd (its pid file) and wait on until it gives up.
    // On a host with a prompt init the pid file points at nothing; make it so here.
    await rm(path.join(dockerd.execRoot, 'containerd', 'containerd.pid'), { force: true });
    const logStart = weftd.log().length;
    await dockerd.restartDockerd();

    // No Leave/DeleteEndpoint came (weft-bridge was not loaded when Docker cleaned its sandboxes):
    // weft's reconciler finds the sandboxes gone and deletes the endpoints by itself.
    // Within the reconciler's grace for young joins (30 s, Docker mounts a sandbox after Join) and a few passes.
    const gone = Date.now() + 30_000 + 6 * RECONCILE_S * 1000;
    let left = ids;
    while (Date.now() < gone) {
      const have = new Set(allEndpoints(await snapshot(weftd)).map((e) => e.id));
      left = ids.filter((id) => have.has(id));
      if (left.length === 0) break;
      await sleep(250);
    }
    if (left.length) {
      console.log((await dockerd.execInside(['ls', '-la', path.join(dockerd.execRoot, 'netns')])).stdout);
      console.log(JSON.stringify(allEndpoints(await snapshot(weftd)), null, 1));
      console.log(weftd.log().slice(logStart).split('\n').filter((l) => !l.includes('"level":20')).join('\n').slice(-5000));
      console.log((await dockerd.execInside(['grep', '-i', 'sandbox', dockerd.logFile])).stdout.slice(-3000));
    }
    expect(left, 'endpoints of the killed containers still in weft').toEqual([]);
    const log = weftd.log().slice(logStart);
    const collected = log.includes('sandbox of a Docker endpoint is gone');
    const deleted = (log.match(/"DeleteEndpoint"|NetworkDriver\.DeleteEndpoint/g) ?? []).length;
    console.log(`unclean stop: endpoints collected by weft: ${collected}; DeleteEndpoint calls logged: ${deleted}`);
    expect(collected, 'weft collected the endpoints itself').toBe(true);
    await expectCheckClean(weftd, 'after the unclean stop');

    // Nothing holds the network: Docker can remove it ("has active endpoints" is the classic pain).
    await dockerd.dockerOk(['rm', '-f', 'u1', 'u2']);
    await dockerd.dockerOk(['network', 'rm', 'rn']);
    expect((await snapshot(weftd)).filter((n) => n.origin === 'docker')).toEqual([]);
    await expectCheckClean(weftd, 'after network rm');
  });
});
