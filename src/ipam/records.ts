// IPAM records as they live in the store, and the key layout (docs/ipam.md, "Storage layout").
//
//   ipam/pools/<poolId>                 PoolRecord            one per pool
//   ipam/spaces/<space>                 SpaceMarker           rewritten on every pool create/release,
//                                                             so pool creation can compare-and-swap
//                                                             "no pool changed since I listed them"
//   ipam/blocks/<poolId>/<blockStartIp> BlockRecord           addresses held in one aligned block
//   ipam/full/<poolId>                  FullBlocks            which blocks have no free range address
//   ipam/cursors/<poolId>               Cursor                last address handed out (round robin)
//   ipam/ula                            UlaRecord             this host's IPv6 ULA /48
//   ipam/affinity/<poolId>/<blockStartIp>  AffinityRecord     global space: the host a block is
//                                                             affine to (Calico's block affinity)
//   ipam/host-cursors/<poolId>/<hostId>    Cursor             global space: last address this
//                                                             host handed out (per-host round robin)
//
// Pool ids ("local/10.31.0.0/24") are validated canonical CIDRs behind a known space name, so
// they are safe to embed in keys; prefixes always end in "/" so "…/2/" never matches "…/24/".

import { ErrorCodes, WeftError } from '../model/errors.js';
import type { AddressKind, AddressSpaceName, PoolBinding } from './ipam.js';

export const ADDRESS_SPACES: readonly AddressSpaceName[] = ['local', 'global'];

export const keys = {
  poolsPrefix: 'ipam/pools/',
  pool: (poolId: string) => `ipam/pools/${poolId}`,
  space: (space: string) => `ipam/spaces/${space}`,
  blocksPrefix: (poolId: string) => `ipam/blocks/${poolId}/`,
  block: (poolId: string, blockStartIp: string) => `ipam/blocks/${poolId}/${blockStartIp}`,
  full: (poolId: string) => `ipam/full/${poolId}`,
  cursor: (poolId: string) => `ipam/cursors/${poolId}`,
  ula: 'ipam/ula',
  affinityPrefix: (poolId: string) => `ipam/affinity/${poolId}/`,
  affinity: (poolId: string, blockStartIp: string) => `ipam/affinity/${poolId}/${blockStartIp}`,
  hostCursorsPrefix: (poolId: string) => `ipam/host-cursors/${poolId}/`,
  hostCursor: (poolId: string, hostId: string) => `ipam/host-cursors/${poolId}/${hostId}`,
};

/** Host ids as weftd accepts them (--host-id): safe inside keys, at most 63 characters. */
export const HOST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export const SCHEMA = 1;

export interface PoolRecord {
  schema: number;
  poolId: string;
  addressSpace: AddressSpaceName;
  /** Canonical CIDR. */
  pool: string;
  /** Canonical CIDR inside pool (--ip-range). */
  subPool?: string;
  v6: boolean;
  data: Record<string, string>;
  network?: string;
  /** The L2 domain overlap checks are scoped to (`weft.l2domain`: the PoolID ends in @domain; or
   *  bindPool); absent: the host's routing domain. */
  l2domain?: string;
  /** Not bound to an L2 domain yet (Docker's pools until CreateNetwork); see PoolBinding. */
  binding?: PoolBinding;
  /** log2 of the allocation block size (fixed at creation). */
  blockBits: number;
  /** True when weft chose the pool (no --subnet given). */
  auto: boolean;
  createdAt: string;
}

export interface HeldAddress {
  kind: AddressKind;
  owner?: string;
  /** Global space, endpoints only: the host that allocated it. `weft host rm` frees by it. */
  host?: string;
  /** When it was allocated (ISO 8601). Absent in records written before weft kept it: such an
   *  address is never judged old enough to be released as an orphan (checker.ts). */
  at?: string;
}

/** A block's affinity to one host (global space). Only that host allocates there by choice;
 *  others borrow single addresses from it when no free block is left. */
export interface AffinityRecord {
  host: string;
  claimedAt: string;
}

export interface BlockRecord {
  /** Bare IP -> who holds it. */
  held: Record<string, HeldAddress>;
}

export interface FullBlocks {
  /** Start address of each full block. */
  blocks: string[];
}

export interface Cursor {
  last: string;
}

export interface UlaRecord {
  prefix: string;
}

export interface SpaceMarker {
  changedAt: string;
}

function corrupt(key: string, why: string): WeftError {
  return new WeftError(ErrorCodes.STORE_SCHEMA, `store record ${key} is not one this weft understands (${why}); was it written by a newer weft?`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function decodePool(key: string, v: unknown): PoolRecord {
  if (!isObject(v)) throw corrupt(key, 'not an object');
  if (v.schema !== SCHEMA) throw corrupt(key, `schema ${String(v.schema)}`);
  if (typeof v.poolId !== 'string' || typeof v.pool !== 'string' || typeof v.blockBits !== 'number') throw corrupt(key, 'missing fields');
  if (v.addressSpace !== 'local' && v.addressSpace !== 'global') throw corrupt(key, 'bad address space');
  return v as unknown as PoolRecord;
}

export function decodeBlock(key: string, v: unknown): BlockRecord {
  if (!isObject(v) || !isObject(v.held)) throw corrupt(key, 'not a block');
  return v as unknown as BlockRecord;
}

export function decodeFull(key: string, v: unknown): FullBlocks {
  if (!isObject(v) || !Array.isArray(v.blocks)) throw corrupt(key, 'not a full-block list');
  return v as unknown as FullBlocks;
}

export function decodeCursor(key: string, v: unknown): Cursor {
  if (!isObject(v) || typeof v.last !== 'string') throw corrupt(key, 'not a cursor');
  return v as unknown as Cursor;
}

export function decodeUla(key: string, v: unknown): UlaRecord {
  if (!isObject(v) || typeof v.prefix !== 'string') throw corrupt(key, 'not a ULA prefix');
  return v as unknown as UlaRecord;
}

export function decodeAffinity(key: string, v: unknown): AffinityRecord {
  if (!isObject(v) || typeof v.host !== 'string') throw corrupt(key, 'not a block affinity');
  return v as unknown as AffinityRecord;
}
