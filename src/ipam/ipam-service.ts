// weft's IPAM over the Store (design and trade-offs: docs/ipam.md).
//
// Every request is validated completely before the first store write. Pools are created in one
// transaction that compares the per-space marker, so two hosts (or two requests) cannot create
// overlapping pools. Addresses live in 64-address block records, each changed by compare-and-swap
// together with the pool's list of full blocks when a block fills up or frees up, so an
// allocation costs a handful of key reads and one transaction whatever the pool size, and no
// address is ever handed out twice, across restarts, processes or hosts.
//
// In the global space (overlay, shared by every host on etcd) blocks are also affine to hosts, as
// in Calico: a host allocates in its own blocks, claims a free block when they are full, and
// borrows single addresses from other hosts' blocks only when no block is free (docs/ipam.md,
// "Global space: block affinity"). Uniqueness still rests on the block compare-and-swap alone;
// affinity only keeps hosts from colliding.

import { randomBytes } from 'node:crypto';
import { inject, injectable } from 'inversify';
import { pino, type Logger } from 'pino';
import { ErrorCodes, WeftError, isWeftError, toWeftError } from '../model/errors.js';
import { type Compare, type KeyValue, type Store, StoreToken, type TxnOp } from '../store/store.js';
import {
  type AddressInfo,
  type AddressKind,
  type AddressRequest,
  type Allocation,
  type DefaultPoolSpec,
  DOCKER_DEFAULT_POOLS,
  type HostRoutesSource,
  HostRoutesToken,
  type Ipam,
  type PoolBinding,
  type PoolBindRequest,
  type IpamHostFencing,
  type PoolInfo,
  type PoolRequest,
  type PoolUsage,
} from './ipam.js';
import { type Cidr, type Family, contains, formatCidr, formatIp, overlaps, parseIp, tryParseCidr, tryParseIp } from './cidr.js';
import {
  type PoolGeometry,
  allBlocksFull,
  blockIndexOf,
  blockStart,
  firstFree,
  geometryOf,
  isBlockFull,
  isReserved,
  rangeBlocks,
  claimStart,
  searchOrder,
  searchOrderIn,
  type SearchStep,
  usableCount,
} from './blocks.js';
import { type ParsedPoolSpec, checkDefaultPoolSpec, chooseDefaultSubnet, describeSpec, firstFreeSubnet, parseHostRoutes } from './default-pools.js';
import { ULA_POOL_SIZE, isUlaPrefix, ulaPrefixFromGlobalId } from './ula.js';
import {
  ADDRESS_SPACES,
  type AffinityRecord,
  type BlockRecord,
  HOST_ID_PATTERN,
  type HeldAddress,
  type PoolRecord,
  SCHEMA,
  decodeAffinity,
  decodeBlock,
  decodeCursor,
  decodeFull,
  decodePool,
  decodeUla,
  keys,
} from './records.js';
import { type NormalizedAddressRequest, checkL2Domain, checkPoolId, normalizeAddressRequest, normalizePoolRequest, parseReleaseAddress } from './requests.js';
import { busyError, exhaustedError, inUseError, outOfPoolError, overlapError, poolNotFound, reservedError } from './messages.js';
import { KeyedLock } from '../model/keyed-lock.js';
import { GroupQueue } from './group-queue.js';
import { PoolDraft, type RecordCache } from './pool-draft.js';

export interface IpamOptions {
  /** Default pools in order of preference (weftd --default-address-pool). Default: Docker's. */
  defaultPools?: DefaultPoolSpec[];
  logger?: Logger;
  /** Random bytes for the ULA Global ID; injectable for tests. */
  randomBytes?: (n: number) => Uint8Array;
  /** Clock (ms since the epoch); injectable for tests. */
  now?: () => number;
  /** How long a `pending` pool may wait for a network to bind it. Default one minute. */
  pendingGraceMs?: number;
  /**
   * This host's cluster id (weftd --host-id, or the one kept in <state-dir>/host-id). In the
   * global space it names the blocks this host claims and the endpoint addresses it allocates.
   * Default 'local' (a single host).
   */
  hostId?: string;
}

export const IpamOptionsToken = Symbol.for('weft.IpamOptions');

/** Compare-and-swap attempts before giving up with STORE_CONFLICT. */
const MAX_ATTEMPTS = 50;
/** Blocks read per attempt before re-reading the full-block list (it was stale). */
const MAX_BLOCK_READS = 8;
/** How long the cached list of block affinities is trusted when looking for one of our own
 *  blocks (only this host claims blocks for itself, so it rarely goes stale), and when looking
 *  for a free block to claim (others claim them too). */
const OWN_AFFINITY_MAX_AGE_MS = 30_000;
/** A pending pool no network bound for this long is dropped (Docker creates the network within
 *  milliseconds of RequestPool; a minute leaves room for a busy host). */
export const PENDING_GRACE_MS = 60_000;
const CLAIM_AFFINITY_MAX_AGE_MS = 1_000;

/** Block affinities of one pool, as last read (global space). */
interface AffinityCache {
  /** createRevision of the pool record: a pool released and created again starts afresh. */
  poolCreateRevision: number;
  mine: Set<bigint>;
  others: Set<bigint>;
  loadedAt: number;
}

const RETRY = Symbol('retry');
type Attempt<T> = Promise<T | typeof RETRY>;

/** Requests of one pool decided and committed together at most (group commit). More would
 *  help little (eight concurrent callers already share one flush) and would let a host that
 *  commits large groups claim blocks faster than hosts it races with, which then borrow more. */
const GROUP_MAX_REQUESTS = 8;
/** Ops and compares of a group's transaction after which no further request joins it: etcd
 *  refuses more than --max-txn-ops (128 by default), and a request adds at most a few. */
const GROUP_MAX_TXN_ITEMS = 100;
/** Attempts of a whole group on fresh reads before its requests go one by one. */
const GROUP_FRESH_ATTEMPTS = 2;
/** Lost attempts of a group before it backs off. A group usually loses because another writer
 *  changed a record it compared (another host filled a block: the shared full-block list), and
 *  a fresh read fixes that at once; sleeping sooner lets hosts that win fall far ahead and
 *  claim more blocks than their share, so the others borrow more. */
const GROUP_BACKOFF_AFTER = 4;
/** Thrown inside a group's decisions: the records looked wrong, read them again. */
const STALE = Symbol('stale');
/** A group that changed the full-block list lost its transaction. That list is shared by every
 *  writer of the pool and changes whenever one fills a block, so hosts progressing in step all
 *  change it in the same instant, and the same host can lose it round after round, falling
 *  behind until the free blocks are claimed by the others (the five-host unit test). Such a
 *  group is retried at once with the list written after it, in a small transaction of its own
 *  (mergeFullBlocks); a list left behind by a crash in between is repaired by the next search
 *  that meets the full block (decideAny, decideAffine). */
