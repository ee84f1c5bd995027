// Pure math of a pool cut into allocation blocks (see docs/ipam.md, "Storage layout").
//
// A pool is split into aligned blocks of up to 64 addresses (Calico's /26). Each block that holds
// at least one address is one store record, so an allocation reads and compare-and-swaps one small
// record whatever the pool size, and a v6 /64 is never iterated: only blocks that exist, plus the
// set of blocks that are full, are ever looked at.
//
// Addresses come from the *range*: the sub-pool (--ip-range) when set, else the whole pool. Gateway
// and aux addresses may sit anywhere in the pool; a block is "full" when no address of the range
// inside it is free.

import { type Cidr, lastOf, sizeOf } from './cidr.js';

/** 64 addresses per block, like Calico's default /26 blocks. */
export const MAX_BLOCK_BITS = 6;

export interface PoolGeometry {
  pool: Cidr;
  /** Where "any free address" requests are served from: the sub-pool, or the pool. */
  range: Cidr;
  /** log2 of the block size; stored with the pool so a later change of the default is harmless. */
  blockBits: number;
}

export function geometryOf(pool: Cidr, range: Cidr = pool, blockBits?: number): PoolGeometry {
  const hostBits = (pool.family === 4 ? 32 : 128) - pool.prefix;
  return { pool, range, blockBits: blockBits ?? Math.min(MAX_BLOCK_BITS, hostBits) };
}

/**
 * Addresses never handed out: in IPv4 the network and broadcast address (except in /31 and /32,
 * which have neither, RFC 3021); in IPv6 the subnet-router anycast address (the all-zeros host).
 * Same rule as libnetwork's allocator.
 */
export function isReserved(pool: Cidr, value: bigint): boolean {
  if (pool.family === 6) return value === pool.base;
  if (pool.prefix >= 31) return false;
  return value === pool.base || value === lastOf(pool);
}

function reservedIn(pool: Cidr, lo: bigint, hi: bigint): number {
  const candidates = pool.family === 6 ? [pool.base] : pool.prefix >= 31 ? [] : [pool.base, lastOf(pool)];
  return candidates.filter((v) => v >= lo && v <= hi).length;
}

/** Number of addresses of the range that can ever be handed out. */
export function usableCount(g: PoolGeometry): bigint {
  return sizeOf(g.range) - BigInt(reservedIn(g.pool, g.range.base, lastOf(g.range)));
}

export const blockSize = (g: PoolGeometry): bigint => 1n << BigInt(g.blockBits);

export const blockIndexOf = (g: PoolGeometry, value: bigint): bigint => (value - g.pool.base) >> BigInt(g.blockBits);

export const blockStart = (g: PoolGeometry, index: bigint): bigint => g.pool.base + (index << BigInt(g.blockBits));

/** First and last block index that intersect the range. */
export function rangeBlocks(g: PoolGeometry): { first: bigint; last: bigint; count: bigint } {
  const first = blockIndexOf(g, g.range.base);
  const last = blockIndexOf(g, lastOf(g.range));
  return { first, last, count: last - first + 1n };
}

/** The part of block `index` that lies in the range, as [lo, hi] inclusive. */
export function blockSpan(g: PoolGeometry, index: bigint): { lo: bigint; hi: bigint } {
  const start = blockStart(g, index);
  const end = start + blockSize(g) - 1n;
  const rangeLast = lastOf(g.range);
  return { lo: start > g.range.base ? start : g.range.base, hi: end < rangeLast ? end : rangeLast };
}

/** First address in [lo, hi] that is neither reserved nor taken. At most one block is scanned. */
export function firstFree(pool: Cidr, taken: ReadonlySet<bigint>, lo: bigint, hi: bigint): bigint | undefined {
  for (let v = lo; v <= hi; v++) {
    if (!isReserved(pool, v) && !taken.has(v)) return v;
  }
  return undefined;
}

