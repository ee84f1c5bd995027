// Which LinkOps the daemon gets: netlink when it acts on its own namespace and the `netlink`
// package loads, iproute2 otherwise. A namespace target (tests, the lab) always means iproute2,
// because a netlink socket cannot be opened in another namespace without setns, which the daemon
// never does (see netlink-link-ops.ts).

import type { CommandRunner } from '../exec.js';
import { Iproute2LinkOps } from '../iproute2/iproute2-link-ops.js';
import type { LinkOps, StackedLinkOps } from '../link-ops.js';
import { loadNetlink, NetlinkLinkOps } from './netlink-link-ops.js';

export interface LinkOpsChoice {
  /** Named namespace to act in instead of the daemon's own. */
  netns?: string;
  /** Force one implementation (benchmarks, debugging); default: the fastest that works. */
  prefer?: 'netlink' | 'iproute2';
}

export interface ChosenLinkOps {
  /** Both implementations also do the macvlan driver's stacked links. */
  ops: LinkOps & StackedLinkOps;
  implementation: 'netlink' | 'iproute2';
  /** Why netlink was not taken, for the start-up log. */
  reason?: string;
}

export function createLinkOps(runner: CommandRunner, choice: LinkOpsChoice = {}): ChosenLinkOps {
  if (choice.netns !== undefined) {
    return { ops: new Iproute2LinkOps(runner, { netns: choice.netns }), implementation: 'iproute2', reason: 'a namespace target needs iproute2 (ip -n)' };
  }
  if (choice.prefer === 'iproute2') return { ops: new Iproute2LinkOps(runner), implementation: 'iproute2', reason: 'iproute2 was asked for' };
  try {
    return { ops: new NetlinkLinkOps(loadNetlink()), implementation: 'netlink' };
  } catch (e) {
    if (choice.prefer === 'netlink') throw e;
    return { ops: new Iproute2LinkOps(runner), implementation: 'iproute2', reason: `the netlink package did not load: ${e instanceof Error ? e.message : String(e)}` };
  }
}
