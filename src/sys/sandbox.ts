// The standalone sandbox attach: what Docker does with a Join result (protocol doc §2.9), done by
// weft for its own `weft network connect NET NETNS`. The host-side link (a veth end the driver
// made) moves into the namespace, becomes dstPrefix+N (eth0, eth1...), gets its MAC, MTU and
// addresses, goes up, and gets its routes; then the new IPv4 address is announced.
//
// Cost: one move (netlink without a process when a mover is given, else one `ip`; either way the
// kernel takes 10-20 ms for it, which a peer created inside the sandbox avoids: linkInSandbox),
// one `ip -batch` inside the namespace for everything else (src/sys/iproute2/sandbox-batch.ts),
// and one optional arping.
//
// This file's own path never enters the namespace: every command names it, `ip -n NAME` for named
// namespaces, `nsenter --net=PATH` for paths (Docker's sandbox keys, /proc/PID/ns/net). When the
// netns relay is built, the daemon passes a SandboxNetlink instead (src/sys/netlink/
// netlink-sandbox.ts): a netlink socket inside the namespace, made by the relay process
// (native/netns-relay.c), does the same with no process per attach; weftd never enters it.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import type { StaticRoute } from '../driver-api/driver.js';
import { parseCidr, parseIp } from '../model/address.js';
import { ErrorCodes, WeftError } from '../model/errors.js';
import { isValidIfName, type SandboxRef } from '../model/network.js';
import { commandError, type CommandRunner, type RunResult } from './exec.js';
import { ipCommand, isNoDevice, parseBatchFailures, renderBatch, type BatchLine } from './iproute2/batch.js';
import { buildAttachBatch, buildDeleteBatch, buildUndoBatch, readAttachOutcome, type DefaultRoute } from './iproute2/sandbox-batch.js';
import { checkIfName, checkMac, checkMtu, checkNetnsRef } from './link-ops.js';
import { isValidNetnsName } from './netns.js';

export interface AttachRequest {
  /** Host-side link to move (Docker's SrcName). */
  srcName: string;
  sandbox: SandboxRef;
  /** Interface name prefix in the sandbox (Docker's DstPrefix): 1-13 characters. */
  dstPrefix: string;
  mac?: string;
  /** CIDRs. */
  addressV4?: string;
  addressV6?: string;
  /** Bare IPs. */
  gatewayV4?: string;
  gatewayV6?: string;
  staticRoutes: StaticRoute[];
  mtu?: number;
  /** No default route, whatever the gateways say. */
  internal: boolean;
  /** Named namespace srcName is in now (and goes back to if the attach fails); default: the
   *  daemon's own. */
  hostNetns?: string;
  /** srcName was created inside the sandbox already (VethOptions.peerNetns): no move, which
   *  saves the kernel's 10-20 ms namespace change. */
  linkInSandbox?: boolean;
  /** Send one unsolicited ARP for addressV4 (needs arping or busybox; skipped without). Default true. */
  announce?: boolean;
}

export interface AttachResult {
  /** The name the interface got in the sandbox (eth0, eth1...). */
  ifName: string;
  /** `kept`: the sandbox already had a default route through another interface. */
  defaultRouteV4: DefaultRoute;
  defaultRouteV6: DefaultRoute;
  /** Whether an unsolicited ARP went out. IPv6 unsolicited NA is not sent (no tool on Debian's
   *  iproute2-only base for it; see docs/sys.md). */
  announced: boolean;
}

/** The whole attach and detach without a process (NetlinkSandbox). */
export interface SandboxNetlink {
  attach(req: AttachRequest): Promise<AttachResult>;
  detach(sandbox: SandboxRef, ifName: string): Promise<void>;
  /** The unsolicited ARP of an attached interface, without a process. */
  announce(sandbox: SandboxRef, ifName: string): Promise<boolean>;
}

export const SandboxNetlinkToken = Symbol.for('weft.SandboxNetlink');

let ipv6Here: boolean | undefined;