/** A block is full when none of its range addresses is free. */
export function isBlockFull(g: PoolGeometry, index: bigint, taken: ReadonlySet<bigint>): boolean {
  const { lo, hi } = blockSpan(g, index);
  return lo > hi || firstFree(g.pool, taken, lo, hi) === undefined;
}

export interface SearchStep {
  block: bigint;
  /** Inclusive bounds of the addresses to try in this block. */
  lo: bigint;
  hi: bigint;
}

/**
 * The order in which blocks are tried for "any free address", starting at `start` (the address
 * after the last one handed out, for Docker-like round robin; the range start for a gateway):
 * the start block from `start` on, then every block not known to be full, wrapping around the
 * range, and finally the start block below `start`. Lazy: the caller stops at the first hit, and
 * skipping full blocks costs at most `full.size` steps, so a v6 /64 is never walked.
 */
export function* searchOrder(g: PoolGeometry, start: bigint, full: ReadonlySet<bigint>): Generator<SearchStep> {
  const { first, last, count } = rangeBlocks(g);
  const from = start < g.range.base || start > lastOf(g.range) ? g.range.base : start;
  const startBlock = blockIndexOf(g, from);
  const startSpan = blockSpan(g, startBlock);
  if (!full.has(startBlock)) yield { block: startBlock, lo: from, hi: startSpan.hi };
  let b = startBlock;
  for (let step = 1n; step < count; step++) {
    b = b === last ? first : b + 1n;
    if (full.has(b)) continue;
    const span = blockSpan(g, b);
    yield { block: b, lo: span.lo, hi: span.hi };
  }
  if (!full.has(startBlock) && from > startSpan.lo) yield { block: startBlock, lo: startSpan.lo, hi: from - 1n };
}

/** True when every block of the range is full, i.e. the range is exhausted. */
export function allBlocksFull(g: PoolGeometry, full: ReadonlySet<bigint>): boolean {
  const { first, last, count } = rangeBlocks(g);
  let n = 0n;
  for (const b of full) if (b >= first && b <= last) n++;
  return n >= count;
}

/**
 * Like searchOrder, but only over `blocks` (a host's own blocks, global space): the block holding
 * `start` from `start` on, then the other listed blocks in address order wrapping around, and
 * finally the start block below `start`. Blocks outside the range or known to be full are skipped.
 */
export function* searchOrderIn(
  g: PoolGeometry,
  blocks: Iterable<bigint>,
  start: bigint,
  full: ReadonlySet<bigint>,
): Generator<SearchStep> {
  const { first, last } = rangeBlocks(g);
  const from = start < g.range.base || start > lastOf(g.range) ? g.range.base : start;
  const startBlock = blockIndexOf(g, from);
  const usable = [...new Set(blocks)]
    .filter((b) => b >= first && b <= last && !full.has(b))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const hasStart = usable.includes(startBlock);
  const startSpan = blockSpan(g, startBlock);
  if (hasStart) yield { block: startBlock, lo: from, hi: startSpan.hi };
  for (const b of [...usable.filter((b) => b > startBlock), ...usable.filter((b) => b < startBlock)]) {
    const span = blockSpan(g, b);
    yield { block: b, lo: span.lo, hi: span.hi };
  }
  if (hasStart && from > startSpan.lo) yield { block: startBlock, lo: startSpan.lo, hi: from - 1n };
}

/**
 * Where a host starts looking for a block to claim: a block of the range picked by a hash of the
 * host id, so hosts starting together spread over the pool instead of all racing for its first
 * block (a lost race only costs a retry; this makes it rare).
 */
export function claimStart(g: PoolGeometry, hostId: string): bigint {
  let h = 0x811c9dc5; // FNV-1a, 32 bits: stable across processes and releases
  for (const ch of Buffer.from(hostId, 'utf8')) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  const { first, count } = rangeBlocks(g);
  const start = blockStart(g, first + (BigInt(h) % count));
  return start < g.range.base ? g.range.base : start;
}
