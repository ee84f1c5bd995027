// The Firewall port on nftables. Every change is one `nft -f -` transaction: sync rebuilds weft's
// chains and set contents from the whole desired state; the incremental calls only add and delete
// set/map elements, so their cost does not grow with the number of networks and ports.
//
// Calls are serialized. The instance remembers the state it last applied (for host_binding_ipv4,
// port conflicts and self-repair): when an incremental transaction fails because the table was
// flushed (firewalld reload, `nft flush ruleset`), it rebuilds everything from that memory.

import type { Logger } from 'pino';
import { ErrorCodes, WeftError } from '../../model/errors.js';
import type { CommandRunner } from '../exec.js';
import { deleteConntrackMany, type ConntrackFilter } from '../conntrack.js';
import type { Firewall, FirewallNetwork, FirewallPortMapping, FirewallState } from '../firewall.js';
import { DockerUserRule } from './docker-user.js';
import { addedFilter, portsInListing, removedFilter } from './conntrack-filters.js';
import { driftReason, elementDiff, missingSets, narrow, type ElementView, type Tables } from './drift.js';
import { canonical, networkElements, portElement } from './elements.js';
import { parseNftTable } from './listing.js';
import { assertMark, assertTableName, FAMILIES, renderCheckedRuleset, renderElementChanges, type ElementChanges } from './render.js';
import { DEFAULT_MARK } from './schema.js';
import {
  assertNoPortConflicts,
  checkNetwork,
  checkPort,
  checkState,
  portKey,
  samePort,
  type CheckedNetwork,
  type CheckedPort,
  type CheckedState,
} from './validate.js';

export interface NftFirewallOptions {
  /** Name of weft's tables (inet and bridge). Default 'weft'; tests use their own. */
  tableName?: string;
  /** Mark bit for accepted traffic (DOCKER-USER). Default 0x00100000. */
  mark?: number;
}