const LOST_ON_SHARED = Symbol('lost on a shared record');
type GroupOutcome = typeof STALE | typeof LOST_ON_SHARED | { rest: PendingAddress[] };

/** One caller's request waiting in its pool's group queue. */
interface PendingAddress {
  n: NormalizedAddressRequest;
  resolve(info: AddressInfo): void;
  reject(e: unknown): void;
}

/** The address a request is about to take, and its block as the draft sees it. */
interface Pick {
  index: bigint;
  blockKey: string;
  held: Record<string, HeldAddress>;
  value: bigint;
  text: string;
}

interface PoolView {
  kv: KeyValue<unknown>;
  rec: PoolRecord;
  geom: PoolGeometry;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function toInfo(rec: PoolRecord): PoolInfo {
  const info: PoolInfo = { poolId: rec.poolId, addressSpace: rec.addressSpace, pool: rec.pool, v6: rec.v6, data: { ...rec.data } };
  if (rec.subPool) info.subPool = rec.subPool;
  if (rec.network) info.network = rec.network;
  if (rec.l2domain) info.l2domain = rec.l2domain;
  if (rec.binding) info.binding = rec.binding;
  return info;
}

/**
 * The pool a new or binding pool of `space` would clash with in L2 domain `domain` (undefined:
 * the host's routing domain). Unbound pools have no domain yet and count as the host's: an open
 * one may serve a Docker network of a driver weft does not see (host-routed), a pending one is
 * bound within a minute or dropped.
 */
function clashIn(pools: { rec: PoolRecord; cidr: Cidr }[], space: string, subnet: Cidr, domain: string | undefined): { rec: PoolRecord; cidr: Cidr } | undefined {
  return pools.find((p) => p.rec.addressSpace === space && p.rec.l2domain === domain && overlaps(p.cidr, subnet));
}

/** `base`, or `base#2`, `base#3`... : the first id no pool has (the same subnet in several L2
 *  domains). The create transaction compares the chosen key, so a racing create retries. */
function freePoolId(base: string, taken: Set<string>): string {
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}#${i}`)) return `${base}#${i}`;
}

/** A CIDR we wrote ourselves; anything else means the record is damaged. */
function storedCidr(text: string, key: string): Cidr {
  const c = tryParseCidr(text);
  if (!c) throw new WeftError(ErrorCodes.STORE_SCHEMA, `store record ${key} holds an invalid CIDR ${JSON.stringify(text)}`);
  return c;
}

function takenSet(held: Record<string, HeldAddress>): Set<bigint> {
  const out = new Set<bigint>();
  for (const ip of Object.keys(held)) {
    const parsed = tryParseIp(ip);
    if (parsed) out.add(parsed.value);
  }
  return out;
}

@injectable()
export class IpamService implements Ipam, IpamHostFencing {
  private readonly specs: ParsedPoolSpec[];
  private readonly log: Logger;
  private readonly random: (n: number) => Uint8Array;
  private readonly locks = new KeyedLock();
  readonly hostId: string;
  private readonly affinities = new Map<string, AffinityCache>();
  private readonly now: () => number;
  private readonly pendingGraceMs: number;
  /** Per pool: the pool record and the block, full-list and cursor records as last read or
   *  written (PoolDraft). Only ever a starting point: every commit compares what it rests on. */
  private readonly poolCaches = new Map<string, { view: PoolView; records: RecordCache }>();
  /** Parsed forms of record values (a block's held map, a full-block list), by value identity. */
  private readonly takenMemo = new WeakMap<object, Set<bigint>>();
  private readonly groups = new GroupQueue<PendingAddress>(this.locks, (poolId, group) => this.allocateGroup(poolId, group), GROUP_MAX_REQUESTS);

