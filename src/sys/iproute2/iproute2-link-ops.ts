// LinkOps through iproute2: reads with `ip -j`, multi-step changes in one `ip -batch -` process.
// The one implementation that can act on a named namespace other than the daemon's own
// (`ip -n NAME`), which is what tests and the multi-host lab use; the netlink implementation can
// only act on the namespace its socket was opened in (see src/sys/netlink/choose-link-ops.ts).
//
// The common path costs one spawn: ensureVeth tries the whole creation as one batch and only when
// the kernel says "File exists" reads the current state and brings it to what was asked.

import { access, constants } from 'node:fs/promises';
import { ErrorCodes, WeftError } from '../../model/errors.js';
import type { SandboxRef } from '../../model/network.js';
import { commandError, type CommandRunner, type RunResult } from '../exec.js';
import {
  checkAlias,
  checkBridgeArgs,
  checkIfName,
  checkInterfaceCidr,
  checkMacvlanArgs,
  checkMtu,
  checkVethArgs,
  checkVlanArgs,
  type AddressOptions,
  type BridgeOptions,
  type LinkInfo,
  type LinkOps,
  type MacvlanOptions,
  type StackedLinkOps,
  type VethOptions,
} from '../link-ops.js';
import { isValidNetnsName } from '../netns.js';
import { ipCommand, isExists, isNoDevice, parseBatchFailures, renderBatch, type BatchLine } from './batch.js';
import {
  addressDeleteArgs,
  addressReplaceArgs,
  bridgeCreateLines,
  bridgeUpdateLine,
  macvlanCreateLines,
  routeDeleteArgs,
  routeReplaceArgs,
  vethCreateLines,
  vethUpdateLines,
  vlanCreateLines,
} from './link-commands.js';
import { parseLinks } from './parse.js';

export interface Iproute2LinkOpsOptions {
  /** Named namespace (/var/run/netns/NAME) to act in instead of the daemon's own: tests, the lab. */
  netns?: string;
}

/** What `ip link add` says when the kernel has no such link type (no module, not built in). */
export const isUnknownType = (message: string): boolean => /Unknown device type|Operation not supported/i.test(message);
/** What `ip route del` says when the route is not there. */
const ROUTE_GONE = /No such process|Cannot find device/i;

/** What `ip addr del` says when the address is not there. */
const ADDRESS_GONE = /address not found|Cannot assign requested address/i;

/** The same answer the netlink implementation gives when it cannot open the namespace. */
async function requireNetns(ref: SandboxRef): Promise<void> {
  try {
    await access(ref.path, constants.F_OK);
  } catch (e) {
    throw new WeftError(ErrorCodes.NETNS_NOT_FOUND, `network namespace ${ref.path} does not exist`, { cause: e });
  }
}

export class Iproute2LinkOps implements LinkOps, StackedLinkOps {
  private readonly netns: string | undefined;

  constructor(
    private readonly runner: CommandRunner,
    opts: Iproute2LinkOpsOptions = {},
  ) {
    if (opts.netns !== undefined && !isValidNetnsName(opts.netns)) {
      throw new WeftError(ErrorCodes.INVALID_NAME, `network namespace name ${JSON.stringify(opts.netns)} is not valid`);
    }
    this.netns = opts.netns;
  }

  private argv(args: string[]): string[] {
    return [...ipCommand(this.netns), ...args];
  }

  /** Runs a batch; stops at the first failing line. Returns the result and the failed lines. */
  private async batch(lines: readonly BatchLine[]): Promise<{ argv: string[]; input: string; result: RunResult; failures: ReturnType<typeof parseBatchFailures> }> {
    const argv = this.argv(['-batch', '-']);
    const input = renderBatch(lines);
    const result = await this.runner.run(argv, { input, check: false });
    return { argv, input, result, failures: result.code === 0 ? [] : parseBatchFailures(result.stderr) };
  }

  private batchError(b: { argv: string[]; input: string; result: RunResult; failures: { line: number }[] }, what: string): WeftError {
    const inputLines = b.input.split('\n');
    const where = b.failures.map((f) => `line ${f.line} (${inputLines[f.line - 1] ?? '?'})`).join(', ');
    const err = commandError(b.argv, b.result, `${what}${where ? ` at ${where}` : ''}`);
    return new WeftError(err.code, err.message, { details: { ...err.details, input: b.input } });
  }

