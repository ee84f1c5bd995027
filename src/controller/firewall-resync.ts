// Prompt firewall re-checks when the host's firewall may just have changed under weft: dockerd
// (re)started. dockerd sets iptables' FORWARD policy to DROP and makes its DOCKER-USER chain, and
// weft's accept for its mark (src/sys/nftables/docker-user.ts) can only go in once that chain
// exists; until then every packet weft forwards (bridge and overlay alike) is dropped. Without a
// trigger the rule would wait for the reconciler's periodic pass (--reconcile-interval).
//
// Triggers (src/daemon/main.ts): Docker's API socket (--docker-socket) being made or removed,
// Docker calling Plugin.Activate on any weft socket, and docker-sync reaching the engine. All come
// while dockerd is still starting: dockerd 20.10 activates the plugins of the networks it restores
// before it makes DOCKER-USER (seen in test/e2e/docker-forward-policy.test.ts: the check at the
// trigger finds no chain yet, the next one adds the rule). So a trigger runs one check at once and
// a few more over the next seconds (`settleMs`), until dockerd has surely finished its set-up.
//
// Runs outside any request (request() returns at once: Docker holds its locks while it waits
// for the plugin's answer), one check at a time, and coalesces: `docker volume ls` activates
// every plugin socket, and a burst of triggers costs one schedule, not one check each.

import type { Logger } from 'pino';

export interface FirewallResyncOptions {
  /** Checks the firewall and re-syncs it when it drifted; returns the repairs made. */
  check: () => Promise<number>;
  logger: Logger;
  /** Delays after the latest trigger at which to check. Default [0, 300, 1000, 3000, 8000]. */
  settleMs?: readonly number[];
}

export const DEFAULT_SETTLE_MS: readonly number[] = [0, 300, 1_000, 3_000, 8_000];

export class FirewallResync {
  private readonly log: Logger;
  private readonly settleMs: readonly number[];
  private timers: NodeJS.Timeout[] = [];
  private running = false;
  private again = false;
  private stopped = false;
  /** Checks run and repairs made (tests and logs). */
  checks = 0;
  repairs = 0;

  constructor(private readonly o: FirewallResyncOptions) {
    this.log = o.logger.child({ component: 'firewall-resync' });
    this.settleMs = o.settleMs ?? DEFAULT_SETTLE_MS;
  }

  /** Something suggests dockerd (re)started: (re)starts the schedule of checks. Never waits. */
  request(trigger: string): void {
    if (this.stopped) return;
    this.log.debug({ trigger }, 'firewall re-check requested');
    for (const t of this.timers) clearTimeout(t);
    this.timers = this.settleMs.map((ms) => {
      const t = setTimeout(() => this.run(), ms);
      t.unref();
      return t;
    });
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  private run(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true; // one more right after, never two at once
      return;
    }
    this.running = true;
    void this.o
      .check()
      .then(
        (made) => {
          this.checks++;
          this.repairs += made;
          this.log.debug({ repairs: made }, 'firewall re-checked');
          if (made > 0) this.log.info({ repairs: made }, 'firewall restored after Docker started');
        },
        (err: unknown) => this.log.error({ err }, 'firewall re-check failed'),
      )
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.run();
        }
      });
  }
}