/**
 * Whether the interface gets no IPv6 link-local address (address generation mode "none"): when
 * the endpoint has no IPv6 address and the kernel has IPv6 at all. A link-local address is not
 * used on an IPv4-only network, and making one costs every port of the bridge: its duplicate
 * address check and multicast listener reports are flooded to all N ports and handled in every
 * namespace, which made the 1,000th attach 2.5x slower than the first (docs/bench.md, "Third
 * pass"). Docker does the same for networks without IPv6 (it sets disable_ipv6 on them).
 */
export function withoutLinkLocal(req: Pick<AttachRequest, 'addressV6'>): boolean {
  ipv6Here ??= existsSync('/proc/sys/net/ipv6');
  return req.addressV6 === undefined && ipv6Here;
}

/** The host-side move without a process (NetlinkLinkOps.moveToNetns). */
export interface LinkMover {
  moveToNetns(name: string, target: SandboxRef): Promise<void>;
}

const ATTACH_TIMEOUT_MS = 10_000;

/** `ip` running inside the namespace: by name, or by path through nsenter (net namespace only;
 *  /proc/sys/net follows the net namespace, so nothing else needs switching). */
export function ipInNetns(ref: SandboxRef): string[] {
  return ref.name !== undefined ? ['ip', '-n', ref.name] : ['nsenter', `--net=${ref.path}`, '--', 'ip'];
}

/** Validates an attach request completely; throws before anything runs. */
export function checkAttachRequest(req: AttachRequest): void {
  checkIfName(req.srcName, 'interface to attach');
  checkNetnsRef(req.sandbox);
  if (typeof req.dstPrefix !== 'string' || !isValidIfName(req.dstPrefix) || req.dstPrefix.length > 13) {
    throw new WeftError(ErrorCodes.INVALID_NAME, `interface prefix ${JSON.stringify(req.dstPrefix)} is not valid: 1-13 characters of letters, digits, '_', '.', '-'`);
  }
  if (req.mac !== undefined) checkMac(req.mac);
  if (req.mtu !== undefined) checkMtu(req.mtu);
  const family = (cidr: string | undefined, want: 4 | 6, what: string) => {
    if (cidr !== undefined && parseCidr(cidr, what).family !== want) throw new WeftError(ErrorCodes.INVALID_ADDRESS, `${what} ${cidr} is not an IPv${want} CIDR`);
  };
  family(req.addressV4, 4, 'IPv4 address');
  family(req.addressV6, 6, 'IPv6 address');
  const gw = (ip: string | undefined, want: 4 | 6, what: string) => {
    if (ip !== undefined && parseIp(ip, what).family !== want) throw new WeftError(ErrorCodes.INVALID_ADDRESS, `${what} ${ip} is not an IPv${want} address`);
  };
  gw(req.gatewayV4, 4, 'IPv4 gateway');
  gw(req.gatewayV6, 6, 'IPv6 gateway');
  if (!Array.isArray(req.staticRoutes)) throw new WeftError(ErrorCodes.BAD_REQUEST, 'static routes must be a list');
  for (const r of req.staticRoutes) {
    const dst = parseCidr(r.destination, 'route destination');
    if (r.routeType === 0) {
      if (!r.nextHop || parseIp(r.nextHop, 'route next hop').family !== dst.family) {
        throw new WeftError(ErrorCodes.INVALID_ADDRESS, `route to ${r.destination} needs a next hop of the same family, got ${JSON.stringify(r.nextHop ?? '')}`);
      }
    } else if (r.routeType === 1) {
      if (r.nextHop) throw new WeftError(ErrorCodes.INVALID_ADDRESS, `connected route to ${r.destination} must not have a next hop`);
    } else {
      throw new WeftError(ErrorCodes.BAD_REQUEST, `route type ${JSON.stringify(r.routeType)} is unknown: 0 (via next hop) or 1 (connected)`);
    }
  }
  if (req.hostNetns !== undefined && !isValidNetnsName(req.hostNetns)) {
    throw new WeftError(ErrorCodes.INVALID_NAME, `network namespace name ${JSON.stringify(req.hostNetns)} is not valid`);
  }
}

