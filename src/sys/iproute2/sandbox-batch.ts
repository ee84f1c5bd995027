// The in-namespace half of a sandbox attach as ONE `ip -force -j -batch -` run, and the reading
// of what it printed. Pure; src/sys/sandbox.ts runs it.
//
// The interface must end up as dstPrefix + N with the lowest free N (eth0, then eth1...), and the
// batch cannot read the namespace first to pick N. So the batch lets the kernel pick: a rename to
// `eth%d` makes the kernel allocate the lowest free number. The commands after the rename still
// need a name for the link; they use a temporary altname (a second name the kernel resolves like
// the real one, kernel >= 5.5) that is added before the rename and removed at the end, and a
// `link show` of it prints the name the kernel chose. With -force the batch goes on after a failed
// line and reports each one (`Command failed -:N`), so that "a default route exists already"
// can be told apart from real failures, which are undone.

import type { StaticRoute } from '../../driver-api/driver.js';
import { isExists, parseBatchFailures, type BatchLine } from './batch.js';

export interface SandboxBatchInput {
  srcName: string;
  /** Temporary altname, unique in the sandbox. */
  handle: string;
  dstPrefix: string;
  mac?: string;
  mtu?: number;
  /** CIDRs. */
  addressV4?: string;
  addressV6?: string;
  /** Bare IPs; left out for internal networks. */
  gatewayV4?: string;
  gatewayV6?: string;
  staticRoutes: readonly StaticRoute[];
  /** No IPv6 link-local address (addrgenmode none; sandbox.ts withoutLinkLocal). */
  noLinkLocal?: boolean;
}

export type StepKind = 'altname' | 'rename' | 'address' | 'up' | 'route' | 'default4' | 'default6' | 'show' | 'altname-del';

export interface SandboxBatch {
  lines: BatchLine[];
  /** What each line does, by index (line N of the batch is steps[N - 1]). */
  steps: StepKind[];
}

export function buildAttachBatch(x: SandboxBatchInput): SandboxBatch {
  const lines: BatchLine[] = [];
  const steps: StepKind[] = [];
  const add = (step: StepKind, line: BatchLine) => {
    lines.push(line);
    steps.push(step);
  };
  const h = x.handle;
  add('altname', ['link', 'property', 'add', 'dev', x.srcName, 'altname', h]);
  // Still down here (it arrived down): a device must be down to be renamed.
  add('rename', ['link', 'set', 'dev', x.srcName, 'name', `${x.dstPrefix}%d`, ...(x.mac ? ['address', x.mac] : []), ...(x.mtu !== undefined ? ['mtu', String(x.mtu)] : []), ...(x.noLinkLocal ? ['addrgenmode', 'none'] : [])]);
  if (x.addressV4) add('address', ['addr', 'add', x.addressV4, 'dev', h]);
  // No DAD: the address is usable at once, as Docker does (the IPAM already made it unique).
  if (x.addressV6) add('address', ['addr', 'add', x.addressV6, 'dev', h, 'nodad']);
  add('up', ['link', 'set', 'dev', h, 'up']);
  // Connected routes first: a gateway may be reachable only through one of them (protocol §2.9).
  for (const r of x.staticRoutes) if (r.routeType === 1) add('route', ['route', 'add', r.destination, 'dev', h]);
  if (x.gatewayV4) add('default4', ['route', 'add', '0.0.0.0/0', 'via', x.gatewayV4, 'dev', h]);
  if (x.gatewayV6) add('default6', ['route', 'add', '::/0', 'via', x.gatewayV6, 'dev', h]);
  for (const r of x.staticRoutes) if (r.routeType === 0) add('route', ['route', 'add', r.destination, 'via', r.nextHop!]);
  add('show', ['link', 'show', 'dev', h]);
  add('altname-del', ['link', 'property', 'del', 'dev', h, 'altname', h]);
  return { lines, steps };
}

export type DefaultRoute = 'added' | 'kept' | 'none';

export interface AttachOutcome {
  /** The interface name the kernel chose; undefined when the batch did not get that far. */
  ifName?: string;
  defaultRouteV4: DefaultRoute;
  defaultRouteV6: DefaultRoute;
  /** Failed lines that mean the attach did not happen (to be undone). */
  fatal: { line: number; step: StepKind; message: string }[];
}

/**
 * Reads a batch run. A default route that fails with EEXIST means the sandbox has its default
 * route from another interface already: it is kept (the first network keeps the gateway, as with
 * Docker's `network connect`). A failed altname removal only leaves a cosmetic second name.
 */
export function readAttachOutcome(batch: SandboxBatch, out: { code: number; stdout: string; stderr: string }): AttachOutcome {
  const failures = parseBatchFailures(out.stderr);
  const failedStep = (step: StepKind) => failures.find((f) => batch.steps[f.line - 1] === step);
  const route = (step: 'default4' | 'default6'): DefaultRoute => {
    if (!batch.steps.includes(step)) return 'none';
    const f = failedStep(step);
    return f === undefined ? 'added' : isExists(f.message) ? 'kept' : 'none';
  };
  const fatal = failures
    .map((f) => ({ ...f, step: batch.steps[f.line - 1] ?? ('show' as StepKind) }))
    .filter((f) => f.step !== 'altname-del' && !((f.step === 'default4' || f.step === 'default6') && isExists(f.message)));
  // A non-zero exit without any `Command failed` line is ip refusing its input as a whole.
  if (out.code !== 0 && failures.length === 0) fatal.push({ line: 0, step: 'altname', message: out.stderr.trim() || `exit code ${out.code}` });
  let ifName: string | undefined;
  try {
    const rows = JSON.parse(out.stdout.trim() || '[]') as Array<{ ifname?: string }>;
    ifName = rows[0]?.ifname;
  } catch {
    ifName = undefined;
  }
  if (ifName === undefined && fatal.length === 0) fatal.push({ line: 0, step: 'show', message: `no interface name in the output: ${out.stdout.slice(0, 200)}` });
  return { ...(ifName ? { ifName } : {}), defaultRouteV4: route('default4'), defaultRouteV6: route('default6'), fatal };
}

/**
 * Gives the link back after a failed attach: down, old name, no altname, out to the namespace it
 * came from (`target`: a namespace name or a PID, as `ip link set netns` takes them). Run with
 * -force: how far the attach got decides which lines work. The link is found by the name the
 * kernel gave it (when the batch printed it; the altname is gone by then) or by the altname.
 */
export function buildUndoBatch(x: { srcName: string; handle: string; ifName?: string; target: string }): { lines: BatchLine[]; moveLine: number } {
  const lines: BatchLine[] = [];
  for (const cur of x.ifName ? [x.ifName, x.handle] : [x.handle]) {
    lines.push(['link', 'set', 'dev', cur, 'down'], ['link', 'set', 'dev', cur, 'name', x.srcName]);
  }
  lines.push(['link', 'set', 'dev', x.srcName, 'down'], ['link', 'property', 'del', 'dev', x.srcName, 'altname', x.handle], ['link', 'set', 'dev', x.srcName, 'netns', x.target]);
  return { lines, moveLine: lines.length };
}

/** Last resort when the link cannot go back: delete it in the sandbox (its peer goes with it). */
export function buildDeleteBatch(x: { srcName: string; handle: string; ifName?: string }): BatchLine[] {
  return [...(x.ifName ? [x.ifName] : []), x.handle, x.srcName].map((n) => ['link', 'del', 'dev', n]);
}
