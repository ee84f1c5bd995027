// Is a host's VTEP (its underlay / advertise address) answering? Membership asks this about
// hosts that are "lost", to tell a restarting weftd (machine still answers) from a dead or cut-off
// machine (silent for --host-dead-after: "gone"). Pluggable so unit tests can decide the answer.

import { accessSync, constants } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type { CommandRunner } from '../sys/exec.js';

export interface Prober {
  /** True when addr answered. Never throws: a probe that cannot run counts as no answer. */
  probe(addr: string): Promise<boolean>;
}

/** One probe with its round-trip time (the VTEP monitor shows it in `weft host inspect`). */
export interface ProbeOutcome {
  answered: boolean;
  /** Round-trip time ping reported, in ms; absent when there was no answer or no time printed. */
  rttMs?: number;
}

/** A prober that also reports the round-trip time. */
export interface RttProber extends Prober {
  probeRtt(addr: string): Promise<ProbeOutcome>;
}

/** The `time=0.123 ms` of a ping reply line (iputils and BusyBox print it alike). */
export function parsePingRtt(stdout: string): number | undefined {
  const m = /\btime[=<]([0-9]+(?:\.[0-9]+)?)\s*ms\b/.exec(stdout);
  return m ? Number(m[1]) : undefined;
}

export const ProberToken = Symbol.for('weft.Prober');

/** Seconds ping waits for the echo reply. */
const PING_WAIT_SECONDS = 1;

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The ping command to use: iputils `ping` when installed, else BusyBox's applet (Debian's
 * busybox or busybox-static; both take -c, -W and an IPv6 address). Undefined when neither exists.
 */
export function findPingCommand(envPath = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'): string[] | undefined {
  const dirs = envPath.split(':').filter((d) => d.startsWith('/'));
  for (const name of ['ping', 'busybox']) {
    for (const dir of dirs) {
      const file = path.join(dir, name);
      if (executable(file)) return name === 'ping' ? [file] : [file, 'ping'];
    }
  }
  return undefined;
}

/**
 * One ICMP echo with `ping -c1 -W1 ADDR`, run in weftd's own network namespace, so it goes over
 * the underlay (in the lab: the host namespace's link to the switch). Exit 0 = answered.
 */
export class PingProber implements RttProber {
  private readonly command: string[] | undefined;

  /** `command`: the ping argv prefix; default findPingCommand(); null = none here (for tests). */
  constructor(
    private readonly runner: CommandRunner,
    opts: { command?: string[] | null } = {},
  ) {
    this.command = opts.command === undefined ? findPingCommand() : (opts.command ?? undefined);
  }

  /** False when no ping command exists here (weftd logs it once at start). */
  get available(): boolean {
    return this.command !== undefined;
  }

  async probe(addr: string): Promise<boolean> {
    return (await this.probeRtt(addr)).answered;
  }

  async probeRtt(addr: string): Promise<ProbeOutcome> {
    // Only an IP literal goes into argv: no host name lookups, nothing that looks like a flag.
    if (!this.command || isIP(addr) === 0) return { answered: false };
    try {
      const r = await this.runner.run([...this.command, '-c', '1', '-W', String(PING_WAIT_SECONDS), addr], {
        check: false,
        timeoutMs: (PING_WAIT_SECONDS + 2) * 1000,
      });
      if (r.code !== 0) return { answered: false };
      const rttMs = parsePingRtt(r.stdout);
      return rttMs === undefined ? { answered: true } : { answered: true, rttMs };
    } catch {
      return { answered: false };
    }
  }
}