async function runBatch(runner: CommandRunner, argv: string[], lines: readonly BatchLine[]): Promise<RunResult> {
  return runner.run(argv, { input: renderBatch(lines), check: false, timeoutMs: ATTACH_TIMEOUT_MS });
}

/** Attaches; with `inNs` (netlink inside the sandbox, netlink-sandbox.ts) no process runs. */
export async function attachToSandbox(runner: CommandRunner, req: AttachRequest, mover?: LinkMover, inNs?: SandboxNetlink): Promise<AttachResult> {
  checkAttachRequest(req);
  if (inNs) return inNs.attach(req);
  const where = req.sandbox.name ?? req.sandbox.path;

  // 1. Host side: move the link in (unless it was born there). It keeps its name until the batch.
  if (req.linkInSandbox !== true) await moveIn(runner, req, mover);

  // 2. Sandbox side: everything else in one process.
  const handle = `wfa${randomBytes(6).toString('hex')}`;
  const batch = buildAttachBatch({
    srcName: req.srcName,
    handle,
    dstPrefix: req.dstPrefix,
    ...(req.mac ? { mac: req.mac } : {}),
    ...(req.mtu !== undefined ? { mtu: req.mtu } : {}),
    ...(req.addressV4 ? { addressV4: req.addressV4 } : {}),
    ...(req.addressV6 ? { addressV6: req.addressV6 } : {}),
    ...(!req.internal && req.gatewayV4 ? { gatewayV4: req.gatewayV4 } : {}),
    ...(!req.internal && req.gatewayV6 ? { gatewayV6: req.gatewayV6 } : {}),
    staticRoutes: req.staticRoutes,
    ...(withoutLinkLocal(req) ? { noLinkLocal: true } : {}),
  });
  const argv = [...ipInNetns(req.sandbox), '-force', '-j', '-batch', '-'];
  let out: RunResult;
  try {
    out = await runBatch(runner, argv, batch.lines);
  } catch (e) {
    await undoAttach(runner, req, handle, undefined);
    throw e;
  }
  const outcome = readAttachOutcome(batch, out);
  if (outcome.fatal.length > 0 || !outcome.ifName) {
    await undoAttach(runner, req, handle, outcome.ifName);
    const why = outcome.fatal.map((f) => `${f.line > 0 ? `line ${f.line} (${batch.lines[f.line - 1]?.join(' ')})` : 'batch'}: ${f.message}`).join('; ');
    throw new WeftError(ErrorCodes.COMMAND_FAILED, `attach of ${req.srcName} into ${where} failed and was undone: ${why}`, {
      details: { argv, input: renderBatch(batch.lines), stderr: out.stderr, code: out.code },
    });
  }

  // 3. Tell the neighbours (the bridge, other containers) the address's new MAC.
  const announced = req.announce !== false && req.addressV4 !== undefined ? await announceIpv4(runner, req.sandbox, outcome.ifName, req.addressV4.split('/')[0]!) : false;
  return { ifName: outcome.ifName, defaultRouteV4: outcome.defaultRouteV4, defaultRouteV6: outcome.defaultRouteV6, announced };
}

async function moveIn(runner: CommandRunner, req: AttachRequest, mover: LinkMover | undefined): Promise<void> {
  if (mover && req.hostNetns === undefined) return mover.moveToNetns(req.srcName, req.sandbox);
  const where = req.sandbox.name ?? req.sandbox.path;
  const argv = [...ipCommand(req.hostNetns), 'link', 'set', 'dev', req.srcName, 'netns', where];
  const r = await runner.run(argv, { check: false, timeoutMs: ATTACH_TIMEOUT_MS });
  if (r.code !== 0) throw commandError(argv, r, isNoDevice(r.stderr) ? `link ${req.srcName} does not exist` : `cannot move ${req.srcName} into ${where}`);
}