export class NftFirewall implements Firewall {
  readonly table: string;
  readonly mark: number;
  private readonly dockerUser: DockerUserRule;
  private networks = new Map<string, CheckedNetwork>();
  /** By portKey. */
  private ports = new Map<string, CheckedPort>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly runner: CommandRunner,
    private readonly logger: Logger,
    opts: NftFirewallOptions = {},
  ) {
    this.table = opts.tableName ?? 'weft';
    this.mark = opts.mark ?? DEFAULT_MARK;
    assertTableName(this.table);
    assertMark(this.mark);
    this.dockerUser = new DockerUserRule(runner, this.mark);
  }

  sync(state: FirewallState): Promise<void> {
    return this.serial(async () => {
      const checked = checkState(state); // before anything touches the kernel
      await this.syncChecked(checked);
    });
  }

  addNetwork(network: FirewallNetwork): Promise<void> {
    return this.serial(async () => {
      const n = checkNetwork(network);
      const others = [...this.networks.values()].filter((o) => o.id !== n.id);
      // Checks the bridge name and subnets against the other networks (throws before any change).
      checkState({ networks: [...others, n].map(toInput), ports: [] });
      const old = this.networks.get(n.id);
      const oldPorts = old ? this.portsOf(n.id) : [];
      // A network whose subnets changed would strand its ports' checks; re-check them against the new one.
      for (const p of oldPorts) checkPort(toPortInput(p), n);
      await this.apply({ add: networkElements(n), delete: old ? networkElements(old) : [] }, () => {
        this.networks.set(n.id, n);
      });
    });
  }

  removeNetwork(network: FirewallNetwork): Promise<void> {
    return this.serial(async () => {
      const n = checkNetwork(network);
      const old = this.networks.get(n.id);
      const ports = this.portsOf(n.id);
      const del = [...networkElements(n), ...(old ? networkElements(old) : []), ...ports.map(portElement)];
      await this.apply({ add: [], delete: del }, () => {
        this.networks.delete(n.id);
        for (const p of ports) this.ports.delete(portKey(p));
      });
      await this.flushConntrack(ports.map(removedFilter));
    });
  }

  addPorts(mappings: FirewallPortMapping[]): Promise<void> {
    return this.serial(async () => {
      if (!Array.isArray(mappings)) throw new WeftError(ErrorCodes.BAD_REQUEST, 'port mappings must be an array');
      const checked = mappings.map((p) => {
        const n = this.networks.get(p?.networkId);
        if (!n) {
          throw new WeftError(ErrorCodes.NETWORK_NOT_FOUND, `cannot publish ports of network ${JSON.stringify(p?.networkId)}: the firewall does not know it (sync or addNetwork first)`);
        }
        return checkPort(p, n);
      });
      assertNoPortConflicts(checked, this.ports);
      const fresh = checked.filter((p) => !this.ports.has(portKey(p)));
      await this.apply({ add: checked.map(portElement), delete: [] }, () => {
        for (const p of checked) this.ports.set(portKey(p), p);
      });
      // A UDP/SCTP "flow" to the port that started before it was published would never be DNATed.
      await this.flushConntrack(fresh.filter((p) => p.proto !== 'tcp').map(addedFilter));
    });
  }

  removePorts(mappings: FirewallPortMapping[]): Promise<void> {
    return this.serial(async () => {
      if (!Array.isArray(mappings)) throw new WeftError(ErrorCodes.BAD_REQUEST, 'port mappings must be an array');
      const checked = mappings.map((p) => this.resolveForRemoval(p));
      await this.apply({ add: [], delete: checked.map(portElement) }, () => {
        for (const p of checked) {
          const cached = this.ports.get(portKey(p));
          if (cached && samePort(cached, p)) this.ports.delete(portKey(p));
        }
      });
      await this.flushConntrack(checked.map(removedFilter));
    });
  }

  drifted(state: FirewallState): Promise<boolean> {
    return this.serial(async () => {
      const checked = checkState(state);
      const reason = driftReason(await this.readTables(), checked, this.mark) ?? ((await this.dockerUser.drifted()) ? 'DOCKER-USER rule missing or duplicated' : undefined);
      if (reason) this.logger.info({ table: this.table, reason }, 'firewall drifted from the desired state');
      return reason !== undefined;
    });
  }

  /** Element-level comparison for `weft check` (drift.ts elementDiff). Reads only. */
  elementDiff(state: FirewallState): Promise<{ extra: ElementView[]; missing: ElementView[] }> {
    return this.serial(async () => elementDiff(await this.readTables(), checkState(state)));
  }

  teardown(): Promise<void> {
    return this.serial(async () => {
      const text = FAMILIES.map((f) => `add table ${f} ${this.table}\ndelete table ${f} ${this.table}\n`).join('');
      await this.nft(text);
      await this.dockerUser.remove();
      this.networks.clear();
      this.ports.clear();
    });
  }

  // ---- internals ----

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }

  private portsOf(networkId: string): CheckedPort[] {
    return [...this.ports.values()].filter((p) => p.networkId === networkId);
  }

  private snapshot(): CheckedState {
    return { networks: [...this.networks.values()], ports: [...this.ports.values()] };
  }

  /** A removal names the mapping as it was added: apply the network's host_binding_ipv4 the same way. */
  private resolveForRemoval(p: FirewallPortMapping): CheckedPort {
    const checked = checkPort(p); // the network may be gone already: no subnet check
    const n = this.networks.get(checked.networkId);
    const named = p.hostIp !== undefined && p.hostIp !== '';
    if (!named && checked.family === 4 && n?.hostBindingIpv4) return { ...checked, hostIp: n.hostBindingIpv4 };
    return checked;
  }

  private async syncChecked(checked: CheckedState): Promise<void> {
    const started = performance.now();
    const before = await this.readTables();
    await this.nft(renderCheckedRuleset(checked, this.table, { existing: before, mark: this.mark }));
    await this.dockerUser.ensure();
    const oldPorts = portsInListing(before.inet);
    const wanted = new Set(checked.ports.map((p) => canonical(portElement(p))));
    const had = new Set(oldPorts.map((p) => p.canon));
    this.networks = new Map(checked.networks.map((n) => [n.id, n]));
    this.ports = new Map(checked.ports.map((p) => [portKey(p), p]));
    await this.flushConntrack([
      ...oldPorts.filter((p) => !wanted.has(p.canon)).map((p) => p.filter),
      ...checked.ports.filter((p) => p.proto !== 'tcp' && !had.has(canonical(portElement(p)))).map(addedFilter),
    ]);
    this.logger.debug({ table: this.table, networks: checked.networks.length, ports: checked.ports.length, ms: Math.round(performance.now() - started) }, 'firewall synced');
  }

  /**
   * Applies an element change in one transaction. When it fails, the kernel is read: a missing
   * table or set means someone flushed weft's rules, and the whole state (with this change) is
   * rebuilt; otherwise the change is narrowed to what is really missing or present and retried once.
   */
  private async apply(change: ElementChanges, commit: () => void): Promise<void> {
    const text = renderElementChanges(this.table, change);
    const started = performance.now();
    try {
      if (text) await this.nft(text);
    } catch (first) {
      const listed = await this.readTables();
      if (missingSets(listed).length > 0) {
        this.logger.warn({ table: this.table, missing: missingSets(listed) }, 'weft firewall tables or sets are missing: rebuilding them');
        const keep = { networks: new Map(this.networks), ports: new Map(this.ports) };
        commit();
        try {
          await this.syncChecked(this.snapshot());
        } catch (e) {
          this.networks = keep.networks;
          this.ports = keep.ports;
          throw e;
        }
        return;
      }
      const exact = narrow(change, listed);
      this.logger.debug({ table: this.table, err: (first as Error).message }, 'element change failed; retrying against the kernel content');
      const retry = renderElementChanges(this.table, exact, { exact: true });
      if (retry) await this.nft(retry);
    }
    commit();
    this.logger.debug({ table: this.table, add: change.add.length, delete: change.delete.length, ms: Math.round(performance.now() - started) }, 'firewall elements changed');
  }

  private async nft(text: string): Promise<void> {
    await this.runner.run(['nft', '-f', '-'], { input: text });
  }

  private async readTables(): Promise<Tables> {
    const out: Tables = {};
    for (const f of FAMILIES) {
      const argv = ['nft', '-j', 'list', 'table', f, this.table];
      const r = await this.runner.run(argv, { check: false });
      if (r.code === 0) out[f] = parseNftTable(r.stdout, f, this.table);
      else if (!/No such file or directory/.test(r.stderr)) await this.runner.run(argv); // throws with nft's message
    }
    return out;
  }

  private async flushConntrack(filters: ConntrackFilter[]): Promise<void> {
    if (filters.length === 0) return;
    try {
      const n = await deleteConntrackMany(this.runner, filters);
      if (n > 0) this.logger.debug({ filters: filters.length, deleted: n }, 'conntrack entries deleted');
    } catch (e) {
      // The mapping itself is already changed; a stale flow is worth a warning, not a failed call.
      this.logger.warn({ err: (e as Error).message }, 'could not delete conntrack entries');
    }
  }
}

// ---- helpers (pure) ----

function toInput(n: CheckedNetwork): FirewallNetwork {
  return {
    id: n.id,
    bridge: n.bridge,
    subnetsV4: n.v4.map((s) => s.text),
    subnetsV6: n.v6.map((s) => s.text),
    icc: n.icc,
    masquerade: n.masquerade,
    masqueradeV6: n.masqueradeV6,
    internal: n.internal,
    ...(n.hostBindingIpv4 ? { hostBindingIpv4: n.hostBindingIpv4.text } : {}),
  };
}

function toPortInput(p: CheckedPort): FirewallPortMapping {
  return {
    networkId: p.networkId,
    proto: p.proto,
    family: p.family,
    hostIp: p.hostIp?.text ?? '',
    hostPort: p.hostPort,
    containerIp: p.containerIp.text,
    containerPort: p.containerPort,
  };
}
