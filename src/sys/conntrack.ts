// Deleting conntrack entries with `conntrack -D`. A connection tracked before a port mapping
// changed keeps its old NAT decision (or its lack of one) for as long as packets keep it alive:
// a UDP client that sent to a port before it was published is never DNATed (containernetworking/
// plugins#123), and a removed mapping would go on forwarding established flows. weft deletes the
// affected entries when it adds a UDP/SCTP mapping and when it removes any mapping.

import { ipToBigInt } from '../model/address.js';
import { commandError, type CommandRunner } from './exec.js';

export interface ConntrackFilter {
  family: 4 | 6;
  proto: 'tcp' | 'udp' | 'sctp';
  /** Destination port of the original direction (the host port). */
  origPortDst: number;
  /** Destination address of the original direction (a specific host address); omitted = any. */
  origDst?: string;
  /** Source of the reply direction: the container, for flows that were DNATed to it. */
  replySrc?: string;
  replyPortSrc?: number;
}

/** The argv of `conntrack -D` for a filter. The caller passes validated values only. */
export function conntrackDeleteArgv(f: ConntrackFilter): string[] {
  const argv = ['conntrack', '-D', '-f', f.family === 4 ? 'ipv4' : 'ipv6', '-p', f.proto, '--orig-port-dst', String(f.origPortDst)];
  if (f.origDst) argv.push('--orig-dst', f.origDst);
  if (f.replySrc) argv.push('--reply-src', f.replySrc);
  if (f.replyPortSrc !== undefined) argv.push('--reply-port-src', String(f.replyPortSrc));
  return argv;
}

/** Entries deleted, from conntrack's "N flow entries have been deleted." (printed on stderr). */
export function parseDeletedCount(output: string): number | undefined {
  const m = output.match(/(\d+) flow entr(?:y|ies) ha(?:s|ve) been deleted/);
  return m ? Number(m[1]) : undefined;
}

/**
 * Deletes the matching entries and returns how many there were. "0 flow entries" is not an error
 * (conntrack exits 1 for it). Anything else that fails throws COMMAND_FAILED.
 */
export async function deleteConntrack(runner: CommandRunner, f: ConntrackFilter): Promise<number> {
  const argv = conntrackDeleteArgv(f);
  const r = await runner.run(argv, { check: false });
  const count = parseDeletedCount(`${r.stderr}\n${r.stdout}`);
  if (count !== undefined) return count;
  if (r.code !== 0) throw commandError(argv, r, `exit code ${r.code}`);
  return 0;
}

interface Tuple {
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
}

export interface Flow {
  proto: string;
  orig: Tuple;
  reply: Tuple;
}

/** Parses `conntrack -L` lines: the first src/dst/sport/dport are the original direction, the second the reply. Pure. */
export function parseConntrackList(stdout: string): Flow[] {
  const flows: Flow[] = [];
  for (const line of stdout.split('\n')) {
    const proto = line.trim().split(/\s+/)[0];
    if (!proto) continue;
    const tuples: Partial<Tuple>[] = [];
    for (const m of line.matchAll(/\b(src|dst|sport|dport)=(\S+)/g)) {
      const [, k, v] = m as unknown as [string, keyof Tuple, string];
      // A new tuple starts at each src= (the reply direction repeats the four fields).
      if (k === 'src') tuples.push({});
      const t = tuples[tuples.length - 1];
      if (!t) continue;
      if (k === 'sport' || k === 'dport') t[k] = Number(v);
      else t[k] = v;
    }
    const [orig, reply] = tuples;
    if (orig?.src && orig.dst && reply?.src && reply.dst) flows.push({ proto, orig: orig as Tuple, reply: reply as Tuple });
  }
  return flows;
}

const sameIp = (a: string, b: string): boolean => {
  try {
    return ipToBigInt(a) === ipToBigInt(b) && a.includes(':') === b.includes(':');
  } catch {
    return false;
  }
};

/** True when a listed flow is one `conntrack -D` with this filter would delete. */
export function flowMatches(flow: Flow, f: ConntrackFilter): boolean {
  if (flow.proto !== f.proto || flow.orig.dport !== f.origPortDst) return false;
  if (flow.orig.dst.includes(':') !== (f.family === 6)) return false;
  if (f.origDst && !sameIp(flow.orig.dst, f.origDst)) return false;
  if (f.replySrc && !sameIp(flow.reply.src, f.replySrc)) return false;
  if (f.replyPortSrc !== undefined && flow.reply.sport !== f.replyPortSrc) return false;
  return true;
}

/**
 * Deletes the entries of many filters. Each `conntrack -D` is a process, so with more than a few
 * filters the table is listed once and only filters that match a listed flow are run.
 */
export async function deleteConntrackMany(runner: CommandRunner, filters: ConntrackFilter[]): Promise<number> {
  let todo = filters;
  if (filters.length > 3) {
    const r = await runner.run(['conntrack', '-L'], { check: false, timeoutMs: 30_000 });
    if (r.code === 0) {
      const flows = parseConntrackList(r.stdout);
      todo = filters.filter((f) => flows.some((flow) => flowMatches(flow, f)));
    }
  }
  let deleted = 0;
  for (const f of todo) deleted += await deleteConntrack(runner, f);
  return deleted;
}
