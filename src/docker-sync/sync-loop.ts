// docker-sync: gives this host's Docker engine a copy of every cluster overlay network, and takes
// the copy away when the network is removed cluster-wide (docs/overlay.md, "Through Docker").
// Runs on its own timer, never inside a plugin request (the engine calls the plugin while it
// holds its locks: a call back into the engine from there deadlocks). A pass runs on every change
// under the cluster's networks/ prefix (debounced), every interval, and after a failure with
// exponential backoff. In 'auto' mode a missing engine socket is not an error: the pass waits
// for the socket to appear (the engine may start after weftd).

import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { NetworkRecord } from '../model/network.js';
import type { Store, Watcher } from '../store/store.js';
import type { DockerBindings } from '../plugin/docker-bindings.js';
import { DockerApiError, type DockerApi } from '../docker/docker-api.js';
import { planSync, type SyncAction } from './plan.js';

export interface DockerSyncOptions {
  api: DockerApi;
  bindings: DockerBindings;
  /** Where cluster networks live; watched under networks/. */
  clusterStore: Store;
  /** The cluster's networks (the controller's list: records of both stores). */
  listNetworks: () => Promise<NetworkRecord[]>;
  logger: Logger;
  /** 'on': a missing socket is logged as a problem; 'auto': waited for quietly. */
  mode: 'auto' | 'on';
  intervalMs: number;
  debounceMs?: number;
  /** First retry after a failure; doubles up to intervalMs. */
  backoffMs?: number;
  bindingGraceMs?: number;
  /** Next pass after one that found a copy still being removed. Default 1 s. */
  retrySoonMs?: number;
  /** Called when a pass reaches the engine after none had (the first, or after failures): the
   *  engine (re)started, and with it its iptables (src/controller/firewall-resync.ts). */
  onEngineReachable?: () => void;
}

export interface DockerSyncStats {
  passes: number;
  failures: number;
  created: number;
  removed: number;
  lastError?: string;
}

export class DockerSync {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private watcher: Watcher | undefined;
  private running = false;
  private current: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private failuresInRow = 0;
  /** The last pass reached the engine (its network list answered). */
  private reached = false;
  private readonly st: DockerSyncStats = { passes: 0, failures: 0, created: 0, removed: 0 };
  /** Docker networks whose removal the engine refused (containers on it), logged once each. */
  private readonly refused = new Set<string>();
  /** Name conflicts already reported (logged once each, while they last). */
  private readonly conflicts = new Set<string>();

  constructor(private readonly o: DockerSyncOptions) {
    this.log = o.logger.child({ component: 'docker-sync', socket: o.api.socketPath });
  }

  async start(): Promise<void> {
    try {
      this.watcher = await this.o.clusterStore.watch('networks/', () => this.trigger());
    } catch (err) {
      // The periodic passes still converge; only the prompt reaction to changes is lost.
      this.log.warn({ err }, 'cannot watch the cluster\'s networks; docker-sync runs on its interval only');
    }
    // Docker dropped a copy (docker network rm here): if the cluster network stays, copy it back.
    this.o.bindings.onDrop(() => this.trigger());
    this.schedule(0);
    this.log.info({ mode: this.o.mode, intervalMs: this.o.intervalMs }, 'docker-sync started');
  }

