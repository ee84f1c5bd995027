// The container half of an attach over netlink, with no process: the same result as the
// `ip -batch` of src/sys/iproute2/sandbox-batch.ts (dstPrefix + lowest free N, MAC, MTU,
// addresses, up, routes, "kept" when a default route exists), sent on an rtnetlink socket that
// lives in the sandbox (made by weft's netns relay, netns-relay.ts: weftd itself never enters the
// namespace). Three round trips through the relay (open, find the link, then every configuration
// message sent back to back: configure()), where one `ip -n` spawn costs 2-4 ms here (issue 8).
//
// The unsolicited ARP is the kernel's, so no arping process either: arp_notify is set on the
// interface (IFLA_INET_CONF), and setting its MAC again (even to the same value) makes the kernel
// announce its addresses (NETDEV_CHANGEADDR). That is done once the link is really up (operstate
// UP): the kernel's own announcement at NETDEV_UP comes before the bridge port on the host side
// forwards (both wait for the link-watch work), and is lost.

import type * as Netlink from 'netlink';
import { closeSync, openSync } from 'node:fs';
import { parseCidr } from '../../model/address.js';
import { Semaphore } from '../../model/semaphore.js';
import { ErrorCodes, WeftError } from '../../model/errors.js';
import type { SandboxRef } from '../../model/network.js';
import { withoutLinkLocal, type AttachRequest, type AttachResult } from '../sandbox.js';
import type { DefaultRoute } from '../iproute2/sandbox-batch.js';
import { AF_INET, AF_INET6, ipToBuffer, macToBuffer, nlattr, NLM_F_CREATE, NLM_F_EXCL, nlU32, RT_TABLE_MAIN } from './attrs.js';
import { createRequestSocket, errnoOf, loadNetlink } from './netlink-link-ops.js';
import type { NetnsRelay } from './netns-relay.js';

type RtSocket = Netlink.RtNetlinkSocket;

const IFLA_INET_CONF = 1;
const IPV4_DEVCONF_ARP_NOTIFY = 22;
const IFLA_INET6_ADDR_GEN_MODE = 8;
const IN6_ADDR_GEN_MODE_NONE = 1;
const TIMEOUT = { timeout: 5_000 };

function fail(what: string, e: unknown): WeftError {
  if (e instanceof WeftError) return e;
  return new WeftError(ErrorCodes.COMMAND_FAILED, `${what} failed: ${errnoOf(e) ?? (e instanceof Error ? e.message : String(e))}`, { cause: e });
}

/** Where NetlinkSandbox gets its sockets in other namespaces (weftd: the NetnsRelay). */
export interface NetnsSocketOpener {
  /** An rtnetlink socket living in the namespace at ref; NETNS_NOT_FOUND when there is none. */
  open(ref: SandboxRef): Promise<RtSocket>;
  /** A namespace descriptor that requests on open()'s sockets can name in IFLA_NET_NS_FD (the
   *  kernel resolves it in the table of the process that sends them). */
  nsFd(ref: SandboxRef): Promise<{ fd: number; close(): void }>;
}

/** Operations at once: each holds up to three relay sockets (the sandbox, a host namespace, a
 *  namespace descriptor), and the relay holds at most 256 (MAX_SESSIONS in netns-relay.c). More
 *  wait their turn instead of being refused: the 10x concurrency soak (2,200 parallel requests,
 *  each connect's unsolicited ARP still polling after its answer) was refused with "too many
 *  sessions" before this limit. */
const PARALLEL_OPERATIONS = 64;

export class NetlinkSandbox {
  private readonly slots = new Semaphore(PARALLEL_OPERATIONS);

  constructor(
    private readonly sockets: NetnsSocketOpener,
    private readonly nl: typeof Netlink = loadNetlink(),
  ) {}

