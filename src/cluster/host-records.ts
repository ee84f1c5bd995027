// Cluster membership records as they live in the store (docs/cluster.md, "Records").
//
//   hosts/<id>       HostRecord       leased (TTL --host-ttl): present exactly while the host's
//                                     weftd keeps its lease alive. Its presence is "up".
//   host-info/<id>   HostInfoRecord   not leased: the host's identity and when it was last seen,
//                                     so a host whose lease ran out is shown as "lost" (not
//                                     forgotten), and a "gone" mark. Deleted only by `weft host rm`.
//
// Host ids are weftd's --host-id (or the one kept in <state-dir>/host-id): safe inside keys.

import { ErrorCodes, WeftError } from '../model/errors.js';

export const HOSTS_PREFIX = 'hosts/';
export const HOST_INFO_PREFIX = 'host-info/';

export const hostKey = (id: string) => `${HOSTS_PREFIX}${id}`;
export const hostInfoKey = (id: string) => `${HOST_INFO_PREFIX}${id}`;

/** Letters, digits, '_', '.', '-', at most 63, not starting with a punctuation mark (as --host-id). */
export const HOST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function isHostId(v: unknown): v is string {
  return typeof v === 'string' && HOST_ID_PATTERN.test(v);
}

/**
 * up:   its lease key is present (its weftd is running and reaches the store);
 * lost: its lease expired or was revoked: weftd may be restarting or upgrading, or the host is
 *       cut off; nothing of it is torn down elsewhere, its addresses are never reused;
 * gone: an operator removed it (`weft host rm`), or its VTEP did not answer a probe for
 *       --host-dead-after seconds while it was lost. Only now may other hosts drop what points at it.
 */
export type HostState = 'up' | 'lost' | 'gone';

/** What a host says about itself. */
export interface HostIdentity {
  id: string;
  hostname: string;
  /** Underlay address (VTEP) others reach it on; '' when unknown (never probed, never auto-gone). */
  advertiseAddr: string;
  /** weftd version. */
  version: string;
}

/** hosts/<id>: written by the host itself with its lease. */
export interface HostRecord extends HostIdentity {
  /** When this weftd process registered (ISO time). */
  startedAt: string;
  /** Its --host-ttl (seconds of the lease); absent in records of older weftds. */
  ttl?: number;
}

export type GoneReason = 'probe' | 'removed';

export interface GoneMark {
  at: string;
  reason: GoneReason;
  /** Host id of the weftd that marked it (the one that probed, or served `weft host rm`). */
  by: string;
}

/** host-info/<id>: the identity that outlives the lease. */
export interface HostInfoRecord extends HostRecord {
  /** First registration ever under this id: kept when the host comes back. */
  firstSeen: string;
  /** Last time the host refreshed its registration (ISO time). */
  lastSeen: string;
  gone?: GoneMark;
}

/** One host as membership reports it. */
export interface HostInfo extends HostRecord {
  state: HostState;
  firstSeen?: string;
  lastSeen?: string;
  gone?: GoneMark;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function corrupt(key: string, why: string): WeftError {
  return new WeftError(ErrorCodes.STORE_SCHEMA, `store record ${key} is not one this weft understands (${why}); was it written by a newer weft?`);
}

export function decodeHost(key: string, v: unknown): HostRecord {
  if (!isObject(v)) throw corrupt(key, 'not an object');
  for (const f of ['id', 'hostname', 'advertiseAddr', 'version', 'startedAt'] as const) {
    if (typeof v[f] !== 'string') throw corrupt(key, `field ${f} missing`);
  }
  if (!isHostId(v.id) || key.slice(key.indexOf('/') + 1) !== v.id) throw corrupt(key, 'id does not match the key');
  return v as unknown as HostRecord;
}

export function decodeHostInfo(key: string, v: unknown): HostInfoRecord {
  const rec = decodeHost(key, v) as HostInfoRecord;
  if (typeof rec.firstSeen !== 'string' || typeof rec.lastSeen !== 'string') throw corrupt(key, 'firstSeen/lastSeen missing');
  if (rec.gone !== undefined && (!isObject(rec.gone) || (rec.gone.reason !== 'probe' && rec.gone.reason !== 'removed'))) {
    throw corrupt(key, 'bad gone mark');
  }
  return rec;
}

/** The state of a host from what the store holds for it. */
export function stateOf(leased: HostRecord | undefined, info: HostInfoRecord | undefined): HostState | undefined {
  if (leased) return 'up';
  if (info?.gone) return 'gone';
  if (info) return 'lost';
  return undefined;
}

/** Merges the two records into what membership reports (the lease record wins for identity). */
export function hostInfoOf(leased: HostRecord | undefined, info: HostInfoRecord | undefined): HostInfo | undefined {
  const state = stateOf(leased, info);
  if (!state) return undefined;
  const base = (leased ?? info)!;
  const out: HostInfo = {
    id: base.id,
    hostname: base.hostname,
    advertiseAddr: base.advertiseAddr,
    version: base.version,
    startedAt: base.startedAt,
    state,
  };
  if (typeof base.ttl === 'number') out.ttl = base.ttl;
  if (info) {
    out.firstSeen = info.firstSeen;
    out.lastSeen = info.lastSeen;
    if (info.gone && state === 'gone') out.gone = info.gone;
  }
  return out;
}