  async ensureBridge(name: string, opts: BridgeOptions): Promise<void> {
    checkBridgeArgs(name, opts);
    let cur = await this.getLink(name);
    if (!cur) {
      const b = await this.batch(bridgeCreateLines(name, opts));
      if (b.result.code === 0) return;
      const first = b.failures[0];
      if (first?.line === 1 && isExists(first.message)) {
        cur = await this.getLink(name); // created concurrently: adopt it below
      } else {
        if (first && first.line > 1) await this.deleteLink(name).catch(() => undefined);
        throw this.batchError(b, `cannot create bridge ${name}`);
      }
      if (!cur) throw this.batchError(b, `bridge ${name} exists and vanished again`);
    }
    if (cur.kind !== 'bridge') {
      throw new WeftError(ErrorCodes.INVALID_OPTION, `${name} exists and is ${cur.kind ? `a ${cur.kind} link` : 'a device'}, not a bridge: choose another bridge name`);
    }
    const line = bridgeUpdateLine(name, opts, cur);
    if (!line) return;
    const b = await this.batch([line]);
    if (b.result.code !== 0) throw this.batchError(b, `cannot update bridge ${name}`);
  }

  async ensureVeth(hostName: string, peerName: string, opts: VethOptions): Promise<void> {
    checkVethArgs(hostName, peerName, opts);
    if (opts.peerNetns) await requireNetns(opts.peerNetns);
    const b = await this.batch(vethCreateLines(hostName, peerName, opts));
    if (b.result.code === 0) return;
    const first = b.failures[0];
    if (!(first?.line === 1 && isExists(first.message))) {
      // The pair exists once line 1 went through: a half-configured pair is removed again.
      if (first && first.line > 1) await this.deleteLink(hostName).catch(() => undefined);
      throw this.batchError(b, `cannot create veth ${hostName}/${peerName}`);
    }
    const host = await this.getLink(hostName);
    if (!host) {
      throw new WeftError(ErrorCodes.COMMAND_FAILED, `cannot create veth ${hostName}/${peerName}: a link named ${peerName} already exists; remove it`);
    }
    if (host.kind !== 'veth') {
      throw new WeftError(ErrorCodes.COMMAND_FAILED, `cannot create veth ${hostName}/${peerName}: ${hostName} exists and is ${host.kind ? `a ${host.kind} link` : 'a device'}`);
    }
    if (host.peer !== undefined && host.peer !== peerName) {
      throw new WeftError(ErrorCodes.COMMAND_FAILED, `veth ${hostName} exists with the peer ${host.peer}, not ${peerName}`);
    }
    const peer = host.peer === undefined ? undefined : await this.getLink(peerName);
    const lines = vethUpdateLines(hostName, opts, host, peer);
    if (lines.length === 0) return;
    const u = await this.batch(lines);
    if (u.result.code !== 0) throw this.batchError(u, `cannot update veth ${hostName}/${peerName}`);
  }

  async deleteLink(name: string): Promise<void> {
    checkIfName(name);
    const argv = this.argv(['link', 'del', 'dev', name]);
    const r = await this.runner.run(argv, { check: false });
    if (r.code !== 0 && !isNoDevice(r.stderr)) throw commandError(argv, r, `exit code ${r.code}`);
  }

  async getLink(name: string): Promise<LinkInfo | undefined> {
    checkIfName(name);
    const argv = this.argv(['-j', '-d', 'link', 'show', 'dev', name]);
    const r = await this.runner.run(argv, { check: false });
    if (r.code !== 0) {
      if (isNoDevice(r.stderr)) return undefined;
      throw commandError(argv, r, `exit code ${r.code}`);
    }
    return parseLinks(r.stdout)[0];
  }

  async listLinks(): Promise<LinkInfo[]> {
    const r = await this.runner.run(this.argv(['-j', '-d', 'link', 'show']));
    return parseLinks(r.stdout);
  }

  async ensureAddress(link: string, cidr: string, opts: AddressOptions = {}): Promise<void> {
    checkIfName(link);
    const parsed = checkInterfaceCidr(cidr);
    await this.runner.run(this.argv(addressReplaceArgs(link, cidr, parsed.family, opts.noDad === true)));
  }

  async deleteAddress(link: string, cidr: string): Promise<void> {
    checkIfName(link);
    checkInterfaceCidr(cidr);
    const argv = this.argv(addressDeleteArgs(link, cidr));
    const r = await this.runner.run(argv, { check: false });
    if (r.code !== 0 && !isNoDevice(r.stderr) && !ADDRESS_GONE.test(r.stderr)) throw commandError(argv, r, `exit code ${r.code}`);
  }