  /** Does attachToSandbox's work (the request is checked by the caller). With `announce` (the
   *  default) it returns once the address was announced; the controller passes false and calls
   *  announce() after answering. */
  attach(req: AttachRequest): Promise<AttachResult> {
    return this.inSandbox(req.sandbox, async (sb) => {
      if (req.linkInSandbox !== true) await this.moveIn(req);
      const index = await this.indexOf(sb, req.srcName, req.sandbox);
      try {
        return await this.configure(sb, index, req);
      } catch (e) {
        const undone = await this.undo(sb, index, req).then(
          () => 'was undone',
          (u: unknown) => `could not be undone (${u instanceof Error ? u.message : String(u)})`,
        );
        const why = e instanceof Error ? e.message : String(e);
        throw new WeftError(ErrorCodes.COMMAND_FAILED, `attach of ${req.srcName} into ${req.sandbox.name ?? req.sandbox.path} failed and ${undone}: ${why}`, { cause: e });
      }
    });
  }

  /** fn with a socket in the sandbox, within the operation limit; the socket is closed after. */
  private inSandbox<T>(sandbox: SandboxRef, fn: (sb: RtSocket) => Promise<T>): Promise<T> {
    return this.slots.run(async () => {
      const sb = await this.sockets.open(sandbox);
      try {
        return await fn(sb);
      } finally {
        sb.socket.close();
      }
    });
  }

  /**
   * The requests go out back to back and are awaited together: the kernel handles the messages of
   * one socket in the order they were sent, each before the next (a route after the address and
   * the link up that make its gateway reachable), so waiting for each answer first only added a
   * round trip through the relay per step: one round trip instead of about eight (issue 8).
   * Every answer is read before returning or undoing, and the first failure in send order is the
   * one reported.
   */
  private async configure(sb: RtSocket, index: number, req: AttachRequest): Promise<AttachResult> {
    const announce = req.announce !== false && req.addressV4 !== undefined;
    const arpNotify = req.addressV4 !== undefined;
    // Per address family, set before the link comes up: arp_notify, and no IPv6 link-local
    // address on an endpoint without IPv6 (withoutLinkLocal).
    const afSpec = new Map<number, Buffer>();
    if (arpNotify) afSpec.set(AF_INET, nlattr(IFLA_INET_CONF, nlattr(IPV4_DEVCONF_ARP_NOTIFY, nlU32(1)), true));
    if (withoutLinkLocal(req)) afSpec.set(AF_INET6, nlattr(IFLA_INET6_ADDR_GEN_MODE, Buffer.from([IN6_ADDR_GEN_MODE_NONE])));
    const sent: Promise<unknown>[] = [];
    const send = <T>(p: Promise<T>): Promise<T> => {
      sent.push(p);
      return p;
    };
    // Rename (the kernel picks the lowest free N for `%d`), MAC, MTU, arp_notify: one message,
    // while the link is still down (it arrived down: a device must be down to be renamed).
    send(
      this.step('RTM_SETLINK (name, MAC, MTU)', () =>
        sb.setLink(
          { index },
          {
            ifname: `${req.dstPrefix}%d`,
            ...(req.mac ? { address: macToBuffer(req.mac) } : {}),
            ...(req.mtu !== undefined ? { mtu: req.mtu } : {}),
            ...(afSpec.size ? { afSpec } : {}),
          },
          TIMEOUT,
        ),
      ),
    );
    const named = send(this.step('RTM_GETLINK', () => sb.getLink({ index }, {}, TIMEOUT)));
    for (const cidr of [req.addressV4, req.addressV6]) {
      if (!cidr) continue;
      const p = parseCidr(cidr);
      const ip = ipToBuffer(cidr.split('/')[0]!);
      // No DAD: the address is usable at once, as Docker does (the IPAM already made it unique).
      const flags = p.family === 6 ? { nodad: true as const } : {};
      send(
        this.step(`RTM_NEWADDR ${cidr}`, () =>
          sb.newAddress({ family: p.family === 4 ? AF_INET : AF_INET6, prefixlen: p.prefix, index, flags }, { local: ip, address: ip, ...(p.family === 6 ? { flags } : {}) }, { flags: NLM_F_CREATE | NLM_F_EXCL, ...TIMEOUT }),
        ),
      );
    }
    send(this.step('RTM_SETLINK up', () => sb.setLink({ index, flags: { up: true }, change: { up: true } }, {}, TIMEOUT)));
    // Connected routes first: a gateway may be reachable only through one of them (protocol §2.9).
    for (const r of req.staticRoutes) if (r.routeType === 1) send(this.addRoute(sb, r.destination, { oif: index }));
    const gw4 = !req.internal && req.gatewayV4 ? req.gatewayV4 : undefined;
    const gw6 = !req.internal && req.gatewayV6 ? req.gatewayV6 : undefined;
    const route4 = gw4 ? send(this.addDefault(sb, '0.0.0.0/0', gw4, index)) : Promise.resolve<DefaultRoute>('none');
    const route6 = gw6 ? send(this.addDefault(sb, '::/0', gw6, index)) : Promise.resolve<DefaultRoute>('none');
    for (const r of req.staticRoutes) if (r.routeType === 0) send(this.addRoute(sb, r.destination, { gateway: r.nextHop! }));
    const settled = await Promise.allSettled(sent);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const ifName = (await named)[0]?.attrs.ifname;
    if (!ifName) throw new WeftError(ErrorCodes.COMMAND_FAILED, `the interface ${req.srcName} vanished from ${req.sandbox.name ?? req.sandbox.path} during the attach`);
    const [defaultRouteV4, defaultRouteV6] = [await route4, await route6];
    const announced = announce ? await this.announceOn(sb, index) : false;
    return { ifName, defaultRouteV4, defaultRouteV6, announced };
  }

