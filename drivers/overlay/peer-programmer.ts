// Programs the VXLAN devices of this host from the cluster's peer table (src/cluster/peers.ts):
// for every remote endpoint a static FDB entry (its MAC -> its host's VTEP) and a permanent
// neighbour entry (its IP -> its MAC, answered by the device's ARP/ND proxy), plus one
// head-end replication entry (00:00:00:00:00:00 -> VTEP) per remote host of the network, so
// broadcast and multicast reach every host.
//
// Every pass is a full diff of the kernel tables against the store, so the same code serves three
// triggers: a watch event on the network's peers (fast convergence), a host state change (a
// "gone" host's entries leave, a returning host's come back; "lost" changes nothing), and the
// periodic anti-entropy pass, whose changes are drift that somebody or something caused: those
// are counted as repairs.

import type { Logger } from 'pino';
import type { HostState } from '../../src/cluster/host-records.js';
import { PEERS_PREFIX, PeerTable, networkOfPeerKey } from '../../src/cluster/peers.js';
import type { Store, Watcher } from '../../src/store/store.js';
import type { CommandRunner } from '../../src/sys/exec.js';
import { FLOOD_MAC, applyTableChanges, listFdb, listNeigh, type FdbEntry, type NeighEntry, type TableChanges } from '../../src/sys/vxlan.js';

export interface PeerProgrammerDeps {
  store: Store;
  runner: CommandRunner;
  selfId: string;
  /** State of a host as membership last saw it; undefined = not known yet (treated as present). */
  hostState: (hostId: string) => HostState | undefined;
  logger: Logger;
  /** Anti-entropy period. */
  repairIntervalMs: number;
}

export interface PeerStats {
  /** Kernel entries added or removed by the anti-entropy pass (drift repaired). */
  repairs: number;
  lastRepairAt?: string;
  /** Passes made, whatever triggered them. */
  passes: number;
  /** Networks with local endpoints, and their remote VTEPs as last programmed. */
  networks: Record<string, { vxlan: string; vteps: string[]; peers: number; fdbEntries: number; neighEntries: number }>;
  /** Sums over `networks`: what this host has programmed (weft host inspect). Optional only so
   *  that an empty stats object (no cluster) needs none of them. */
  peers?: number;
  fdbEntries?: number;
  neighEntries?: number;
}

interface Active {
  vxlan: string;
  /** A pass is running; `again` = another was asked for meanwhile. */
  running?: Promise<void>;
  again: boolean;
  againRepair: boolean;
  vteps: string[];
  peers: number;
  /** Entries the last pass left in the kernel (what the store wants). */
  fdbEntries: number;
  neighEntries: number;
}

export function diffTables(want: { fdb: FdbEntry[]; neigh: NeighEntry[] }, have: { fdb: FdbEntry[]; neigh: NeighEntry[] }): TableChanges {
  const fk = (e: FdbEntry) => `${e.mac}|${e.dst}`;
  const nk = (e: NeighEntry) => `${e.ip}|${e.mac}`;
  const haveF = new Set(have.fdb.map(fk));
  const wantF = new Set(want.fdb.map(fk));
  const haveN = new Set(have.neigh.map(nk));
  const wantN = new Set(want.neigh.map(nk));
  return {
    addFdb: want.fdb.filter((e) => !haveF.has(fk(e))),
    delFdb: have.fdb.filter((e) => !wantF.has(fk(e))),
    addNeigh: want.neigh.filter((e) => !haveN.has(nk(e))),
    delNeigh: have.neigh.filter((e) => !wantN.has(nk(e))),
  };
}

export class PeerProgrammer {
  private readonly table: PeerTable;
  private readonly active = new Map<string, Active>();
  private readonly log: Logger;
  private watcher: Watcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private repairs = 0;
  private passes = 0;
  private lastRepairAt: string | undefined;

  constructor(private readonly deps: PeerProgrammerDeps) {
    this.table = new PeerTable(deps.store);
    this.log = deps.logger.child({ component: 'overlay-peers' });
  }