  async setMtu(link: string, mtu: number): Promise<void> {
    checkIfName(link);
    checkMtu(mtu);
    await this.runner.run(this.argv(['link', 'set', 'dev', link, 'mtu', String(mtu)]));
  }

  // ---- stacked links (macvlan driver) ---------------------------------------------------

  async ensureMacvlan(name: string, parent: string, opts: MacvlanOptions): Promise<void> {
    checkMacvlanArgs(name, parent, opts);
    if (opts.netns) await requireNetns(opts.netns);
    const b = await this.batch(macvlanCreateLines(name, parent, opts));
    if (b.result.code === 0) return;
    const first = b.failures[0];
    const text = first?.message ?? b.result.stderr;
    if (isUnknownType(text)) {
      throw new WeftError(ErrorCodes.KERNEL_UNSUPPORTED, `this kernel has no macvlan support (${text.trim()}): load the macvlan module or use another driver`);
    }
    if (first?.line === 1 && isNoDevice(first.message)) {
      throw new WeftError(ErrorCodes.PARENT_UNUSABLE, `cannot create macvlan ${name}: parent ${parent} does not exist`);
    }
    if (first?.line === 1 && isExists(first.message) && !opts.netns) {
      const cur = await this.getLink(name);
      if (cur?.kind === 'macvlan' && cur.parent === parent) return;
      throw new WeftError(ErrorCodes.COMMAND_FAILED, `cannot create macvlan ${name}: a ${cur?.kind ?? 'device'} link of that name exists`);
    }
    if (first && first.line > 1) await this.deleteLink(name).catch(() => undefined);
    throw this.batchError(b, `cannot create macvlan ${name} on ${parent}`);
  }

  async ensureVlan(name: string, parent: string, id: number, opts: { alias?: string; mtu?: number } = {}): Promise<void> {
    checkVlanArgs(name, parent, id, opts);
    const b = await this.batch(vlanCreateLines(name, parent, id, opts));
    if (b.result.code === 0) return;
    const first = b.failures[0];
    const text = first?.message ?? b.result.stderr;
    if (isUnknownType(text)) {
      throw new WeftError(
        ErrorCodes.KERNEL_UNSUPPORTED,
        `cannot create VLAN link ${name} (id ${id} on ${parent}): this kernel lacks 802.1q VLAN support (\`ip link add ... type vlan\` says "${text.trim()}"); run \`modprobe 8021q\` or use a kernel built with CONFIG_VLAN_8021Q`,
      );
    }
    if (first?.line === 1 && isNoDevice(first.message)) {
      throw new WeftError(ErrorCodes.PARENT_UNUSABLE, `cannot create VLAN link ${name}: its parent ${parent} does not exist`);
    }
    if (first?.line === 1 && isExists(first.message)) {
      const cur = await this.getLink(name);
      if (cur?.kind === 'vlan' && cur.parent === parent && cur.vlanId === id) return;
      throw new WeftError(ErrorCodes.COMMAND_FAILED, `cannot create VLAN link ${name}: a ${cur?.kind ?? 'device'} link of that name exists that is not VLAN ${id} on ${parent}`);
    }
    if (first && first.line > 1) await this.deleteLink(name).catch(() => undefined);
    throw this.batchError(b, `cannot create VLAN link ${name}`);
  }

  async setAlias(name: string, alias: string): Promise<void> {
    checkIfName(name);
    checkAlias(alias);
    await this.runner.run(this.argv(['link', 'set', 'dev', name, 'alias', alias]));
  }

  async ensureRoute(destination: string, dev: string, src?: string): Promise<void> {
    checkInterfaceCidr(destination);
    checkIfName(dev);
    if (src !== undefined) checkInterfaceCidr(`${src}/${src.includes(':') ? 128 : 32}`);
    await this.runner.run(this.argv(routeReplaceArgs(destination, dev, src)));
  }

  async deleteRoute(destination: string, dev: string): Promise<void> {
    checkInterfaceCidr(destination);
    checkIfName(dev);
    const argv = this.argv(routeDeleteArgs(destination, dev));
    const r = await this.runner.run(argv, { check: false });
    if (r.code !== 0 && !ROUTE_GONE.test(r.stderr) && !isNoDevice(r.stderr)) throw commandError(argv, r, `exit code ${r.code}`);
  }
}