/** Gives the link back to the namespace it came from; deletes it if that fails. Never throws:
 *  it runs while another error is on its way to the caller. */
async function undoAttach(runner: CommandRunner, req: AttachRequest, handle: string, ifName: string | undefined): Promise<void> {
  // `ip link set netns PID` names the daemon's own namespace from inside the sandbox.
  const target = req.hostNetns ?? String(process.pid);
  const inNs = [...ipInNetns(req.sandbox), '-force', '-batch', '-'];
  try {
    const undo = buildUndoBatch({ srcName: req.srcName, handle, target, ...(ifName ? { ifName } : {}) });
    const r = await runBatch(runner, inNs, undo.lines);
    const moveFailed = parseBatchFailures(r.stderr).some((f) => f.line === undo.moveLine);
    if (r.code !== 0 && (moveFailed || parseBatchFailures(r.stderr).length === 0)) {
      await runBatch(runner, inNs, buildDeleteBatch({ srcName: req.srcName, handle, ...(ifName ? { ifName } : {}) }));
    }
  } catch {
    /* the namespace may be gone, and the link with it */
  }
}

/**
 * Deletes the interface inside the sandbox (deleting one end of a veth deletes both). A namespace
 * or interface that is gone counts as done.
 */
export async function detachFromSandbox(runner: CommandRunner, sandbox: SandboxRef, ifName: string, inNs?: SandboxNetlink): Promise<void> {
  checkNetnsRef(sandbox);
  checkIfName(ifName);
  if (!(await exists(sandbox.path))) return;
  if (inNs) return inNs.detach(sandbox, ifName);
  const argv = [...ipInNetns(sandbox), 'link', 'del', 'dev', ifName];
  const r = await runner.run(argv, { check: false, timeoutMs: ATTACH_TIMEOUT_MS });
  if (r.code === 0 || isNoDevice(r.stderr)) return;
  // The namespace went away between the check and the command.
  if (!(await exists(sandbox.path)) || /Cannot open network namespace|No such file or directory/.test(r.stderr)) return;
  throw commandError(argv, r, `cannot delete ${ifName} in ${sandbox.name ?? sandbox.path}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

// ---- unsolicited ARP ------------------------------------------------------------------------

/** iputils arping first, then busybox's applet; the same flags work for both. */
const ARPING_CANDIDATES: string[][] = [['/usr/sbin/arping'], ['/usr/bin/arping'], ['/sbin/arping'], ['/usr/bin/busybox', 'arping'], ['/bin/busybox', 'arping']];
let arpingTool: Promise<string[] | undefined> | undefined;

/** The first arping found on this machine, looked up once. */
export function findArping(): Promise<string[] | undefined> {
  arpingTool ??= (async () => {
    for (const c of ARPING_CANDIDATES) {
      try {
        await access(c[0]!, constants.X_OK);
        return c;
      } catch {
        /* next */
      }
    }
    return undefined;
  })();
  return arpingTool;
}

/**
 * One unsolicited ARP (sender = target = ip) on ifName inside the sandbox, so that neighbours with
 * a cached entry for a reused address learn the new MAC at once. Best effort: a machine without
 * arping skips it, and a failure does not fail the attach (entries age out on their own).
 */
export async function announceIpv4(runner: CommandRunner, sandbox: SandboxRef, ifName: string, ip: string): Promise<boolean> {
  checkNetnsRef(sandbox);
  checkIfName(ifName);
  if (parseIp(ip, 'IPv4 address').family !== 4) return false;
  const tool = await findArping();
  if (!tool) return false;
  const argv = ['nsenter', `--net=${sandbox.path}`, '--', ...tool, '-U', '-c', '1', '-w', '1', '-I', ifName, ip];
  try {
    const r = await runner.run(argv, { check: false, timeoutMs: 3_000 });
    return r.code === 0;
  } catch {
    return false;
  }
}
