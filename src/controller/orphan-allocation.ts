// When an address the IPAM holds with no endpoint may be released (`weft check --repair`, and the
// reconciler's periodic pass). checker.ts has already ruled out everything that holds an address
// (endpoint records of this host, other hosts' peers in a global pool, Docker's own endpoints, the
// network's gateway and aux addresses); what is left here is *when*.
//
// - weft's networks: an endpoint's address is written in the same transaction as its record, so
//   an address with no record is orphaned at once.
// - Docker's networks (weft driver with weft's IPAM): Docker asks IpamDriver.RequestAddress first
//   and calls CreateEndpoint with the address a moment later, so a young address with no endpoint
//   may be one Docker is about to use. Only one older than the grace period (default 60 s; Docker
//   follows within seconds) is provably orphaned: its RequestAddress answer was lost in a crash,
//   or its ReleaseAddress never arrived. An address with no allocation time (written by a weft
//   that did not record it) is never judged old.
// Pools of networks weft has no record of (Docker's own drivers with weft's IPAM) never reach
// this: the checker reads only the pools of weft's networks.

export const ORPHAN_GRACE_MS = 60_000;

export interface OrphanVerdict {
  release: boolean;
  /** Why not, or what happened to it; for `weft check --repair` and the log. */
  why: string;
}

export function judgeOrphanAllocation(d: { origin?: unknown; allocatedAt?: unknown }, now: number, graceMs: number): OrphanVerdict {
  if (d.origin !== 'docker') return { release: true, why: 'no endpoint of the network has it' };
  const at = typeof d.allocatedAt === 'string' ? Date.parse(d.allocatedAt) : NaN;
  if (Number.isNaN(at)) {
    return { release: false, why: 'Docker\'s IPAM asked for it and weft has no allocation time for it (allocated by an older weft): remove the container or network through docker, or release it by hand' };
  }
  const age = now - at;
  if (age < graceMs) {
    return { release: false, why: `Docker asked for it ${Math.max(0, Math.round(age / 1000))} s ago and creates its endpoint right after: released only once older than ${Math.round(graceMs / 1000)} s with no endpoint` };
  }
  return { release: true, why: `Docker asked for it ${Math.round(age / 1000)} s ago and no endpoint (weft's or Docker's) has it: the answer was lost in a crash, or its release never came` };
}
