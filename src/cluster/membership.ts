// Cluster membership (docs/cluster.md): every weftd registers its host under `hosts/<id>` with a
// lease of --host-ttl seconds and refreshes it every ttl/3; a non-leased `host-info/<id>` keeps
// its identity and last-seen time. From the two, every host derives the state of every other:
// up (lease key present), lost (lease gone: weftd restarting, or cut off) and gone (removed by an
// operator, or its VTEP silent for --host-dead-after while lost). Only "gone" lets other hosts
// drop what points at a host (onHostState); "lost" changes nothing, so a weftd restart or
// upgrade never disturbs running containers elsewhere.

import { pino, type Logger } from 'pino';
import { ErrorCodes, WeftError, isWeftError } from '../model/errors.js';
import type { KeyValue, Lease, Store, WatchEvent, Watcher } from '../store/store.js';
import {
  type GoneReason,
  HOST_INFO_PREFIX,
  HOSTS_PREFIX,
  type HostIdentity,
  type HostInfo,
  type HostInfoRecord,
  type HostRecord,
  type HostState,
  decodeHost,
  decodeHostInfo,
  hostInfoKey,
  hostInfoOf,
  hostKey,
  isHostId,
} from './host-records.js';
import type { Prober } from './prober.js';
import { hostHealthKey } from './health-records.js';
import { hostNotFound, hostUp } from './messages.js';

/** What membership asks of the IPAM when a host is gone or removed (IpamService implements it). */
export interface HostFencing {
  releaseHostAffinities(hostId: string): Promise<number>;
  releaseHostAddresses(hostId: string): Promise<{ addresses: number; blocks: number }>;
}

export interface MembershipOptions {
  store: Store;
  /** This host: id (--host-id or loadOrCreateHostId), hostname, --advertise-addr, weftd version. */
  self: HostIdentity;
  /** --host-ttl: seconds of the registration lease. */
  ttlSeconds: number;
  /** --host-dead-after: seconds a lost host's VTEP may stay silent before it is marked gone. */
  deadAfterSeconds: number;
  /** Probes lost hosts' VTEPs. Without one, hosts only become gone by `weft host rm`. */
  prober?: Prober;
  /** Told when a host is gone (block affinities) or removed (addresses). */
  fencing?: HostFencing;
  logger?: Logger;
  /** Default ttl/3. */
  refreshIntervalMs?: number;
  /** How often lost hosts are probed. Default dead-after/10, between 0.5 and 5 s. */
  probeIntervalMs?: number;
  /** Full re-read of the membership records (repairs a watch that missed something). Default 30 s. */
  resyncIntervalMs?: number;
}

export interface HostStateChange {
  /** The state before; undefined the first time this weftd sees the host. */
  previous?: HostState;
  /** The host's records were deleted (`weft host rm`): it is gone and will not be listed any more. */
  removed: boolean;
}

/**
 * Called on every state change, this host's own included (a host may briefly see itself lost or
 * gone after an outage, until its next refresh: never tear down local state on that). Must be
 * idempotent: a removed host is reported gone, then gone with `removed`.
 */
export type HostStateListener = (host: HostInfo, state: HostState, change: HostStateChange) => void;

/** Compare-and-swap attempts on a host's records before giving up. */
const MAX_ATTEMPTS = 10;

const monotonicMs = () => performance.now();

function describe(h: { id: string; hostname: string }): string {
  return h.hostname && h.hostname !== h.id ? `${h.id} (${h.hostname})` : h.id;
}