  constructor(
    @inject(StoreToken) private readonly store: Store,
    @inject(HostRoutesToken) private readonly hostRoutes: HostRoutesSource,
    @inject(IpamOptionsToken) opts: IpamOptions = {},
  ) {
    this.specs = (opts.defaultPools ?? DOCKER_DEFAULT_POOLS).map((s) => checkDefaultPoolSpec(s));
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'ipam' });
    this.random = opts.randomBytes ?? ((n) => randomBytes(n));
    this.now = opts.now ?? Date.now;
    this.pendingGraceMs = opts.pendingGraceMs ?? PENDING_GRACE_MS;
    const hostId = opts.hostId ?? 'local';
    if (typeof hostId !== 'string' || !HOST_ID_PATTERN.test(hostId)) {
      throw new WeftError(ErrorCodes.INVALID_OPTION, `invalid IPAM host id ${JSON.stringify(hostId)}: letters, digits, '_', '.', '-' (at most 63)`);
    }
    this.hostId = hostId;
  }

  defaultAddressSpaces(): { local: string; global: string } {
    return { local: 'local', global: 'global' };
  }

  // ---- pools ------------------------------------------------------------------------------

  async requestPool(req: PoolRequest): Promise<PoolInfo> {
    const n = normalizePoolRequest(req);
    const routes = n.pool ? [] : await this.readHostRoutes();
    await this.dropUnclaimedPools();
    return this.retry('pool request', async () => {
      // Explicit pools only have to avoid their own space; default pools avoid every pool.
      const spaces = n.pool ? [n.space] : ADDRESS_SPACES;
      // Read the markers before listing: a pool created after the list moves a marker, and the
      // transaction below then fails and starts over.
      const markers = await Promise.all(spaces.map((s) => this.store.get(keys.space(s))));
      const pools = await this.readAllPools();
      const compares: Compare[] = spaces.map((s, i) => ({ key: keys.space(s), revision: markers[i]?.modRevision ?? 0 }));
      const ops: TxnOp[] = [];

      let chosen: Cidr;
      let binding: PoolBinding | undefined;
      if (n.pool) {
        const subnet = n.pool;
        // Within one space, pools clash only inside one L2 domain (none = the host's routing
        // domain, where unbound pools count too: see clashIn). A deferred (Docker) request is
        // checked as the host's: its domain is not known yet.
        const clash = clashIn(pools, n.space, subnet, n.l2domain);
        if (clash) throw overlapError(subnet, clash.rec, n.l2domain);
        if (n.deferL2Domain) {
          // What it overlaps now lies in other L2 domains: only a driver on yet another domain
          // (macvlan on another parent) can take it, and must bind it (bindPool).
          binding = pools.some((p) => p.rec.addressSpace === n.space && overlaps(p.cidr, subnet)) ? 'pending' : 'open';
        }
        chosen = subnet;
      } else {
        if (n.deferL2Domain) binding = 'open';
        const obstacles = [...routes, ...pools.map((p) => p.cidr)];
        const configured = this.specs.some((s) => s.base.family === n.family);
        if (n.family === 4 || configured) {
          const found = chooseDefaultSubnet(this.specs, n.family, obstacles);
          if (!found) throw this.noDefaultPool(n.family);
          chosen = found;
        } else {
          const ula = await this.hostUla();
          compares.push({ key: keys.ula, revision: ula.revision });
          if (ula.revision === 0) ops.push({ type: 'put', key: keys.ula, value: { prefix: formatCidr(ula.prefix) } });
          const found = firstFreeSubnet(ula.prefix, ULA_POOL_SIZE, obstacles);
          if (!found) {
            throw new WeftError(
              ErrorCodes.NO_DEFAULT_POOL,
              `no IPv6 /${ULA_POOL_SIZE} is left in this host's ULA prefix ${formatCidr(ula.prefix)}: each overlaps a host route or another weft network; give --subnet`,
            );
          }
          chosen = found;
        }
      }

      // Pools of different L2 domains may hold the same subnet: each gets an id of its own.
      const poolId = freePoolId(`${n.space}/${formatCidr(chosen)}${n.l2domain ? `@${n.l2domain}` : ''}`, new Set(pools.map((p) => p.rec.poolId)));
      const geom = geometryOf(chosen, n.subPool ?? chosen);
      const rec: PoolRecord = {
        schema: SCHEMA,
        poolId,
        addressSpace: n.space,
        pool: formatCidr(chosen),
        v6: n.family === 6,
        data: {},
        blockBits: geom.blockBits,
        auto: !n.pool,
        createdAt: new Date(this.now()).toISOString(),
      };
      if (n.subPool) rec.subPool = formatCidr(n.subPool);
      if (n.network) rec.network = n.network;
      if (n.l2domain) rec.l2domain = n.l2domain;
      if (binding) rec.binding = binding;
      compares.push({ key: keys.pool(poolId), revision: 0 });
      ops.push({ type: 'put', key: keys.pool(poolId), value: rec });
      ops.push({ type: 'put', key: keys.space(n.space), value: { changedAt: rec.createdAt } });
      const res = await this.store.txn({ compares, success: ops });
      if (!res.succeeded) return RETRY;
      this.log.info({ poolId, subPool: rec.subPool, auto: rec.auto, binding }, 'pool created');
      return toInfo(rec);
    });
  }

  async bindPool(poolId: string, bind: PoolBindRequest): Promise<PoolInfo> {
    const id = checkPoolId(poolId);
    if (typeof bind !== 'object' || bind === null) throw new WeftError(ErrorCodes.BAD_REQUEST, 'a pool binding is required');
    if (typeof bind.network !== 'string' || bind.network === '') throw new WeftError(ErrorCodes.BAD_REQUEST, 'network name must be a non-empty string');
    const domain = bind.l2domain === undefined ? undefined : checkL2Domain(bind.l2domain, 'L2 domain');
    await this.dropUnclaimedPools();
    return this.retry('binding a pool', async () => {
      const kv = await this.store.get(keys.pool(id));
      if (!kv) throw poolNotFound(id);
      const rec = decodePool(kv.key, kv.value);
      if (!rec.binding) {
        // Bound when requested (weft's CLI, or weft.l2domain): it was checked then.
        if (rec.network === bind.network) return toInfo(rec);
        const named = { ...rec, network: bind.network };
        await this.store.put(keys.pool(id), named, { expectRevision: kv.modRevision });
        this.poolCaches.delete(id);
        return toInfo(named);
      }
      const marker = await this.store.get(keys.space(rec.addressSpace));
      const cidr = storedCidr(rec.pool, kv.key);
      const others = (await this.readAllPools()).filter((p) => p.rec.poolId !== id);
      const clash = clashIn(others, rec.addressSpace, cidr, domain);
      if (clash) throw overlapError(cidr, clash.rec, domain);
      const { binding: _was, l2domain: _none, ...rest } = rec;
      const bound: PoolRecord = { ...rest, network: bind.network, ...(domain ? { l2domain: domain } : {}) };
      const res = await this.store.txn({
        compares: [
          { key: keys.space(rec.addressSpace), revision: marker?.modRevision ?? 0 },
          { key: keys.pool(id), revision: kv.modRevision },
        ],
        success: [
          { type: 'put', key: keys.pool(id), value: bound },
          { type: 'put', key: keys.space(rec.addressSpace), value: { changedAt: new Date(this.now()).toISOString() } },
        ],
      });
      if (!res.succeeded) return RETRY;
      this.poolCaches.delete(id);
      this.log.info({ poolId: id, network: bind.network, l2domain: domain ?? 'host' }, 'pool bound');
      return toInfo(bound);
    });
  }

  /**
   * Drops `pending` pools that no network bound within PENDING_GRACE_MS: a crash between Docker's
   * RequestPool and CreateNetwork (or a ReleasePool that never arrived) must not keep a subnet
   * taken forever. `open` pools stay: a Docker network of a driver weft does not see uses them
   * unbound for its whole life. Called before every pool request and binding, where stale pools
   * would get in the way; returns the pool ids dropped.
   */
  async dropUnclaimedPools(): Promise<string[]> {
    const cutoff = this.now() - this.pendingGraceMs;
    const dropped: string[] = [];
    for (const kv of await this.store.list(keys.poolsPrefix)) {
      const rec = decodePool(kv.key, kv.value);
      if (rec.binding !== 'pending' || rec.network || !(Date.parse(rec.createdAt) < cutoff)) continue;
      // Compared: a pool bound meanwhile is left alone.
      if (await this.deletePool(rec, kv.modRevision)) {
        dropped.push(rec.poolId);
        this.log.warn({ poolId: rec.poolId, createdAt: rec.createdAt }, 'pending pool dropped: no network claimed it');
      }
    }
    return dropped;
  }

  async releasePool(poolId: string): Promise<void> {
    const id = checkPoolId(poolId);
    const kv = await this.store.get(keys.pool(id));
    if (!kv) return;
    await this.deletePool(decodePool(kv.key, kv.value));
    this.log.info({ poolId: id }, 'pool released');
  }

  /** One transaction: the pool, every address in it and its bookkeeping go together. A racing
   *  allocation compares the pool record and fails. With `revision`, only that version goes. */
  private async deletePool(rec: PoolRecord, revision?: number): Promise<boolean> {
    const id = rec.poolId;
    const res = await this.store.txn({
      compares: revision === undefined ? [] : [{ key: keys.pool(id), revision }],
      success: [
        { type: 'delete', key: keys.pool(id) },
        { type: 'deletePrefix', prefix: keys.blocksPrefix(id) },
        { type: 'delete', key: keys.full(id) },
        { type: 'delete', key: keys.cursor(id) },
        { type: 'deletePrefix', prefix: keys.affinityPrefix(id) },
        { type: 'deletePrefix', prefix: keys.hostCursorsPrefix(id) },
        { type: 'put', key: keys.space(rec.addressSpace), value: { changedAt: new Date(this.now()).toISOString() } },
      ],
    });
    this.affinities.delete(id);
    this.poolCaches.delete(id);
    return res.succeeded;
  }

  async getPool(poolId: string): Promise<PoolInfo | undefined> {
    const view = await this.tryReadPool(checkPoolId(poolId));
    return view && toInfo(view.rec);
  }

  async listPools(): Promise<PoolInfo[]> {
    return (await this.readAllPools()).map((p) => toInfo(p.rec));
  }

  async nameNetwork(poolId: string, network: string): Promise<void> {
    const id = checkPoolId(poolId);
    if (typeof network !== 'string' || network === '') {
      throw new WeftError(ErrorCodes.BAD_REQUEST, 'network name must be a non-empty string');
    }
    await this.retry('naming a network', async () => {
      const kv = await this.store.get(keys.pool(id));
      if (!kv) throw poolNotFound(id);
      const rec = decodePool(kv.key, kv.value);
      if (rec.network === network) return undefined;
      await this.store.put(keys.pool(id), { ...rec, network }, { expectRevision: kv.modRevision });
      this.poolCaches.delete(id); // a new pool revision: groups would lose their compare
      return undefined;
    });
  }

  // ---- addresses --------------------------------------------------------------------------

  async requestAddress(req: AddressRequest): Promise<AddressInfo> {
    const n = normalizeAddressRequest(req);
    // Queued per pool: requests that arrive while the pool's previous group commits are decided
    // together and share one transaction (allocateGroup).
    return new Promise<AddressInfo>((resolve, reject) => this.groups.push(n.poolId, { n, resolve, reject }));
  }

  async releaseAddress(poolId: string, address: string): Promise<void> {
    const id = checkPoolId(poolId);
    const ip = parseReleaseAddress(address);
    await this.locks.run(id, () =>
      this.retry('address release', async () => {
        const view = await this.tryReadPool(id);
        if (!view) return undefined; // the pool went first: nothing left to free
        const { rec, geom } = view;
        if (!contains(geom.pool, ip)) throw outOfPoolError(formatIp(ip.family, ip.value), rec);
        const text = formatIp(ip.family, ip.value);
        const index = blockIndexOf(geom, ip.value);
        const blockKey = keys.block(id, formatIp(geom.pool.family, blockStart(geom, index)));
        const [blockKv, fullKv] = await Promise.all([this.store.get(blockKey), this.store.get(keys.full(id))]);
        const held = blockKv ? decodeBlock(blockKey, blockKv.value).held : {};
        if (!held[text]) return undefined; // already free
        const { [text]: gone, ...rest } = held;
        // Under the pool's lock, like the allocation groups: their cached records go.
        this.poolCaches.delete(id);
        if (!(await this.commitBlock(view, index, blockKv, rest, fullKv, []))) return RETRY;
        this.log.debug({ poolId: id, address: text, kind: gone?.kind, owner: gone?.owner }, 'address released');
        return undefined;
      }),
    );
  }

  async allocations(poolId: string): Promise<Allocation[]> {
    const view = await this.readPool(checkPoolId(poolId));
    const out: { value: bigint; a: Allocation }[] = [];
    for (const [ip, held] of await this.readHeld(view)) {
      const a: Allocation = { address: ip, kind: held.kind };
      if (held.owner) a.owner = held.owner;
      if (held.host) a.host = held.host;
      if (typeof held.at === 'string') a.allocatedAt = held.at;
      out.push({ value: parseIp(ip).value, a });
    }
    out.sort((x, y) => (x.value < y.value ? -1 : x.value > y.value ? 1 : 0));
    return out.map((x) => x.a);
  }

  async usage(poolId: string): Promise<PoolUsage> {
    const view = await this.readPool(checkPoolId(poolId));
    let used = 0;
    for (const [ip] of await this.readHeld(view)) {
      if (contains(view.geom.range, parseIp(ip))) used++;
    }
    return { pool: view.rec.pool, usable: Number(usableCount(view.geom)), used };
  }

  // ---- allocation internals: group commit -------------------------------------------------

  /**
   * Allocations of one pool that queued together (GroupQueue): decided one after the other in
   * memory, on a PoolDraft, and committed in one transaction; every caller is answered when that
   * transaction is durable. As many as fit in one transaction go at a time; the rest follow.
   */
  private async allocateGroup(poolId: string, group: PendingAddress[]): Promise<void> {
    let rest = group;
    while (rest.length > 0) rest = await this.commitGroup(poolId, rest);
  }

  /**
   * One transaction for the first requests of `group` (as many as fit); returns those left for
   * the next. The first attempt may decide on cached records; a lost compare, or a refusal
   * decided on cached records, makes it read everything again. A group with alongside writes
   * that keeps losing is split, each request alone, so that one caller's compare that can never
   * hold (its record exists already) cannot hold up the others.
   */
  private async commitGroup(poolId: string, group: PendingAddress[]): Promise<PendingAddress[]> {
    let deferFull = false;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const fresh = attempt > 1;
      // Only a caller's alongside compare can lose for ever (its record exists already); lost
      // IPAM compares are races, and a group retried on fresh reads wins like a single request.
      if (attempt > GROUP_FRESH_ATTEMPTS + 1 && group.length > 1 && group.some((one) => one.n.alongside)) {
        for (const one of group) await this.commitGroup(poolId, [one]);
        return [];
      }
      let outcome: GroupOutcome;
      try {
        outcome = await this.tryGroup(poolId, group, fresh, deferFull);
      } catch (e) {
        this.poolCaches.delete(poolId);
        this.affinities.delete(poolId);
        if (!isWeftError(e, ErrorCodes.STORE_CONFLICT)) {
          // Not a lost race (the store is down, a caller's ops were malformed): alone, each
          // request gets the error that is its own.
          if (group.length > 1) {
            for (const one of group) await this.commitGroup(poolId, [one]);
            return [];
          }
          group[0]!.reject(e);
          return [];
        }
        outcome = STALE;
      }
      if (outcome === LOST_ON_SHARED) {
        deferFull = true;
        continue;
      }
      if (outcome !== STALE) return outcome.rest;
      // Back off a little once two writers keep colliding (other process or host).
      if (attempt > GROUP_BACKOFF_AFTER) await sleep(Math.random() * Math.min(50, 2 ** attempt));
    }
    const err = busyError('address request', MAX_ATTEMPTS);
    for (const one of group) one.reject(err);
    return [];
  }

  private async tryGroup(poolId: string, group: PendingAddress[], fresh: boolean, deferFull = false): Promise<GroupOutcome> {
    let cached = fresh ? undefined : this.poolCaches.get(poolId);
    if (!cached) {
      const view = await this.tryReadPool(poolId);
      if (!view) {
        this.poolCaches.delete(poolId);
        const err = poolNotFound(poolId);
        for (const one of group) one.reject(err);
        return { rest: [] };
      }
      cached = { view, records: new Map() };
      this.poolCaches.set(poolId, cached);
    }
    const { view } = cached;
    const d = new PoolDraft(this.store, cached.records, fresh);
    const answers: { one: PendingAddress; info?: AddressInfo; err?: unknown }[] = [];
    let taken = 0;
    for (const one of group) {
      // Keep the transaction well inside etcd's --max-txn-ops (128 by default).
      if (taken > 0 && d.size >= GROUP_MAX_TXN_ITEMS) break;
      taken++;
      try {
        answers.push({ one, info: await this.decide(d, view, one.n) });
      } catch (e) {
        if (e === STALE) return this.stale(poolId);
        // A refusal decided on records this IPAM cached may be out of date: read them again.
        if (d.usedCache) return this.stale(poolId);
        answers.push({ one, err: e });
      }
    }
    let filled: string[] = [];
    if (!d.empty) {
      const fullKey = keys.full(poolId);
      // After a loss on the shared full-block list (LOST_ON_SHARED), the blocks this group fills
      // are added to the list after the group's commit, in a transaction of their own.
      const full = deferFull ? d.unstage(fullKey) : undefined;
      if (full) {
        const list = (v: unknown) => (v === undefined ? [] : decodeFull(fullKey, v).blocks);
        const before = new Set(list(full.seen));
        filled = list(full.value).filter((b) => !before.has(b));
      }
      const res = await this.store.txn(d.toTxn({ key: keys.pool(poolId), rev: view.kv.modRevision }));
      if (!res.succeeded) {
        this.stale(poolId);
        return !deferFull && d.changes(fullKey) ? LOST_ON_SHARED : STALE;
      }
      d.committed(res.revision);
    }
    for (const a of answers) {
      if (a.info) {
        this.log.debug({ poolId, address: a.info.address, kind: a.one.n.kind, owner: a.one.n.owner }, 'address allocated');
        a.one.resolve(a.info);
      } else a.one.reject(a.err);
    }
    // The answers are durable already; a crash before this write leaves blocks full but not
    // listed, which the next search that meets them repairs.
    if (filled.length > 0) await this.mergeFullBlocks(view, cached.records, filled);
    return { rest: group.slice(taken) };
  }

  /** Adds blocks to the pool's full-block list by compare-and-swap on its latest version (a
   *  merge: nothing to decide, so a lost race just reads again). Only blocks that are full now
   *  are added, compared at the revision they were read at (an address freed since keeps its
   *  block off the list). Keeps the cache in step. */
  private async mergeFullBlocks(view: PoolView, records: RecordCache, blocks: string[]): Promise<void> {
    const poolId = view.rec.poolId;
    const key = keys.full(poolId);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const kv = await this.store.get(key);
      const now = kv ? decodeFull(key, kv.value).blocks : [];
      const compares: Compare[] = [{ key, revision: kv?.modRevision ?? 0 }];
      const add: string[] = [];
      for (const start of blocks.filter((b) => !now.includes(b))) {
        const ip = tryParseIp(start);
        const blockKv = await this.store.get(keys.block(poolId, start));
        if (!ip || !blockKv) continue;
        if (!isBlockFull(view.geom, blockIndexOf(view.geom, ip.value), takenSet(decodeBlock(blockKv.key, blockKv.value).held))) continue;
        compares.push({ key: blockKv.key, revision: blockKv.modRevision });
        add.push(start);
      }
      if (add.length === 0) return;
      const value = { blocks: [...now, ...add] };
      // The pool is compared too: a released pool must not get its list back.
      const pool = await this.store.get(keys.pool(poolId));
      if (!pool) return;
      compares.push({ key: keys.pool(poolId), revision: pool.modRevision });
      const res = await this.store.txn({ compares, success: [{ type: 'put', key, value }] });
      if (res.succeeded) {
        records.set(key, { rev: res.revision, value });
        return;
      }
    }
    // Left for the next search to repair (decideAny, decideAffine).
    records.delete(key);
  }

  /** What this IPAM cached of the pool may be wrong: forget it. */
  private stale(poolId: string): typeof STALE {
    this.poolCaches.delete(poolId);
    this.affinities.delete(poolId);
    return STALE;
  }

  /** Decides one request on the draft (the addresses of earlier requests in the group are already
   *  taken there). Throws the request's own refusal, or STALE when the records looked wrong. */
  private async decide(d: PoolDraft, view: PoolView, n: NormalizedAddressRequest): Promise<AddressInfo> {
    if (n.address) return this.decideSpecific(d, view, n, n.address);
    // A gateway is one address for the whole network: it takes the first free one, like locally.
    if (view.rec.addressSpace === 'global' && n.kind !== 'gateway') return this.decideAffine(d, view, n);
    return this.decideAny(d, view, n);
  }

  private async decideSpecific(d: PoolDraft, view: PoolView, n: NormalizedAddressRequest, ip: { family: Family; value: bigint; text: string }): Promise<AddressInfo> {
    const { rec, geom } = view;
    if (!contains(geom.pool, ip)) throw outOfPoolError(ip.text, rec);
    if (isReserved(geom.pool, ip.value)) throw reservedError(ip.text, rec, geom.pool, ip.value);
    const text = formatIp(ip.family, ip.value);
    const index = blockIndexOf(geom, ip.value);
    const blockKey = keys.block(n.poolId, formatIp(geom.pool.family, blockStart(geom, index)));
    const held = await this.draftBlock(d, blockKey);
    const holder = held[text];
    if (holder) throw inUseError(text, rec, holder);
    return this.take(d, view, n, { index, blockKey, held, value: ip.value, text });
  }

  /**
   * Any free address of the range. Endpoints go round robin from the last address handed out
   * (as Docker does, so a just-released address is not reused while others are free); a gateway
   * without an address gets the first free one.
   */
  private async decideAny(d: PoolDraft, view: PoolView, n: NormalizedAddressRequest): Promise<AddressInfo> {
    const { rec, geom } = view;
    const roundRobin = n.kind !== 'gateway';
    const full = await this.draftFullSet(d, view);
    if (allBlocksFull(geom, full)) throw exhaustedError(rec, usableCount(geom));
    const cursorKey = keys.cursor(n.poolId);
    const start = roundRobin ? await this.draftCursorStart(d, view, cursorKey) : geom.range.base;
    let reads = 0;
    for (const step of searchOrder(geom, start, full)) {
      if (reads++ >= MAX_BLOCK_READS) break;
      const blockKey = keys.block(n.poolId, formatIp(geom.pool.family, blockStart(geom, step.block)));
      const held = await this.draftBlock(d, blockKey);
      const value = firstFree(geom.pool, this.takenOf(held), step.lo, step.hi);
      if (value === undefined) {
        await this.repairFull(d, view, step.block, blockKey, held);
        continue;
      }
      const text = formatIp(geom.pool.family, value);
      // The cursor is a hint, written without a compare: racing writers only bend the order.
      return this.take(d, view, n, { index: step.block, blockKey, held, value, text }, () => {
        if (roundRobin) d.hint(cursorKey, { last: text });
      });
    }
    // Blocks the search repaired into the list may have been the last ones (repairFull).
    if (allBlocksFull(geom, await this.draftFullSet(d, view))) throw exhaustedError(rec, usableCount(geom));
    // The full-block list was stale (another writer filled blocks): read it again.
    throw STALE;
  }

  // ---- global space: block affinity -------------------------------------------------------

  /**
   * Any free address of a global pool for this host, in three steps (Calico's order):
   * 1. its own blocks, round robin from its own cursor: no other host allocates there by choice,
   *    so hosts do not collide per address;
   * 2. when they are full, claim a block that no host has (the affinity record is created in the
   *    same transaction as the first address, with "must not exist" as its compare);
   * 3. when no block is left to claim, borrow one address from another host's block (same
   *    block compare-and-swap as everywhere else; that host may be lost, its held addresses are
   *    never touched, only free ones are taken).
   */
  private async decideAffine(d: PoolDraft, view: PoolView, n: NormalizedAddressRequest): Promise<AddressInfo> {
    const { rec, geom } = view;
    const cursorKey = keys.hostCursor(n.poolId, this.hostId);
    const full = await this.draftFullSet(d, view);
    if (allBlocksFull(geom, full)) throw exhaustedError(rec, usableCount(geom));
    const start = await this.draftCursorStart(d, view, cursorKey);
    const budget = { reads: 0 };

    // Tries one block; undefined = nothing free there (our view of it was stale).
    const tryBlock = async (step: SearchStep, aff: AffinityCache | undefined): Promise<AddressInfo | undefined> => {
      budget.reads++;
      const startText = formatIp(geom.pool.family, blockStart(geom, step.block));
      const blockKey = keys.block(n.poolId, startText);
      const held = await this.draftBlock(d, blockKey);
      const value = firstFree(geom.pool, this.takenOf(held), step.lo, step.hi);
      if (value === undefined) {
        await this.repairFull(d, view, step.block, blockKey, held);
        return undefined;
      }
      const text = formatIp(geom.pool.family, value);
      return this.take(d, view, n, { index: step.block, blockKey, held, value, text }, () => {
        // The cursor is a hint (no compare), as in the local space, but one per host.
        d.hint(cursorKey, { last: text });
        if (aff) {
          // Claimed in the same transaction as the first address (no block is ever claimed
          // empty); the rest of the group sees the block as ours. A lost claim fails the
          // transaction, and the affinities are read again (stale()).
          d.create(keys.affinity(n.poolId, startText), { host: this.hostId, claimedAt: new Date(this.now()).toISOString() } satisfies AffinityRecord);
          aff.mine.add(step.block);
          this.log.info({ poolId: n.poolId, block: startText, host: this.hostId }, 'block claimed');
        }
      });
    };

    // 1. Our own blocks.
    let aff = await this.affinityView(view, OWN_AFFINITY_MAX_AGE_MS);
    for (const step of searchOrderIn(geom, aff.mine, start, full)) {
      if (budget.reads >= MAX_BLOCK_READS) throw STALE;
      const got = await tryBlock(step, undefined);
      if (got !== undefined) return got;
    }
    // 2. A block nobody has claimed (fresh view: other hosts claim too).
    aff = await this.affinityView(view, CLAIM_AFFINITY_MAX_AGE_MS);
    const skip = new Set<bigint>([...full, ...aff.mine, ...aff.others]);
    for (const step of searchOrder(geom, claimStart(geom, this.hostId), skip)) {
      if (budget.reads >= MAX_BLOCK_READS) throw STALE;
      const got = await tryBlock(step, aff);
      if (got !== undefined) return got;
    }
    // 3. Borrow from any block that is not full (including our own, which may have freed up).
    for (const step of searchOrder(geom, start, full)) {
      if (budget.reads >= MAX_BLOCK_READS) break;
      const got = await tryBlock(step, undefined);
      if (got !== undefined) return got;
    }
    // Blocks the search repaired into the list may have been the last ones (repairFull).
    if (allBlocksFull(geom, await this.draftFullSet(d, view))) throw exhaustedError(rec, usableCount(geom));
    throw STALE;
  }

  /**
   * Takes `pick.text` on the draft: the block, the pool's full-block list when the block fills,
   * `then` (cursor hints, a claim) and the caller's alongside records. Everything that can fail
   * runs before the first change, so a refused request leaves the draft as it was.
   */
  private async take(d: PoolDraft, view: PoolView, n: NormalizedAddressRequest, pick: Pick, then?: () => void): Promise<AddressInfo> {
    const { rec, geom } = view;
    const fullKey = keys.full(rec.poolId);
    const listed = await this.draftFullList(d, view);
    const cidr = `${pick.text}/${geom.pool.prefix}`;
    const along = this.alongside(n, cidr);
    const next = { ...pick.held, [pick.text]: this.heldBy(rec, n) };
    const taken = new Set(this.takenOf(pick.held)).add(pick.value);
    this.takenMemo.set(next, taken);
    d.set(pick.blockKey, { held: next } satisfies BlockRecord);
    const { first, last } = rangeBlocks(geom);
    const startText = pick.blockKey.slice(keys.blocksPrefix(rec.poolId).length);
    if (pick.index >= first && pick.index <= last && isBlockFull(geom, pick.index, taken) && !listed.includes(startText)) {
      d.set(fullKey, { blocks: [...listed, startText] });
    }
    then?.();
    d.alongside(along.ops, along.compares);
    return { address: cidr, ...along.info };
  }

  /**
   * A block the search found full but the full-block list does not name (its list update was
   * lost: a crash between a group's commit and mergeFullBlocks): listed in this group's
   * transaction, which also compares the block, so a block freed meanwhile is not listed.
   */
  private async repairFull(d: PoolDraft, view: PoolView, index: bigint, blockKey: string, held: Record<string, HeldAddress>): Promise<void> {
    const { rec, geom } = view;
    const { first, last } = rangeBlocks(geom);
    if (index < first || index > last || !isBlockFull(geom, index, this.takenOf(held))) return;
    const listed = await this.draftFullList(d, view);
    const startText = blockKey.slice(keys.blocksPrefix(rec.poolId).length);
    if (listed.includes(startText)) return;
    d.check(blockKey);
    d.set(keys.full(rec.poolId), { blocks: [...listed, startText] });
  }

  private async draftBlock(d: PoolDraft, key: string): Promise<Record<string, HeldAddress>> {
    const v = await d.get(key);
    return v === undefined ? {} : decodeBlock(key, v).held;
  }

  private async draftFullList(d: PoolDraft, view: PoolView): Promise<string[]> {
    const key = keys.full(view.rec.poolId);
    const v = await d.get(key);
    return v === undefined ? [] : decodeFull(key, v).blocks;
  }

  private async draftFullSet(d: PoolDraft, view: PoolView): Promise<Set<bigint>> {
    const list = await this.draftFullList(d, view);
    // Memoised per list value, like takenOf: a group reads the same list for every request.
    let out = this.takenMemo.get(list);
    if (!out) {
      out = new Set<bigint>();
      for (const start of list) {
        const ip = tryParseIp(start);
        if (ip && contains(view.geom.pool, ip)) out.add(blockIndexOf(view.geom, ip.value));
      }
      this.takenMemo.set(list, out);
    }
    return out;
  }

  /** Where round robin starts: after the last address handed out (per pool, or per host). */
  private async draftCursorStart(d: PoolDraft, view: PoolView, cursorKey: string): Promise<bigint> {
    const v = await d.get(cursorKey);
    if (v === undefined) return view.geom.range.base;
    const last = tryParseIp(decodeCursor(cursorKey, v).last);
    return last && last.family === view.geom.pool.family ? last.value + 1n : view.geom.range.base;
  }

  /** The addresses a block holds, as numbers; memoised per block value (values are never
   *  changed in place), so a group does not parse a block's 64 addresses per request. */
  private takenOf(held: Record<string, HeldAddress>): Set<bigint> {
    let set = this.takenMemo.get(held);
    if (!set) {
      set = takenSet(held);
      this.takenMemo.set(held, set);
    }
    return set;
  }

  /** The caller's records to commit with the address, when they live in this IPAM's store. */
  private alongside(n: NormalizedAddressRequest, cidr: string): { ops: TxnOp[]; compares: Compare[]; info: { wroteAlongside?: true } } {
    if (!n.alongside || n.alongside.store !== this.store) return { ops: [], compares: [], info: {} };
    const w = n.alongside.write(cidr);
    return { ops: w.ops, compares: w.compares, info: { wroteAlongside: true } };
  }
  /** The pool's block affinities, from the cache when it is recent enough. */
  private async affinityView(view: PoolView, maxAgeMs: number): Promise<AffinityCache> {
    const poolId = view.rec.poolId;
    const cached = this.affinities.get(poolId);
    if (cached && cached.poolCreateRevision === view.kv.createRevision && Date.now() - cached.loadedAt <= maxAgeMs) return cached;
    const fresh: AffinityCache = { poolCreateRevision: view.kv.createRevision, mine: new Set(), others: new Set(), loadedAt: Date.now() };
    for (const { block, record } of await this.readAffinities(view)) {
      (record.host === this.hostId ? fresh.mine : fresh.others).add(block);
    }
    this.affinities.set(poolId, fresh);
    return fresh;
  }

  private async readAffinities(view: PoolView): Promise<{ key: string; modRevision: number; start: string; block: bigint; record: AffinityRecord }[]> {
    const prefix = keys.affinityPrefix(view.rec.poolId);
    const out = [];
    for (const kv of await this.store.list(prefix)) {
      const record = decodeAffinity(kv.key, kv.value);
      const start = kv.key.slice(prefix.length);
      const ip = tryParseIp(start);
      if (!ip || !contains(view.geom.pool, ip)) throw new WeftError(ErrorCodes.STORE_SCHEMA, `store record ${kv.key} names no block of pool ${view.rec.pool}`);
      out.push({ key: kv.key, modRevision: kv.modRevision, start, block: blockIndexOf(view.geom, ip.value), record });
    }
    return out;
  }

  /** Block affinities of a global pool: block start address -> host id (for inspection and tests). */
  async blockAffinities(poolId: string): Promise<Record<string, string>> {
    const view = await this.readPool(checkPoolId(poolId));
    const out: Record<string, string> = {};
    for (const a of await this.readAffinities(view)) out[a.start] = a.record.host;
    return out;
  }

  /**
   * A host is gone: its blocks stop being its own, so that other hosts may claim them. The
   * addresses it holds stay held (its containers may still run: only an operator frees them, with
   * releaseHostAddresses). Idempotent; any host may run it. Returns the number of blocks released.
   */
  async releaseHostAffinities(hostId: string): Promise<number> {
    const host = checkHostId(hostId);
    let released = 0;
    for (const pool of await this.globalPools()) {
      await this.locks.run(pool.rec.poolId, async () => {
        for (const a of await this.readAffinities(pool)) {
          if (a.record.host !== host) continue;
          // Compared, so a block the host claimed again meanwhile (it came back) is left alone.
          const res = await this.store.txn({ compares: [{ key: a.key, revision: a.modRevision }], success: [{ type: 'delete', key: a.key }] });
          if (res.succeeded) released++;
        }
        this.affinities.delete(pool.rec.poolId);
      });
    }
    if (released > 0) this.log.info({ host, blocks: released }, 'block affinities of a gone host released');
    return released;
  }

  /**
   * An operator removed a host (`weft host rm`): every global endpoint address it allocated is
   * freed, with its block affinities and cursors. This is the only way addresses of another host
   * are ever freed: reusing the address of a host that is only partitioned would duplicate it.
   */
  async releaseHostAddresses(hostId: string): Promise<{ addresses: number; blocks: number }> {
    const host = checkHostId(hostId);
    let addresses = 0;
    for (const pool of await this.globalPools()) {
      const poolId = pool.rec.poolId;
      addresses += await this.locks.run(poolId, async () => {
        let freed = 0;
        for (const kv of await this.store.list(keys.blocksPrefix(poolId))) {
          freed += await this.retry('releasing a host\'s addresses', async () => {
            const view = await this.tryReadPool(poolId);
            if (!view) return 0;
            const [blockKv, fullKv] = await Promise.all([this.store.get(kv.key), this.store.get(keys.full(poolId))]);
            if (!blockKv) return 0;
            const held = decodeBlock(blockKv.key, blockKv.value).held;
            const keep = Object.fromEntries(Object.entries(held).filter(([, h]) => h.host !== host));
            const n = Object.keys(held).length - Object.keys(keep).length;
            if (n === 0) return 0;
            this.poolCaches.delete(poolId);
            const ip = tryParseIp(kv.key.slice(keys.blocksPrefix(poolId).length));
            if (!ip) throw new WeftError(ErrorCodes.STORE_SCHEMA, `store record ${kv.key} names no block`);
            const ok = await this.commitBlock(view, blockIndexOf(view.geom, ip.value), blockKv, keep, fullKv, []);
            return ok ? n : RETRY;
          });
        }
        await this.store.delete(keys.hostCursor(poolId, host));
        return freed;
      });
    }
    const blocks = await this.releaseHostAffinities(host);
    this.log.info({ host, addresses, blocks }, 'addresses of a removed host released');
    return { addresses, blocks };
  }

  private async globalPools(): Promise<PoolView[]> {
    const out: PoolView[] = [];
    for (const p of await this.readAllPools()) {
      if (p.rec.addressSpace !== 'global') continue;
      const view = await this.tryReadPool(p.rec.poolId);
      if (view) out.push(view);
    }
    return out;
  }

  /** What a block records for an address: the host only for endpoints of the global space
   *  (a gateway or aux address belongs to the network, not to the host that asked first), and
   *  when (so an address Docker asked for and then lost can be told from one just handed out). */
  private heldBy(rec: PoolRecord, n: NormalizedAddressRequest): HeldAddress {
    const h: HeldAddress = { kind: n.kind };
    if (n.owner) h.owner = n.owner;
    if (rec.addressSpace === 'global' && n.kind === 'endpoint') h.host = this.hostId;
    h.at = new Date(this.now()).toISOString();
    return h;
  }

  /**
   * Writes one block (or deletes it when empty) by compare-and-swap, and keeps the pool's
   * full-block list in step in the same transaction. The pool record is compared too, so an
   * allocation racing releasePool fails instead of leaving an orphan block.
   */
  private async commitBlock(
    view: PoolView,
    index: bigint,
    blockKv: KeyValue<unknown> | undefined,
    held: Record<string, HeldAddress>,
    fullKv: KeyValue<unknown> | undefined,
    extra: TxnOp[],
    extraCompares: Compare[] = [],
  ): Promise<boolean> {
    const { rec, geom } = view;
    const family = geom.pool.family;
    const startText = formatIp(family, blockStart(geom, index));
    const blockKey = keys.block(rec.poolId, startText);
    const compares: Compare[] = [
      { key: keys.pool(rec.poolId), revision: view.kv.modRevision },
      { key: blockKey, revision: blockKv?.modRevision ?? 0 },
      ...extraCompares,
    ];
    const ops: TxnOp[] = [];
    if (Object.keys(held).length > 0) ops.push({ type: 'put', key: blockKey, value: { held } satisfies BlockRecord });
    else if (blockKv) ops.push({ type: 'delete', key: blockKey });

    const { first, last } = rangeBlocks(geom);
    const inRange = index >= first && index <= last;
    const nowFull = inRange && isBlockFull(geom, index, takenSet(held));
    const listed = fullKv ? decodeFull(fullKv.key, fullKv.value).blocks : [];
    if (nowFull !== listed.includes(startText)) {
      const blocks = nowFull ? [...listed, startText] : listed.filter((b) => b !== startText);
      compares.push({ key: keys.full(rec.poolId), revision: fullKv?.modRevision ?? 0 });
      if (blocks.length > 0) ops.push({ type: 'put', key: keys.full(rec.poolId), value: { blocks } });
      else ops.push({ type: 'delete', key: keys.full(rec.poolId) });
    }
    ops.push(...extra);
    if (ops.length === 0) return true;
    const res = await this.store.txn({ compares, success: ops });
    return res.succeeded;
  }

  private fullSet(view: PoolView, fullKv: KeyValue<unknown> | undefined): Set<bigint> {
    const out = new Set<bigint>();
    if (!fullKv) return out;
    for (const start of decodeFull(fullKv.key, fullKv.value).blocks) {
      const ip = tryParseIp(start);
      if (ip && contains(view.geom.pool, ip)) out.add(blockIndexOf(view.geom, ip.value));
    }
    return out;
  }

  // ---- reads ------------------------------------------------------------------------------

  private async tryReadPool(poolId: string): Promise<PoolView | undefined> {
    const kv = await this.store.get(keys.pool(poolId));
    if (!kv) return undefined;
    const rec = decodePool(kv.key, kv.value);
    const pool = storedCidr(rec.pool, kv.key);
    const range = rec.subPool ? storedCidr(rec.subPool, kv.key) : pool;
    return { kv, rec, geom: geometryOf(pool, range, rec.blockBits) };
  }

  private async readPool(poolId: string): Promise<PoolView> {
    const view = await this.tryReadPool(poolId);
    if (!view) throw poolNotFound(poolId);
    return view;
  }

  private async readAllPools(): Promise<{ rec: PoolRecord; cidr: Cidr }[]> {
    const kvs = await this.store.list(keys.poolsPrefix);
    return kvs.map((kv) => {
      const rec = decodePool(kv.key, kv.value);
      return { rec, cidr: storedCidr(rec.pool, kv.key) };
    });
  }

  /** Every held address of a pool (for inspection; O(addresses held), not per allocation). */
  private async readHeld(view: PoolView): Promise<[string, HeldAddress][]> {
    const blocks = await this.store.list(keys.blocksPrefix(view.rec.poolId));
    return blocks.flatMap((kv) => Object.entries(decodeBlock(kv.key, kv.value).held));
  }

  private async hostUla(): Promise<{ prefix: Cidr; revision: number }> {
    const kv = await this.store.get(keys.ula);
    if (!kv) return { prefix: ulaPrefixFromGlobalId(this.random(5)), revision: 0 };
    const prefix = storedCidr(decodeUla(kv.key, kv.value).prefix, kv.key);
    if (!isUlaPrefix(prefix)) {
      throw new WeftError(ErrorCodes.STORE_SCHEMA, `store record ${kv.key} holds ${formatCidr(prefix)}, which is not a ULA /48`);
    }
    return { prefix, revision: kv.modRevision };
  }

  private async readHostRoutes(): Promise<Cidr[]> {
    let raw: string[];
    try {
      raw = await this.hostRoutes();
    } catch (e) {
      const err = toWeftError(e);
      throw new WeftError(err.code, `cannot choose a default pool: reading the host routes failed: ${err.message}`, { cause: e });
    }
    const { routes, ignored } = parseHostRoutes(raw);
    if (ignored.length > 0) this.log.warn({ ignored }, 'host routes that are not CIDRs were ignored');
    return routes;
  }

  private noDefaultPool(family: Family): WeftError {
    const specs = this.specs.filter((s) => s.base.family === family);
    const fam = family === 4 ? 'IPv4' : 'IPv6';
    const tried = specs.length > 0 ? `every subnet of ${specs.map(describeSpec).join(', ')} overlaps a host route or another weft network` : 'none is configured';
    return new WeftError(
      ErrorCodes.NO_DEFAULT_POOL,
      `no default ${fam} pool is left: ${tried}; remove unused networks, add a --default-address-pool, or give --subnet`,
    );
  }

  private async retry<T>(what: string, attempt: () => Attempt<T>): Promise<T> {
    for (let i = 1; i <= MAX_ATTEMPTS; i++) {
      let result: T | typeof RETRY;
      try {
        result = await attempt();
      } catch (e) {
        if (!isWeftError(e, ErrorCodes.STORE_CONFLICT)) throw e;
        result = RETRY;
      }
      if (result !== RETRY) return result;
      // Back off a little once two writers keep colliding (other process or host).
      if (i > 2) await sleep(Math.random() * Math.min(50, 2 ** i));
    }
    throw busyError(what, MAX_ATTEMPTS);
  }
}

function checkHostId(hostId: unknown): string {
  if (typeof hostId !== 'string' || !HOST_ID_PATTERN.test(hostId)) {
    throw new WeftError(ErrorCodes.BAD_REQUEST, `invalid host id ${JSON.stringify(hostId)}: letters, digits, '_', '.', '-' (at most 63)`);
  }
  return hostId;
}