  /** Stops the timer and the watch, and waits for a pass in flight (the stores close after this). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.watcher?.cancel();
    await this.current?.catch(() => undefined);
  }

  stats(): DockerSyncStats {
    return { ...this.st };
  }

  /** A change in the cluster's networks: run a pass soon. */
  trigger(): void {
    if (this.running) this.again = true;
    else this.schedule(this.o.debounceMs ?? 300);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.current = this.runPass();
    }, ms);
    this.timer.unref();
  }

  private async runPass(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    this.again = false;
    let next = this.o.intervalMs;
    try {
      if ((await this.pass()).retrySoon) next = Math.min(next, this.o.retrySoonMs ?? 1_000);
      this.failuresInRow = 0;
    } catch (e) {
      this.failuresInRow++;
      const missing = !existsSync(this.o.api.socketPath);
      // In auto mode no engine (yet) is a state, not a failure.
      if (!(missing && this.o.mode === 'auto')) {
        this.st.failures++;
        this.st.lastError = (e as Error).message;
      }
      if (missing && this.o.mode === 'auto') this.log.debug('no Docker engine socket (yet)');
      else this.log.warn({ err: e, retryInMs: this.backoff() }, 'docker-sync pass failed; retrying');
      next = this.backoff();
    } finally {
      this.running = false;
    }
    this.schedule(this.again ? (this.o.debounceMs ?? 300) : next);
  }

  private backoff(): number {
    const base = this.o.backoffMs ?? 500;
    return Math.min(this.o.intervalMs, base * 2 ** Math.min(this.failuresInRow - 1, 10));
  }

  /** One pass: read the engine, the bindings, the cluster (in that order, see plan.ts), act. */
  async pass(): Promise<{ retrySoon: boolean }> {
    this.st.passes++;
    let docker;
    try {
      docker = await this.o.api.listNetworks();
    } catch (e) {
      this.reached = false;
      throw e;
    }
    if (!this.reached) {
      this.reached = true;
      this.o.onEngineReachable?.();
    }
    const bindings = await this.o.bindings.list();
    const cluster = await this.o.listNetworks();
    const { actions, retrySoon } = planSync({ docker, bindings, cluster, now: Date.now(), bindingGraceMs: this.o.bindingGraceMs ?? 60_000, dropped: this.o.bindings.dropped() });
    const conflicting = new Set(actions.flatMap((a) => (a.op === 'conflict' ? [`${a.name} ${a.dockerId}`] : [])));
    for (const c of this.conflicts) if (!conflicting.has(c)) this.conflicts.delete(c);
    let firstError: unknown;
    for (const a of actions) {
      try {
        await this.apply(a);
      } catch (e) {
        firstError ??= e;
        this.log.warn({ err: e, action: a.op, network: a.name }, 'docker-sync action failed');
      }
    }
    if (firstError) throw firstError;
    return { retrySoon };
  }

  private async apply(a: SyncAction): Promise<void> {
    switch (a.op) {
      case 'create': {
        try {
          const res = await this.o.api.createNetwork(a.body);
          this.st.created++;
          this.log.info({ network: a.name, dockerId: res.Id, networkId: a.networkId }, 'Docker network created for the cluster network');
        } catch (e) {
          // 409: a network of that name appeared on the engine since the list; next pass binds or reports it.
          if (e instanceof DockerApiError && e.status === 409) this.log.info({ network: a.name }, 'Docker network of that name exists now; checked again next pass');
          else throw e;
        }
        return;
      }
      case 'remove': {
        try {
          await this.o.api.removeNetwork(a.dockerId);
          this.refused.delete(a.dockerId);
          this.st.removed++;
          this.log.info({ network: a.name, dockerId: a.dockerId, why: a.why }, 'Docker network removed');
        } catch (e) {
          if (e instanceof DockerApiError && e.status === 404) return;
          // 403: containers still use it on this engine; removed once they are gone.
          if (e instanceof DockerApiError && e.status === 403) {
            if (!this.refused.has(a.dockerId)) this.log.warn({ network: a.name, dockerId: a.dockerId, why: a.why, err: e.message }, 'Docker network kept while containers use it');
            this.refused.add(a.dockerId);
            return;
          }
          throw e;
        }
        return;
      }
      case 'bind':
        await this.o.bindings.put({ dockerId: a.dockerId, networkId: a.networkId, name: a.name });
        this.log.info({ network: a.name, dockerId: a.dockerId }, 'Docker network bound to the cluster network (binding was missing)');
        return;
      case 'unbind':
        await this.o.bindings.delete(a.dockerId);
        this.log.info({ network: a.name, dockerId: a.dockerId }, 'binding of a Docker network the engine no longer has removed');
        return;
      case 'conflict': {
        const key = `${a.name} ${a.dockerId}`;
        if (!this.conflicts.has(key)) this.log.warn({ network: a.name, dockerId: a.dockerId, why: a.why }, 'cannot give this engine the cluster network: the name is taken');
        this.conflicts.add(key);
        return;
      }
    }
  }
}