/** A self-rescheduling timer: the next run starts only after the previous one finished. */
class Loop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly fn: () => Promise<void>,
  ) {}

  start(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.fn().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

export class Membership {
  readonly selfId: string;
  private readonly store: Store;
  private readonly self: HostIdentity;
  private readonly ttlMs: number;
  private readonly deadAfterMs: number;
  private readonly log: Logger;
  private readonly startedAt = new Date().toISOString();

  private lease: Lease | undefined;
  /** Monotonic time of the last successful registration or refresh. */
  private lastRefreshOk = -Infinity;
  private refreshFailing = false;

  /** The store's records as the watch last delivered them, with the revision that wrote them. */
  private readonly leased = new Map<string, { rec: HostRecord; rev: number }>();
  private readonly infos = new Map<string, { rec: HostInfoRecord; rev: number }>();
  private readonly states = new Map<string, HostState>();
  private readonly lastKnown = new Map<string, HostInfo>();
  /** Lost hosts whose VTEP did not answer: monotonic time of the first unanswered probe. */
  private readonly silentSince = new Map<string, number>();
  private readonly listeners = new Set<HostStateListener>();

  private watchers: Watcher[] = [];
  private loops: Loop[] = [];
  private started = false;
  private stopped = false;

  constructor(private readonly opts: MembershipOptions) {
    if (!isHostId(opts.self?.id)) throw new WeftError(ErrorCodes.INVALID_OPTION, `invalid host id ${JSON.stringify(opts.self?.id)}`);
    for (const [name, v] of [
      ['host TTL', opts.ttlSeconds],
      ['host dead-after', opts.deadAfterSeconds],
    ] as const) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new WeftError(ErrorCodes.INVALID_OPTION, `invalid ${name} ${String(v)}: expected seconds > 0`);
    }
    this.store = opts.store;
    this.self = { ...opts.self };
    this.selfId = opts.self.id;
    this.ttlMs = opts.ttlSeconds * 1000;
    this.deadAfterMs = opts.deadAfterSeconds * 1000;
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'membership' });
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Registers this host, loads and watches everyone's records, starts refresh and probes. */
  async start(): Promise<void> {
    if (this.started) throw new WeftError(ErrorCodes.INTERNAL, 'membership already started');
    this.started = true;
    await this.register();
    await this.loadAndWatch();
    const ttl = this.opts.ttlSeconds;
    const refreshMs = this.opts.refreshIntervalMs ?? Math.max(100, (ttl * 1000) / 3);
    const probeMs = this.opts.probeIntervalMs ?? Math.min(5000, Math.max(500, this.deadAfterMs / 10));
    const resyncMs = this.opts.resyncIntervalMs ?? 30_000;
    this.loops = [
      new Loop(refreshMs, () => this.guard('refresh', () => this.refresh())),
      new Loop(resyncMs, () => this.guard('resync', () => this.resync())),
    ];
    if (this.opts.prober) this.loops.push(new Loop(probeMs, () => this.guard('probe', () => this.probeLost())));
    for (const l of this.loops) l.start();
    this.log.info({ host: this.selfId, ttl, deadAfter: this.opts.deadAfterSeconds }, 'host registered');
  }

  /**
   * Stops refreshing and watching. With `revoke` (the default, a clean shutdown) the lease is
   * ended at once, so the others see this host "lost" now rather than after the TTL; without it
   * the lease runs out by itself (what a crash looks like; tests use it).
   */
  async stop(opts: { revoke?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.loops.map((l) => l.stop()));
    await Promise.all(this.watchers.map((w) => w.cancel().catch(() => undefined)));
    this.watchers = [];
    if (opts.revoke !== false && this.lease) {
      try {
        await this.touchInfo();
        await this.lease.revoke();
      } catch (e) {
        this.log.warn({ err: e }, 'could not end the registration lease; it runs out by itself');
      }
    }
    this.lease = undefined;
  }

  /** Calls listener on every state change of every host (this one included). Returns unsubscribe. */
  onHostState(listener: HostStateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- queries ---------------------------------------------------------------------------------

  /** Every known host, read from the store now (not from the watch cache). Sorted by hostname, id. */
  async hosts(): Promise<HostInfo[]> {
    const [hostKvs, infoKvs] = await Promise.all([this.store.list(HOSTS_PREFIX), this.store.list(HOST_INFO_PREFIX)]);
    const leased = new Map<string, HostRecord>();
    const infos = new Map<string, HostInfoRecord>();
    for (const kv of hostKvs) {
      const rec = this.decodeOrSkip(kv, decodeHost);
      if (rec) leased.set(rec.id, rec);
    }
    for (const kv of infoKvs) {
      const rec = this.decodeOrSkip(kv, decodeHostInfo);
      if (rec) infos.set(rec.id, rec);
    }
    const out: HostInfo[] = [];
    for (const id of new Set([...leased.keys(), ...infos.keys()])) {
      const h = hostInfoOf(leased.get(id), infos.get(id));
      if (h) out.push(h);
    }
    return out.sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** States as this weftd's watch last saw them (no store read). */
  snapshot(): HostInfo[] {
    const out: HostInfo[] = [];
    for (const id of this.states.keys()) {
      const h = hostInfoOf(this.leased.get(id)?.rec, this.infos.get(id)?.rec);
      if (h) out.push(h);
    }
    return out;
  }

  /** A host by id, or by hostname when that names exactly one host. */
  async find(ref: string): Promise<HostInfo> {
    if (typeof ref !== 'string' || ref === '' || ref.length > 255) {
      throw new WeftError(ErrorCodes.BAD_REQUEST, 'a host id or hostname (at most 255 characters) is required');
    }
    const all = await this.hosts();
    const byId = all.find((h) => h.id === ref);
    if (byId) return byId;
    const byName = all.filter((h) => h.hostname === ref);
    if (byName.length === 1) return byName[0]!;
    if (byName.length > 1) {
      throw new WeftError(ErrorCodes.BAD_REQUEST, `hostname ${JSON.stringify(ref)} names ${byName.length} hosts (${byName.map((h) => h.id).join(', ')}): give the host id`, {
        details: { ids: byName.map((h) => h.id) },
      });
    }
    throw hostNotFound(ref);
  }

  // ---- removal (weft host rm) -------------------------------------------------------------------

  /**
   * Removes a host for good: marks it gone (so every weftd drops what points at it), frees its
   * global addresses and block affinities (fencing), then deletes its records. Refuses a host
   * that is up unless `force` (its weftd, if it is in fact running, registers again at its next
   * refresh, but its addresses may have been handed out again meanwhile: docs/cluster.md).
   */
  async remove(ref: string, opts: { force?: boolean } = {}): Promise<HostInfo> {
    const force = opts.force === true;
    const target = await this.find(ref);
    if (target.id === this.selfId) {
      throw new WeftError(
        ErrorCodes.BAD_REQUEST,
        `host ${describe(target)} is the one this weftd runs on: run weft host rm on another host (after stopping weftd here)`,
      );
    }
    if (target.state === 'up' && !force) throw hostUp(target);
    const marked = await this.markGone(target.id, 'removed', { unlessUp: !force });
    if (marked === 'up') throw hostUp(target);
    if (this.opts.fencing) {
      const freed = await this.opts.fencing.releaseHostAddresses(target.id);
      this.log.info({ host: target.id, ...freed }, 'global addresses of the removed host freed');
    }
    if (force) {
      await this.store.txn({
        compares: [],
        success: [{ type: 'delete', key: hostInfoKey(target.id) }, { type: 'delete', key: hostKey(target.id) }, { type: 'delete', key: hostHealthKey(target.id) }],
      });
    } else {
      const res = await this.store.txn({
        compares: [
          { key: hostKey(target.id), revision: 0 },
          { key: hostInfoKey(target.id), revision: marked },
        ],
        success: [{ type: 'delete', key: hostInfoKey(target.id) }, { type: 'delete', key: hostHealthKey(target.id) }],
      });
      if (!res.succeeded) {
        throw new WeftError(
          ErrorCodes.HOST_UP,
          `host ${describe(target)} registered again while it was being removed; its global addresses were freed and may be handed out twice: reconnect its endpoints, or run weft host rm again once its weftd is stopped`,
          { details: { id: target.id } },
        );
      }
    }
    this.log.warn({ host: target.id, hostname: target.hostname, force }, 'host removed');
    return { ...target, state: 'gone' };
  }

  // ---- registration ------------------------------------------------------------------------------

  private async register(): Promise<void> {
    const lease = await this.store.grantLease(this.opts.ttlSeconds);
    const rec: HostRecord = { ...this.self, startedAt: this.startedAt, ttl: this.opts.ttlSeconds };
    try {
      await this.store.put(hostKey(this.selfId), rec, { lease: lease.id });
    } catch (e) {
      await lease.revoke().catch(() => undefined);
      throw e;
    }
    const old = this.lease;
    this.lease = lease;
    this.lastRefreshOk = monotonicMs();
    // The key now belongs to the new lease, so ending the old one cannot delete it.
    if (old) await old.revoke().catch(() => undefined);
    await this.touchInfo();
  }

  /** Refreshes the lease and the last-seen time; registers again when the lease is lost. */
  private async refresh(): Promise<void> {
    if (!this.lease) {
      await this.register();
      this.log.warn({ host: this.selfId }, 'registered again with a new lease');
      return;
    }
    try {
      await this.lease.keepAlive();
      this.lastRefreshOk = monotonicMs();
    } catch (e) {
      if (isWeftError(e, ErrorCodes.STORE_LEASE_EXPIRED)) {
        this.log.warn({ host: this.selfId }, 'registration lease expired (store unreachable or process stalled); registering again');
        this.lease = undefined;
        await this.register();
        return;
      }
      // Unreachable for longer than the TTL: the lease is over even if nobody said so yet.
      if (monotonicMs() - this.lastRefreshOk > this.ttlMs) this.lease = undefined;
      throw e;
    }
    // `weft host rm --force` deletes our key while our lease lives: write it again.
    if (!this.leased.has(this.selfId) && !(await this.store.get(hostKey(this.selfId)))) {
      this.log.warn({ host: this.selfId }, 'this host was removed while running; registering again');
      await this.store.put(hostKey(this.selfId), { ...this.self, startedAt: this.startedAt, ttl: this.opts.ttlSeconds } satisfies HostRecord, { lease: this.lease.id });
    }
    await this.touchInfo();
  }

  /** Writes host-info/<self> with the current identity and last-seen time, keeping firstSeen. */
  private async touchInfo(): Promise<void> {
    const key = hostInfoKey(this.selfId);
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const kv = await this.store.get(key);
      const prev = kv ? this.decodeOrSkip(kv, decodeHostInfo) : undefined;
      const now = new Date().toISOString();
      if (prev?.gone) {
        const why = prev.gone.reason === 'removed' ? 'removed by an operator' : 'marked gone (its VTEP did not answer)';
        this.log.warn({ host: this.selfId, by: prev.gone.by, at: prev.gone.at }, `this host was ${why}; it is back`);
      }
      // No gone mark: a host that writes its own record is up.
      const next: HostInfoRecord = { ...this.self, startedAt: this.startedAt, ttl: this.opts.ttlSeconds, firstSeen: prev?.firstSeen ?? now, lastSeen: now };
      try {
        await this.store.put(key, next, { expectRevision: kv?.modRevision ?? 0 });
        return;
      } catch (e) {
        if (!isWeftError(e, ErrorCodes.STORE_CONFLICT)) throw e;
      }
    }
    throw new WeftError(ErrorCodes.STORE_CONFLICT, `could not update ${key}: it kept changing; will retry`);
  }

  // ---- gone ---------------------------------------------------------------------------------------

  /**
   * Marks a host gone (idempotent). With `unlessUp` the mark is written only while its lease key
   * is absent (compared in the same transaction), so a host that comes back at that moment is
   * never marked. Returns the revision of the marked record, or 'up' when it was up.
   */
  async markGone(id: string, reason: GoneReason, opts: { unlessUp: boolean }): Promise<number | 'up'> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const [hostKv, infoKv] = await Promise.all([this.store.get(hostKey(id)), this.store.get(hostInfoKey(id))]);
      if (opts.unlessUp && hostKv) return 'up';
      let info = infoKv ? decodeHostInfo(infoKv.key, infoKv.value) : undefined;
      if (!info) {
        if (!hostKv) throw hostNotFound(id);
        const leased = decodeHost(hostKv.key, hostKv.value);
        const now = new Date().toISOString();
        info = { ...leased, firstSeen: now, lastSeen: now };
      }
      if (info.gone && (info.gone.reason === reason || info.gone.reason === 'removed')) return infoKv!.modRevision;
      const next: HostInfoRecord = { ...info, gone: { at: new Date().toISOString(), reason, by: this.selfId } };
      const res = await this.store.txn({
        compares: [{ key: hostInfoKey(id), revision: infoKv?.modRevision ?? 0 }, ...(opts.unlessUp ? [{ key: hostKey(id), revision: 0 }] : [])],
        success: [{ type: 'put', key: hostInfoKey(id), value: next }],
      });
      if (res.succeeded) {
        this.log.warn({ host: id, hostname: info.hostname, reason }, 'host marked gone');
        return res.revision;
      }
    }
    throw new WeftError(ErrorCodes.STORE_CONFLICT, `could not mark host ${id} gone: its records kept changing; try again`);
  }

  /** Probes every lost host's VTEP; marks it gone once silent for --host-dead-after. */
  private async probeLost(): Promise<void> {
    const prober = this.opts.prober;
    if (!prober) return;
    const lost = [...this.states].filter(([id, s]) => s === 'lost' && id !== this.selfId).map(([id]) => this.infos.get(id)?.rec);
    await Promise.all(
      lost.map(async (h) => {
        if (!h || !h.advertiseAddr) return;
        const t = monotonicMs();
        const answered = await prober.probe(h.advertiseAddr);
        if (this.states.get(h.id) !== 'lost') return;
        if (answered) {
          this.silentSince.delete(h.id);
          return;
        }
        const since = this.silentSince.get(h.id) ?? t;
        this.silentSince.set(h.id, since);
        // A weftd that is itself cut off from the store judges nobody.
        const healthy = this.lease !== undefined && monotonicMs() - this.lastRefreshOk <= this.ttlMs;
        if (monotonicMs() - since >= this.deadAfterMs && healthy) {
          this.log.warn({ host: h.id, addr: h.advertiseAddr, silentMs: Math.round(monotonicMs() - since) }, 'lost host did not answer probes');
          await this.markGone(h.id, 'probe', { unlessUp: true });
        }
      }),
    );
  }

  // ---- watch -------------------------------------------------------------------------------------

  private async loadAndWatch(): Promise<void> {
    const rev = await this.load();
    this.watchers = [
      await this.store.watch(HOSTS_PREFIX, (ev) => this.apply(ev), { afterRevision: rev }),
      await this.store.watch(HOST_INFO_PREFIX, (ev) => this.apply(ev), { afterRevision: rev }),
    ];
  }

  /** Reads both prefixes at one revision (retrying while writes slip in), replacing the cache. */
  private async load(): Promise<number> {
    for (let i = 0; ; i++) {
      const rev = await this.store.revision();
      const [hostKvs, infoKvs] = await Promise.all([this.store.list(HOSTS_PREFIX), this.store.list(HOST_INFO_PREFIX)]);
      if ((await this.store.revision()) !== rev && i < 5) continue;
      // With i >= 5 a change made during the list may also arrive as an event: apply() ignores
      // events older than what it holds for that key.
      this.leased.clear();
      this.infos.clear();
      for (const kv of hostKvs) {
        const rec = this.decodeOrSkip(kv, decodeHost);
        if (rec) this.leased.set(rec.id, { rec, rev: kv.modRevision });
      }
      for (const kv of infoKvs) {
        const rec = this.decodeOrSkip(kv, decodeHostInfo);
        if (rec) this.infos.set(rec.id, { rec, rev: kv.modRevision });
      }
      for (const id of new Set([...this.states.keys(), ...this.leased.keys(), ...this.infos.keys()])) this.recompute(id);
      return rev;
    }
  }

  private async resync(): Promise<void> {
    // Stop the watches, re-read, watch again from the new revision: nothing missed in between.
    const old = this.watchers;
    this.watchers = [];
    await Promise.all(old.map((w) => w.cancel().catch(() => undefined)));
    if (this.stopped) return;
    await this.loadAndWatch();
  }

  private apply(ev: WatchEvent): void {
    if (this.stopped) return;
    const isHost = ev.key.startsWith(HOSTS_PREFIX);
    const map = isHost ? this.leased : this.infos;
    const id = ev.key.slice((isHost ? HOSTS_PREFIX : HOST_INFO_PREFIX).length);
    const cur = map.get(id);
    if (cur && ev.revision <= cur.rev) return;
    if (ev.type === 'delete') {
      map.delete(id);
    } else {
      const kv = { key: ev.key, value: ev.value, createRevision: ev.revision, modRevision: ev.revision };
      const rec = isHost ? this.decodeOrSkip(kv, decodeHost) : this.decodeOrSkip(kv, decodeHostInfo);
      if (!rec) return;
      (map as Map<string, { rec: HostRecord; rev: number }>).set(id, { rec, rev: ev.revision });
    }
    this.recompute(id);
  }

  private recompute(id: string): void {
    const prev = this.states.get(id);
    const info = hostInfoOf(this.leased.get(id)?.rec, this.infos.get(id)?.rec);
    if (!info) {
      if (prev === undefined) return;
      this.states.delete(id);
      this.silentSince.delete(id);
      const last = this.lastKnown.get(id);
      this.lastKnown.delete(id);
      if (last) this.emit({ ...last, state: 'gone' }, 'gone', { previous: prev, removed: true });
      return;
    }
    this.lastKnown.set(id, info);
    if (info.state === prev) return;
    this.states.set(id, info.state);
    if (info.state !== 'lost') this.silentSince.delete(id);
    if (prev !== undefined || info.state !== 'up' || id !== this.selfId) {
      this.log.info({ host: id, hostname: info.hostname, state: info.state, previous: prev }, 'host state');
    }
    this.emit(info, info.state, { previous: prev, removed: false });
  }

  private emit(host: HostInfo, state: HostState, change: HostStateChange): void {
    if (state === 'gone' && change.previous !== 'gone' && !change.removed && host.id !== this.selfId) {
      const fencing = this.opts.fencing;
      if (fencing) {
        // Idempotent and compared: every weftd may do it; the first one wins, the rest find nothing.
        void fencing.releaseHostAffinities(host.id).catch((e: unknown) => this.log.warn({ err: e, host: host.id }, 'releasing block affinities failed'));
      }
    }
    for (const l of this.listeners) {
      try {
        l(host, state, change);
      } catch (e) {
        this.log.error({ err: e, host: host.id, state }, 'host state listener failed');
      }
    }
  }

  // ---- helpers -----------------------------------------------------------------------------------

  private decodeOrSkip<T>(kv: KeyValue<unknown>, decode: (key: string, v: unknown) => T): T | undefined {
    try {
      return decode(kv.key, kv.value);
    } catch (e) {
      this.log.warn({ err: e, key: kv.key }, 'ignoring a membership record this weft does not understand');
      return undefined;
    }
  }

  private async guard(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
      if (what === 'refresh' && this.refreshFailing) {
        this.refreshFailing = false;
        this.log.info({ host: this.selfId }, 'registration refreshed again');
      }
    } catch (e) {
      if (what === 'refresh') {
        // One line per outage, not one per tick.
        if (!this.refreshFailing) this.log.warn({ err: e, host: this.selfId }, 'refreshing the host registration failed; retrying');
        this.refreshFailing = true;
      } else {
        this.log.warn({ err: e }, `membership ${what} failed; retrying`);
      }
    }
  }
}
