// Crash safety (issue 7): weftd SIGKILLed inside operations, at every failpoint and at random
// moments of a churn through Docker and the CLI, restarts into a state where `weft check` is clean,
// no address is held twice and no acknowledged operation is lost; two containers started before
// the churn keep pinging each other while weftd is down (the data plane never needs the daemon).
//
// One dockerd and one weftd (inside dockerd's namespaces) for the file. WEFT_CHURN_SCALE
// multiplies the operation counts (scripts/bench --soak runs 10x).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, RUN_DEFAULTS, importBusybox } from '../helpers/busybox-image.js';
import { startDockerd, type DockerdHandle } from '../helpers/dockerd.js';
import { netnsScopePerFile, type Netns } from '../helpers/netns.js';
import { sleep } from '../helpers/process.js';
import {
  allEndpoints,
  duplicateAddresses,
  expectCheckClean,
  expectCheckCleanWithin,
  expectDiedAt,
  inspectContainer,
  pingFrom,
  restartWith,
  snapshot,
  startWeftdIn,
} from '../helpers/weft-docker.js';
import type { WeftdHandle } from '../helpers/weftd.js';

const SCALE = Number(process.env.WEFT_CHURN_SCALE ?? '1');
if (!(SCALE > 0)) throw new Error(`WEFT_CHURN_SCALE=${process.env.WEFT_CHURN_SCALE} is not a positive number`);
const CLI_OPS = Math.round(400 * SCALE);
const DOCKER_OPS = Math.round(100 * SCALE);
const RECONCILE_S = 2;
/** WEFT_ORPHAN_GRACE: an address Docker asked weft's IPAM for that no endpoint has is released
 *  by the periodic pass once this old (60 s by default; short here so the test sees it). */
const ORPHAN_GRACE_S = 5;
const RUN = ['run', ...RUN_DEFAULTS];

/** What the CLI said: done, refused with a WeftError code (state known), or unknown (weftd died). */
type Outcome = { ok: true; stdout: string } | { ok: false; code: string; stderr: string };

