// How weftd builds its membership from its configuration (the composition root calls these; kept
// here so src/daemon only wires). Order matters: the host id is needed by the IPAM (global block
// affinity) before the membership exists, and the membership needs the IPAM for fencing.

import { hostname as osHostname } from 'node:os';
import type { Logger } from 'pino';
import type { CommandRunner } from '../sys/exec.js';
import type { Store } from '../store/store.js';
import { loadOrCreateHostId } from './host-id.js';
import { type HostFencing, Membership } from './membership.js';
import { PingProber } from './prober.js';

export const MembershipToken = Symbol.for('weft.Membership');

/** `--host-id` when given, else the id kept in <state-dir>/host-id (created on first start). */
export async function resolveHostId(config: { stateDir: string; hostId?: string }): Promise<string> {
  return config.hostId ?? (await loadOrCreateHostId(config.stateDir));
}

export interface MembershipDeps {
  store: Store;
  runner: CommandRunner;
  /** weftd's version (src/daemon/version.ts). */
  version: string;
  logger: Logger;
  /** The IpamService (it implements HostFencing). */
  fencing?: HostFencing;
  /** Default os.hostname(). */
  hostname?: string;
}

/**
 * A Membership for this weftd, not started: call start() once the store is open (it registers
 * the host), and stop() on shutdown (ends the lease, so the others see "lost" at once).
 */
export function createMembership(
  config: { hostTtl: number; hostDeadAfter: number; advertiseAddr?: string },
  hostId: string,
  deps: MembershipDeps,
): Membership {
  const prober = new PingProber(deps.runner);
  if (!prober.available) deps.logger.warn('no ping command found (iputils-ping or busybox): lost hosts will only become gone by weft host rm');
  return new Membership({
    store: deps.store,
    self: { id: hostId, hostname: deps.hostname ?? osHostname(), advertiseAddr: config.advertiseAddr ?? '', version: deps.version },
    ttlSeconds: config.hostTtl,
    deadAfterSeconds: config.hostDeadAfter,
    prober,
    ...(deps.fencing ? { fencing: deps.fencing } : {}),
    logger: deps.logger,
  });
}
