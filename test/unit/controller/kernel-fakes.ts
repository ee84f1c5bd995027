// Stand-ins for the kernel edges of a CreateNetwork, for unit tests that must run without root: an
// in-memory link table (LinkOps and StackedLinkOps) and a command runner that answers every command
// with success. Both count what they were asked to change, so a test can assert that a refused
// request ran nothing. The real implementations have their own contract suites on the kernel
// (test/unit/sys/link-ops-contract.ts, stacked-links-contract.ts); the firewall used with these is
// the real NftFirewall, whose checks are pure and run before it renders anything.

import type { CommandRunner, RunResult } from '../../../src/sys/exec.js';
import type { BridgeOptions, LinkInfo, LinkOps, MacvlanOptions, StackedLinkOps, VethOptions } from '../../../src/sys/link-ops.js';

export class RecordingRunner implements CommandRunner {
  readonly commands: string[][] = [];
  async run(argv: string[]): Promise<RunResult> {
    this.commands.push(argv);
    return { stdout: '', stderr: '', code: 0 };
  }
}

let nextIndex = 10;
const mac = () => `52:54:00:00:00:${(nextIndex & 0xff).toString(16).padStart(2, '0')}`;

/** Links by name; `changes` lists every call that would change the kernel. */
export class FakeLinks implements LinkOps, StackedLinkOps {
  readonly implementation = 'iproute2' as const;
  readonly links = new Map<string, LinkInfo>();
  readonly changes: string[] = [];

  constructor(initial: LinkInfo[] = []) {
    for (const l of initial) this.links.set(l.name, l);
  }

  /** A host link as `ip link` would show it. */
  static link(name: string, extra: Partial<LinkInfo> = {}): LinkInfo {
    return { name, index: nextIndex++, mtu: 1500, mac: mac(), operstate: 'UP', up: true, ...extra };
  }

  async getLink(name: string): Promise<LinkInfo | undefined> {
    return this.links.get(name);
  }
  async listLinks(): Promise<LinkInfo[]> {
    return [...this.links.values()];
  }
  async ensureBridge(name: string, opts: BridgeOptions): Promise<void> {
    this.changes.push(`bridge ${name}`);
    if (!this.links.has(name)) this.links.set(name, FakeLinks.link(name, { kind: 'bridge', ...(opts.alias ? { alias: opts.alias } : {}) }));
  }
  async ensureVeth(hostName: string, peerName: string, _opts: VethOptions): Promise<void> {
    this.changes.push(`veth ${hostName} ${peerName}`);
  }
  async deleteLink(name: string): Promise<void> {
    this.changes.push(`delete ${name}`);
    this.links.delete(name);
  }
  async ensureAddress(link: string, cidr: string): Promise<void> {
    this.changes.push(`address ${link} ${cidr}`);
  }
  async deleteAddress(link: string, cidr: string): Promise<void> {
    this.changes.push(`address-del ${link} ${cidr}`);
  }
  async setMtu(link: string, mtu: number): Promise<void> {
    this.changes.push(`mtu ${link} ${mtu}`);
  }
  async ensureMacvlan(name: string, parent: string, _opts: MacvlanOptions): Promise<void> {
    this.changes.push(`macvlan ${name} ${parent}`);
  }
  async ensureVlan(name: string, parent: string, id: number): Promise<void> {
    this.changes.push(`vlan ${name} ${parent} ${id}`);
  }
  async setAlias(name: string, alias: string): Promise<void> {
    this.changes.push(`alias ${name} ${alias}`);
  }
  async ensureRoute(destination: string, dev: string): Promise<void> {
    this.changes.push(`route ${destination} ${dev}`);
  }
  async deleteRoute(destination: string, dev: string): Promise<void> {
    this.changes.push(`route-del ${destination} ${dev}`);
  }
}