describe('crash safety', () => {
  let dockerd: DockerdHandle;
  let weftd: WeftdHandle;
  const scope = netnsScopePerFile();
  /** Two containers started before anything else; they must reach each other all along. */
  let keep: { pid: number; ip: string }[] = [];
  let base: { ns: Netns; ip: string };
  let pingsWhileDown = 0;

  const cli = async (args: string[]): Promise<Outcome> => {
    const r = await weftd.cli(args);
    if (r.code === 0) return { ok: true, stdout: r.stdout };
    const code = /\((WEFT_ERR_[A-Z_]+)\)/.exec(r.stderr)?.[1] ?? `exit ${r.code}`;
    return { ok: false, code, stderr: r.stderr };
  };

  const expectDataPlane = async (when: string) => {
    const [a, b] = keep;
    expect(await pingFrom(a!.pid, b!.ip), `c1 -> c2 ${when}`).toBe(true);
    expect(await pingFrom(b!.pid, a!.ip), `c2 -> c1 ${when}`).toBe(true);
  };

  /** The state acknowledged before the failpoints: still there after each restart. */
  const expectBaseIntact = async () => {
    const net = (await snapshot(weftd)).find((n) => n.name === 'base')!;
    expect(net.endpoints.map((e) => [e.netns, e.ipv4])).toContainEqual([base.ns.name, base.ip]);
    const addrs = await base.ns.ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>(['addr', 'show']);
    expect(addrs.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`))).toContain(base.ip);
  };

  beforeAll(async () => {
    dockerd = await startDockerd();
    await importBusybox(dockerd);
    weftd = await startWeftdIn(dockerd, ['--reconcile-interval', String(RECONCILE_S)]);
    // From the next (re)start on: every test below starts with restartWith.
    weftd.opts.env = { ...weftd.opts.env, WEFT_ORPHAN_GRACE: String(ORPHAN_GRACE_S) };
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.61.0.0/24', 'keep']);
    for (const name of ['c1', 'c2']) {
      await dockerd.dockerOk([...RUN, '-d', '--name', name, '--network', 'keep', BUSYBOX_IMAGE, 'sleep', '3600']);
      const c = await inspectContainer(dockerd, name);
      keep.push({ pid: c.pid, ip: c.networks.keep!.ip });
    }
    await weftd.cliOk(['network', 'create', '--subnet', '10.62.0.0/24', 'base']);
    const ns = await scope.create();
    const ep = JSON.parse(await weftd.cliOk(['network', 'connect', '--format', 'json', 'base', ns.name])) as { ipv4: string };
    base = { ns, ip: ep.ipv4 };
    await expectDataPlane('before the churn');
  }, 120_000);

  afterAll(async () => {
    keep = [];
    await dockerd?.stop();
    await weftd?.cleanup();
  });

  /** Arms one failpoint, runs `trigger` (which must make weftd reach it), sees weftd die there. */
  const crashAt = async <T>(failpoint: string, setup: () => Promise<void>, trigger: () => Promise<T>): Promise<T> => {
    await restartWith(weftd, failpoint);
    await setup();
    const pending = trigger();
    await expectDiedAt(weftd, failpoint);
    await expectDataPlane(`while weftd is down (${failpoint})`);
    await restartWith(weftd, '');
    const result = await pending;
    await expectCheckCleanWithin(weftd, 3 * RECONCILE_S * 1000, `after ${failpoint}`);
    await expectBaseIntact();
    return result;
  };

  describe('each failpoint', () => {
    it('network-create.after-store: the unanswered create is rolled back, its pool released', async () => {
      const r = await crashAt('network-create.after-store', async () => {}, () => cli(['network', 'create', '--subnet', '10.62.1.0/24', 'fpc']));
      expect(r.ok).toBe(false);
      expect((await snapshot(weftd)).map((n) => n.name)).not.toContain('fpc');
      await weftd.cliOk(['network', 'create', '--subnet', '10.62.1.0/24', 'fpc']);
      await weftd.cliOk(['network', 'rm', 'fpc']);
    });

    for (const fp of ['connect.after-store', 'connect.veth-created']) {
      it(`${fp}: the unanswered connect is rolled back, namespace and address left free`, async () => {
        const ns = await scope.create();
        const r = await crashAt(fp, async () => {}, () => cli(['network', 'connect', 'base', ns.name]));
        expect(r.ok).toBe(false);
        const net = (await snapshot(weftd)).find((n) => n.name === 'base')!;
        expect(net.endpoints.map((e) => e.netns)).not.toContain(ns.name);
        expect(await ns.linkNames()).toEqual(['lo']);
        await weftd.cliOk(['network', 'connect', 'base', ns.name]);
        await weftd.cliOk(['network', 'disconnect', 'base', ns.name]);
      });
    }

    it('disconnect.mid: the started disconnect is finished', async () => {
      const ns = await scope.create();
      const r = await crashAt(
        'disconnect.mid',
        async () => void (await weftd.cliOk(['network', 'connect', 'base', ns.name])),
        () => cli(['network', 'disconnect', 'base', ns.name]),
      );
      expect(r.ok).toBe(false);
      const net = (await snapshot(weftd)).find((n) => n.name === 'base')!;
      expect(net.endpoints.map((e) => e.netns)).not.toContain(ns.name);
      expect(await ns.linkNames()).toEqual(['lo']);
    });

    it('network-delete.mid: the started delete is finished, bridge gone, pool released', async () => {
      const r = await crashAt(
        'network-delete.mid',
        async () => void (await weftd.cliOk(['network', 'create', '--subnet', '10.62.2.0/24', 'fpd'])),
        () => cli(['network', 'rm', 'fpd']),
      );
      expect(r.ok).toBe(false);
      expect((await snapshot(weftd)).map((n) => n.name)).not.toContain('fpd');
      await weftd.cliOk(['network', 'create', '--subnet', '10.62.2.0/24', 'fpd']);
      await weftd.cliOk(['network', 'rm', 'fpd']);
    });

    describe('through Docker', () => {
      beforeAll(async () => {
        await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.63.0.0/24', 'dfp']);
      });

      /** After the container is gone, weft holds no endpoint of it: nothing leaked. */
      const expectNoDockerEndpointsLeft = async () => {
        const net = (await snapshot(weftd)).find((n) => n.origin === 'docker' && n.ipam[0]?.subnet === '10.63.0.0/24')!;
        expect(net.endpoints).toEqual([]);
        await expectCheckClean(weftd, 'after the container was removed');
      };

      for (const fp of ['plugin.create-endpoint.before-reply', 'plugin.join.before-reply']) {
        it(`${fp}: docker run either works or fails cleanly, and nothing is left after rm`, async () => {
          const name = fp.startsWith('plugin.join') ? 'fjo' : 'fce';
          const r = await crashAt(fp, async () => {}, () => dockerd.docker([...RUN, '-d', '--name', name, '--network', 'dfp', BUSYBOX_IMAGE, 'sleep', '600']));
          if (r.code === 0) {
            // Docker's plugin client re-sent the call to the restarted weftd: the container is up.
            const c = await inspectContainer(dockerd, name);
            const net = (await snapshot(weftd)).find((n) => n.endpoints.some((e) => e.id === c.networks.dfp!.endpointId));
            expect(net, 'the running container has its weft endpoint').toBeDefined();
          }
          await dockerd.dockerOk(['rm', '-f', name]);
          await expectNoDockerEndpointsLeft();
        });
      }

      it('docker-delete-endpoint.mid: the started DeleteEndpoint is finished', async () => {
        let endpointId = '';
        const r = await crashAt(
          'docker-delete-endpoint.mid',
          async () => {
            await dockerd.dockerOk([...RUN, '-d', '--name', 'fde', '--network', 'dfp', BUSYBOX_IMAGE, 'sleep', '600']);
            endpointId = (await inspectContainer(dockerd, 'fde')).networks.dfp!.endpointId;
          },
          () => dockerd.docker(['rm', '-f', 'fde']),
        );
        expect(r.code, r.stderr).toBe(0);
        expect(allEndpoints(await snapshot(weftd)).map((e) => e.id)).not.toContain(endpointId);
        await expectNoDockerEndpointsLeft();
      });
    });
  });

  it(`random SIGKILLs over ${DOCKER_OPS} Docker and ${CLI_OPS} CLI operations`, async () => {
    const started = Date.now();
    await restartWith(weftd, '');
    // ---- the CLI side: namespaces on shared networks, plus networks created and removed ----
    const nets = ['cn0', 'cn1', 'cn2'];
    for (const [i, n] of nets.entries()) await weftd.cliOk(['network', 'create', '--subnet', `10.64.${i}.0/24`, n]);
    const WORKERS = 5;
    const PER_WORKER = 3;
    /** `${ns}|${net}` -> connected (true/false) or unknown (undefined: weftd died during the request). */
    const pairs = new Map<string, boolean | undefined>();
    const namespaces: Netns[] = [];
    for (let i = 0; i < WORKERS * PER_WORKER; i++) namespaces.push(await scope.create());
    for (const ns of namespaces) for (const n of nets) pairs.set(`${ns.name}|${n}`, false);
    /** transient network slot -> exists / gone / unknown */
    const slots = new Map<number, boolean | undefined>([0, 1, 2, 3].map((i) => [i, false]));

    // ---- the Docker side: containers on a shared network, one more network to connect, networks made and removed ----
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.65.0.0/22', 'dn1']);
    await dockerd.dockerOk(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.66.0.0/22', 'dn2']);

    let cliDone = 0;
    let dockerDone = 0;
    let killing = true;
    let kills = 0;
    /** Bumped before each SIGKILL: an operation that failed while it changed may have been cut. */
    let killEpoch = 0;
    const failures: string[] = [];
    let up: Promise<void> = Promise.resolve();

    const killer = async () => {
      while (killing) {
        await sleep(3000 + Math.random() * 4000);
        if (!killing) break;
        let release!: () => void;
        up = new Promise((r) => (release = r));
        try {
          killEpoch++;
          await weftd.kill9();
          kills++;
          await expectDataPlane(`while weftd is down (kill ${kills})`);
          pingsWhileDown++;
          await weftd.start();
        } finally {
          release();
        }
      }
    };

    const cliWorker = async (w: number) => {
      const mine = namespaces.slice(w * PER_WORKER, (w + 1) * PER_WORKER);
      while (cliDone < CLI_OPS) {
        await up;
        cliDone++;
        const epoch = killEpoch;
        const cut = () => killEpoch !== epoch;
        if (w === 0 && Math.random() < 0.15) {
          const slot = Math.floor(Math.random() * slots.size);
          const name = `tn${slot}`;
          const exists = slots.get(slot);
          const r = exists === true ? await cli(['network', 'rm', name]) : await cli(['network', 'create', '--subnet', `10.64.${10 + slot}.0/24`, name]);
          if (r.ok) slots.set(slot, exists !== true);
          else if (r.code === 'WEFT_ERR_NETWORK_EXISTS') slots.set(slot, true);
          else if (r.code === 'WEFT_ERR_NETWORK_NOT_FOUND') slots.set(slot, false);
          else if (cut()) slots.set(slot, undefined);
          else failures.push(`${name}: ${r.stderr.trim()}`);
          continue;
        }
        const ns = mine[Math.floor(Math.random() * mine.length)]!;
        const net = nets[Math.floor(Math.random() * nets.length)]!;
        const key = `${ns.name}|${net}`;
        const connected = pairs.get(key);
        const r = connected === true ? await cli(['network', 'disconnect', net, ns.name]) : await cli(['network', 'connect', net, ns.name]);
        if (r.ok) pairs.set(key, connected !== true);
        else if (r.code === 'WEFT_ERR_ENDPOINT_EXISTS' && connected !== false) pairs.set(key, true);
        else if (r.code === 'WEFT_ERR_ENDPOINT_NOT_FOUND' && connected !== true) pairs.set(key, false);
        else if (cut()) pairs.set(key, undefined);
        else failures.push(`${key} (was ${connected}): ${r.stderr.trim()}`);
      }
    };

    /** Container name -> networks Docker says it is on (undefined = unknown, resolved at the end). */
    const containers = new Map<string, Set<string> | undefined>();
    let serial = 0;
    const dockerWorker = async (w: number) => {
      while (dockerDone < DOCKER_OPS) {
        await up;
        dockerDone++;
        const epoch = killEpoch;
        // Docker re-sends a plugin call that weftd's death cut with an empty body (its client's
        // body reader is used up), so such a call fails; the failure must come with a kill.
        const fail = (what: string, r: { code: number; stderr: string }) => {
          if (killEpoch === epoch) failures.push(`${what}: ${r.stderr.trim()}`);
        };
        const mine = [...containers.keys()].filter((c) => c.startsWith(`d${w}-`));
        const roll = Math.random();
        if (mine.length < 3 || roll < 0.3) {
          const name = `d${w}-${serial++}`;
          const r = await dockerd.docker([...RUN, '-d', '--name', name, '--network', 'dn1', BUSYBOX_IMAGE, 'sleep', '3600']);
          containers.set(name, r.code === 0 ? new Set(['dn1']) : undefined);
          if (r.code !== 0) fail(`docker run ${name}`, r);
        } else if (roll < 0.55 || containers.get(mine[0]!) === undefined) {
          // A container whose state a kill left unknown is only ever removed.
          const unknown = mine.find((c) => containers.get(c) === undefined);
          const name = unknown ?? mine[Math.floor(Math.random() * mine.length)]!;
          const r = await dockerd.docker(['rm', '-f', name]);
          if (r.code === 0 || /No such container/.test(r.stderr)) containers.delete(name);
          else {
            containers.set(name, undefined);
            fail(`docker rm ${name}`, r);
          }
        } else if (roll < 0.8) {
          const known = mine.filter((c) => containers.get(c) !== undefined);
          if (known.length === 0) continue;
          const name = known[Math.floor(Math.random() * known.length)]!;
          const on = containers.get(name);
          const connect = !on?.has('dn2');
          const r = await dockerd.docker(['network', connect ? 'connect' : 'disconnect', 'dn2', name]);
          if (r.code === 0 && on) on[connect ? 'add' : 'delete']('dn2');
          else if (r.code !== 0) {
            containers.set(name, undefined);
            fail(`docker network ${connect ? 'connect' : 'disconnect'} dn2 ${name}`, r);
          }
        } else if (w === 0) {
          const r1 = await dockerd.docker(['network', 'create', '-d', 'weft-bridge', '--ipam-driver', 'weft', '--subnet', '10.67.0.0/24', 'dtmp']);
          dockerDone++;
          const r2 = await dockerd.docker(['network', 'rm', 'dtmp']);
          if (r1.code !== 0 && !/already exists/.test(r1.stderr)) fail('docker network create dtmp', r1);
          if (r2.code !== 0 && r1.code === 0) fail('docker network rm dtmp', r2);
        }
      }
    };

    const killing$ = killer();
    await Promise.all([...Array.from({ length: WORKERS }, (_, w) => cliWorker(w)), dockerWorker(0), dockerWorker(1), dockerWorker(2)]);
    killing = false;
    await killing$;
    expect(failures, 'operations that failed while weftd was up').toEqual([]);
    expect(kills, 'weftd was killed during the churn').toBeGreaterThanOrEqual(SCALE >= 1 ? 3 : 1);

    // ---- afterwards: nothing repaired by the test (weftd's periodic pass repairs; an address a
    // kill cut out of a Docker RequestAddress answer is released once ORPHAN_GRACE_S old) ----
    await expectCheckCleanWithin(weftd, (ORPHAN_GRACE_S + 3 * RECONCILE_S) * 1000, 'after the churn');
    let nets$ = await snapshot(weftd);
    expect(duplicateAddresses(nets$)).toEqual([]);

    // CLI: every acknowledged connect is there (record and interface), every acknowledged disconnect too.
    const byName = new Map(nets$.map((n) => [n.name, n] as const));
    const kernelAddrs = new Map<string, string[]>();
    for (const ns of namespaces) {
      const links = await ns.ipJson<{ ifname: string; addr_info: { local: string; prefixlen: number; family: string }[] }[]>(['addr', 'show']);
      kernelAddrs.set(ns.name, links.filter((l) => l.ifname !== 'lo').flatMap((l) => l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)));
    }
    for (const [key, connected] of pairs) {
      const [nsName, net] = key.split('|') as [string, string];
      const ep = byName.get(net)!.endpoints.find((e) => e.netns === nsName);
      if (connected === true) expect(ep, `${key} was acknowledged connected`).toBeDefined();
      if (connected === false) expect(ep, `${key} was acknowledged disconnected`).toBeUndefined();
      // Whatever weft says, the namespace agrees (unknown outcomes were settled one way or the other).
      if (ep) expect(kernelAddrs.get(nsName), `${key}: the interface of the endpoint`).toContain(ep.ipv4);
    }
    for (const ns of namespaces) {
      const held = nets.flatMap((n) => byName.get(n)!.endpoints.filter((e) => e.netns === ns.name).map((e) => e.ipv4));
      expect(kernelAddrs.get(ns.name)!.sort(), `${ns.name} has exactly the addresses weft gave it`).toEqual(held.sort());
    }
    for (const [slot, exists] of slots) {
      if (exists === true) expect(byName.has(`tn${slot}`), `tn${slot} was acknowledged created`).toBe(true);
      if (exists === false) expect(byName.has(`tn${slot}`), `tn${slot} was acknowledged removed`).toBe(false);
    }

    // Docker: every weft endpoint of a Docker network belongs to a container Docker has there, and back.
    const dockerEndpointIds = new Set<string>();
    for (const name of containers.keys()) {
      const r = await dockerd.docker(['inspect', name]);
      if (r.code !== 0) {
        expect(containers.get(name), `${name} was acknowledged running`).toBeUndefined();
        continue;
      }
      const c = await inspectContainer(dockerd, name);
      const acked = containers.get(name);
      if (acked) for (const n of acked) expect(Object.keys(c.networks), `${name} on ${n}`).toContain(n);
      for (const v of Object.values(c.networks)) if (v.endpointId) dockerEndpointIds.add(v.endpointId);
    }
    const keepIds = (await Promise.all(['c1', 'c2'].map((c) => inspectContainer(dockerd, c)))).map((c) => c.networks.keep!.endpointId);
    nets$ = await snapshot(weftd);
    const weftDockerEps = allEndpoints(nets$).filter((e) => e.origin === 'docker').map((e) => e.id);
    expect(weftDockerEps.sort()).toEqual([...dockerEndpointIds, ...keepIds].filter((id, i, a) => a.indexOf(id) === i).sort());
    await expectDataPlane('after the churn');
    // One line for scripts/bench --soak (soak.mjs reads it).
    // Addresses weftd's periodic pass released as orphans (a kill cut a RequestAddress answer or lost a release).
    const released = weftd.log().split('\n').filter((l) => l.includes('"kind":"orphan-allocation"') && l.includes('"outcome":"repaired"') && l.includes('address released'));
    const orphansReleased = { weft: released.filter((l) => !l.includes('Docker asked for it')).length, docker: released.filter((l) => l.includes('Docker asked for it')).length };
    console.log(`CHURN-SUMMARY ${JSON.stringify({ cliOps: cliDone, dockerOps: dockerDone, kills, pingsWhileDown, seconds: Math.round((Date.now() - started) / 1000), checkClean: true, duplicates: 0, orphansReleased })}`);
  }, 600_000 * Math.max(1, SCALE));
});