  /**
   * One unsolicited ARP for the IPv4 addresses of ifName (arp_notify must be on: attach sets it).
   * Waits, up to 3 s, for the link to be up on both ends first. Best effort: false when it could
   * not; never throws. Callers that must not wait run it after answering (the controller does).
   */
  announce(sandbox: SandboxRef, ifName: string): Promise<boolean> {
    return this.inSandbox(sandbox, async (sb) => {
      const index = (await sb.getLink({}, { ifname: ifName }, TIMEOUT))[0]?.data.index;
      return index ? await this.announceOn(sb, index) : false;
    }).catch(() => false);
  }

  private async announceOn(sb: RtSocket, index: number): Promise<boolean> {
    const deadline = Date.now() + 3_000;
    // The link-watch work runs at most about once a second, so the wait is up to a second: poll
    // with growing pauses (each poll is a request on the daemon's thread; a profile with 1,000
    // attaches showed fixed 20 ms polls costing as much as creating the veth pairs).
    let pause = 25;
    for (;;) {
      const m = (await sb.getLink({ index }, {}, TIMEOUT))[0];
      if (!m?.attrs.address) return false;
      // OPERSTATE_UP (6): set by the link-watch work, which also turns the host end's bridge port on.
      if (m.attrs.operstate === 6) {
        // The two ends are handled in the same link-watch run, this one first: one more tick.
        await new Promise((r) => setTimeout(r, 20));
        await sb.setLink({ index }, { address: m.attrs.address }, TIMEOUT);
        return true;
      }
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 400);
    }
  }

  /** A default route that exists already (another network's gateway) is kept, not an error. */
  private async addDefault(sb: RtSocket, dst: string, gateway: string, oif: number): Promise<DefaultRoute> {
    try {
      await this.addRoute(sb, dst, { gateway, oif });
      return 'added';
    } catch (e) {
      if (errnoOf((e as { cause?: unknown }).cause ?? e) === 'EEXIST') return 'kept';
      throw e;
    }
  }

  /** What `ip route add DST [via GW] [dev IF]` sends. */
  private addRoute(sb: RtSocket, destination: string, via: { gateway?: string; oif?: number }): Promise<unknown> {
    const d = parseCidr(destination);
    const connected = via.gateway === undefined;
    return this.step(`RTM_NEWROUTE ${destination}${via.gateway ? ` via ${via.gateway}` : ''}`, () =>
      sb.newRoute(
        { family: d.family === 4 ? AF_INET : AF_INET6, dstLen: d.prefix, table: RT_TABLE_MAIN, protocol: 'BOOT', scope: connected ? 'LINK' : 'UNIVERSE', type: 'UNICAST' },
        {
          ...(d.prefix > 0 ? { dst: ipToBuffer(destination.split('/')[0]!) } : {}),
          ...(via.gateway ? { gateway: ipToBuffer(via.gateway) } : {}),
          ...(via.oif !== undefined ? { oif: via.oif } : {}),
        },
        { flags: NLM_F_CREATE | NLM_F_EXCL, ...TIMEOUT },
      ),
    );
  }

  /** Host side: the link moves into the sandbox (from hostNetns when given, else from ours). */
  private async moveIn(req: AttachRequest): Promise<void> {
    // weftd's own namespace needs no relay (its own socket, its own descriptor); another host
    // namespace (tests, the lab) does, and then the descriptor must be the relay's too.
    let host: RtSocket;
    let target: { fd: number; close(): void };
    if (req.hostNetns === undefined) {
      host = createRequestSocket(this.nl);
      const fd = openSync(req.sandbox.path, 'r');
      target = { fd, close: () => closeSync(fd) };
    } else {
      host = await this.sockets.open({ name: req.hostNetns, path: `/var/run/netns/${req.hostNetns}` });
      target = await this.sockets.nsFd(req.sandbox).catch((e: unknown) => {
        host.socket.close();
        throw e;
      });
    }
    try {
      await this.step(`move ${req.srcName} into ${req.sandbox.name ?? req.sandbox.path}`, () => host.setLink({}, { ifname: req.srcName, netNsFd: target.fd }, TIMEOUT));
    } catch (e) {
      if (errnoOf((e as { cause?: unknown }).cause) === 'ENODEV') throw new WeftError(ErrorCodes.COMMAND_FAILED, `link ${req.srcName} does not exist`, { cause: e });
      throw e;
    } finally {
      target.close();
      host.socket.close();
    }
  }

  private async indexOf(sb: RtSocket, name: string, where: SandboxRef): Promise<number> {
    try {
      const index = (await sb.getLink({}, { ifname: name }, TIMEOUT))[0]?.data.index;
      if (index) return index;
    } catch (e) {
      if (errnoOf(e) !== 'ENODEV') throw fail(`RTM_GETLINK ${name}`, e);
    }
    throw new WeftError(ErrorCodes.COMMAND_FAILED, `link ${name} is not in ${where.name ?? where.path}`);
  }

  /**
   * After a failed step: a link born in the sandbox is deleted (its host end goes with it); a link
   * that was moved in goes back, down and under its own name, to where it came from, or is deleted
   * if it cannot.
   */
  private async undo(sb: RtSocket, index: number, req: AttachRequest): Promise<void> {
    // Rejects when even the delete fails (the relay died, say): the error then says so.
    const del = () => sb.delLink({ index }, {}, TIMEOUT);
    if (req.linkInSandbox === true) return void (await del());
    // sb is a relay socket: the descriptor of where the link goes back must be the relay's.
    const home = req.hostNetns !== undefined ? `/var/run/netns/${req.hostNetns}` : `/proc/${process.pid}/ns/net`;
    let back: { fd: number; close(): void } | undefined;
    try {
      back = await this.sockets.nsFd({ path: home });
      await sb.setLink({ index, flags: {}, change: { up: true } }, { ifname: req.srcName }, TIMEOUT).catch(() => undefined);
      await sb.setLink({ index }, { netNsFd: back.fd }, TIMEOUT);
    } catch {
      await del();
    } finally {
      back?.close();
    }
  }

  /** Deletes the interface in the sandbox; a sandbox or interface that is gone counts as done. */
  detach(sandbox: SandboxRef, ifName: string): Promise<void> {
    return this.inSandbox(sandbox, async (sb) => {
      try {
        await sb.delLink({}, { ifname: ifName }, TIMEOUT);
      } catch (e) {
        if (errnoOf(e) !== 'ENODEV') throw fail(`RTM_DELLINK ${ifName} in ${sandbox.name ?? sandbox.path}`, e);
      }
    }).catch((e: unknown) => {
      // Only opening the socket says NETNS_NOT_FOUND (a failed delete is COMMAND_FAILED).
      if (e instanceof WeftError && e.code === ErrorCodes.NETNS_NOT_FOUND) return;
      throw e;
    });
  }

  private async step<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw fail(`netlink ${what}`, e);
    }
  }
}

/** A NetlinkSandbox over the relay when netlink loads; otherwise why not. */
export function createNetlinkSandbox(relay: NetnsRelay): { sandbox?: NetlinkSandbox; reason?: string } {
  try {
    return { sandbox: new NetlinkSandbox(relay) };
  } catch (e) {
    return { reason: e instanceof Error ? e.message : String(e) };
  }
}