  /** Starts the watch on the peer table and the anti-entropy timer. */
  async start(): Promise<void> {
    this.watcher = await this.deps.store.watch(PEERS_PREFIX, (ev) => {
      const net = networkOfPeerKey(ev.key);
      if (net && this.active.has(net)) this.schedule(net, false);
    });
    const tick = () => {
      this.timer = setTimeout(() => {
        void Promise.all([...this.active.keys()].map((n) => this.schedule(n, true))).finally(() => {
          if (!this.stopped) tick();
        });
      }, this.deps.repairIntervalMs);
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.watcher?.cancel();
    await Promise.all([...this.active.values()].map((a) => a.running));
  }

  /** The network has local endpoints: program its device now and keep it programmed. */
  async activate(networkId: string, vxlan: string): Promise<void> {
    if (!this.active.has(networkId)) this.active.set(networkId, { vxlan, again: false, againRepair: false, vteps: [], peers: 0, fdbEntries: 0, neighEntries: 0 });
    await this.schedule(networkId, false);
  }

  deactivate(networkId: string): void {
    this.active.delete(networkId);
  }

  /** A host changed state: every network may point at it. */
  hostsChanged(): void {
    for (const n of this.active.keys()) void this.schedule(n, false);
  }

  stats(): PeerStats {
    const networks: PeerStats['networks'] = {};
    let peers = 0;
    let fdbEntries = 0;
    let neighEntries = 0;
    for (const [id, a] of this.active) {
      networks[id] = { vxlan: a.vxlan, vteps: a.vteps, peers: a.peers, fdbEntries: a.fdbEntries, neighEntries: a.neighEntries };
      peers += a.peers;
      fdbEntries += a.fdbEntries;
      neighEntries += a.neighEntries;
    }
    return { repairs: this.repairs, ...(this.lastRepairAt ? { lastRepairAt: this.lastRepairAt } : {}), passes: this.passes, networks, peers, fdbEntries, neighEntries };
  }

  /** Runs a pass for the network; passes of one network never overlap, and requests made while
   *  one runs fold into one more pass. Resolves when a pass that started after the call is done. */
  schedule(networkId: string, repair: boolean): Promise<void> {
    const a = this.active.get(networkId);
    if (!a) return Promise.resolve();
    if (a.running) {
      a.again = true;
      a.againRepair ||= repair;
      return a.running.then(() => a.running ?? undefined);
    }
    const loop = async () => {
      let rep = repair;
      for (;;) {
        await this.pass(networkId, a, rep).catch((err) => this.log.warn({ err, networkId }, 'peer programming pass failed; the next pass retries'));
        if (!a.again) break;
        rep = a.againRepair;
        a.again = false;
        a.againRepair = false;
      }
    };
    a.running = loop().finally(() => {
      a.running = undefined;
    });
    return a.running;
  }

  private async pass(networkId: string, a: Active, repair: boolean): Promise<void> {
    if (this.active.get(networkId) !== a) return;
    const peers = (await this.table.list(networkId)).filter(
      (p) => p.host !== this.deps.selfId && p.vtep !== '' && this.deps.hostState(p.host) !== 'gone',
    );
    const vteps = [...new Set(peers.map((p) => p.vtep))].sort();
    const want = {
      fdb: [...peers.map((p) => ({ mac: p.mac.toLowerCase(), dst: p.vtep })), ...vteps.map((dst) => ({ mac: FLOOD_MAC, dst }))],
      neigh: peers.flatMap((p) => [
        ...(p.ipv4 ? [{ ip: p.ipv4, mac: p.mac.toLowerCase() }] : []),
        ...(p.ipv6 ? [{ ip: p.ipv6, mac: p.mac.toLowerCase() }] : []),
      ]),
    };
    const have = { fdb: await listFdb(this.deps.runner, a.vxlan), neigh: await listNeigh(this.deps.runner, a.vxlan) };
    const changes = diffTables(want, have);
    const n = changes.addFdb.length + changes.delFdb.length + changes.addNeigh.length + changes.delNeigh.length;
    this.passes++;
    a.vteps = vteps;
    a.peers = peers.length;
    if (n === 0) {
      a.fdbEntries = want.fdb.length;
      a.neighEntries = want.neigh.length;
      return;
    }
    if (this.active.get(networkId) !== a) return;
    await applyTableChanges(this.deps.runner, a.vxlan, changes);
    a.fdbEntries = want.fdb.length;
    a.neighEntries = want.neigh.length;
    if (repair) {
      this.repairs += n;
      this.lastRepairAt = new Date().toISOString();
      this.log.warn({ networkId, changes }, 'anti-entropy repaired drift in the VXLAN tables');
    } else {
      this.log.debug({ networkId, changes }, 'VXLAN tables programmed');
    }
  }
}
