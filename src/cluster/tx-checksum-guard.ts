// Runs the transmit-checksum self-test once at start (src/sys/checksum-selftest.ts) and acts on
// it: when the VXLAN device's bytes come out with wrong inner checksums, transmit checksum
// offload is turned off on every VXLAN device weft owns (marked `weft:<id>`), now and whenever
// one is created later (link events, and a periodic sweep as a fallback). flannel does the same
// unconditionally on its one device (anchors.md §3 rows 16-17).
//
// The result is kept for `weft host inspect`. The test runs in the background: weftd serves
// requests meanwhile, and a VXLAN device created before the verdict is swept once it is known.

import type { Logger } from 'pino';
import {
  type ChecksumSelfTestRun,
  type ProtocolResult,
  disableTxChecksum,
  findEthtool,
  runChecksumSelfTest,
  sweepSelfTestLeftovers,
} from '../sys/checksum-selftest.js';
import type { CommandRunner } from '../sys/exec.js';
import type { LinkInfo, LinkOps } from '../sys/link-ops.js';

export interface TxChecksumStatus {
  /** pending until the test finished; then its verdict (ok, corrupted, error, skipped). */
  state: 'pending' | ChecksumSelfTestRun['verdict'];
  /** When the verdict was reached. */
  at?: string;
  durationMs?: number;
  udp?: ProtocolResult;
  tcp?: ProtocolResult;
  /** The same test behind a lower device that never fills checksums in said "corrupted": the
   *  check can fail here, so its "ok" means something. */
  detects?: boolean;
  /** What weft does on its own VXLAN devices: `kept` (offload left on) or `disabled`. */
  offload: 'kept' | 'disabled';
  /** Offload is off because of --vxlan-tx-checksum off, whatever the test said. */
  forced?: boolean;
  /** weft VXLAN devices whose transmit checksum offload this weftd turned off. */
  devicesFixed: number;
  reason?: string;
}

export interface TxChecksumGuardOptions {
  runner: CommandRunner;
  linkOps: Pick<LinkOps, 'listLinks'> & Partial<Pick<LinkOps, 'watchLinks'>>;
  logger: Logger;
  /** The cluster's VXLAN port (the test's device uses it too). */
  vxlanPort: number;
  /** --vxlan-tx-checksum off: disable offload whatever the verdict (the test still runs, for the record). */
  forceOff?: boolean;
  /** Fallback sweep period while offload is disabled. Default 10 s. */
  sweepIntervalMs?: number;
  /** For tests: the self-test to run (default the real one). */
  selfTest?: (opts: { port: number; lowerOffload?: boolean; vxlanTxOff?: boolean }) => Promise<ChecksumSelfTestRun>;
}

const isWeftVxlan = (l: LinkInfo) => l.kind === 'vxlan' && (l.alias ?? '').startsWith('weft:');

/** The decision from the runs: offload off only when the device's own bytes were wrong and
 *  turning its offload off gave good ones (or, failing that, still off: it cannot hurt). Pure. */
export function decide(
  first: ChecksumSelfTestRun,
  canary: ChecksumSelfTestRun | undefined,
  remedy: ChecksumSelfTestRun | undefined,
  forceOff = false,
): Omit<TxChecksumStatus, 'devicesFixed'> {
  const d = decideFromTest(first, canary, remedy);
  return forceOff ? { ...d, offload: 'disabled', forced: true } : d;
}

function decideFromTest(first: ChecksumSelfTestRun, canary: ChecksumSelfTestRun | undefined, remedy: ChecksumSelfTestRun | undefined): Omit<TxChecksumStatus, 'devicesFixed'> {
  const base = {
    state: first.verdict,
    at: new Date().toISOString(),
    durationMs: first.durationMs + (canary?.durationMs ?? 0) + (remedy?.durationMs ?? 0),
    udp: first.udp,
    tcp: first.tcp,
    ...(canary ? { detects: canary.verdict === 'corrupted' } : {}),
  };
  if (first.verdict !== 'corrupted') return { ...base, offload: 'kept', ...(first.reason ? { reason: first.reason } : {}) };
  const fixed = remedy?.verdict === 'ok';
  return {
    ...base,
    offload: 'disabled',
    reason: `${first.reason ?? 'wrong checksums'}; ${fixed ? 'with transmit checksum offload off on the VXLAN device they are right' : 'turning offload off on the VXLAN device did not help either'}`,
  };
}

export class TxChecksumGuard {
  private st: TxChecksumStatus = { state: 'pending', offload: 'kept', devicesFixed: 0 };
  private readonly fixed = new Set<number>();
  private ethtool: string | undefined;
  private unwatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private sweepAgain = false;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: TxChecksumGuardOptions) {}

  status(): TxChecksumStatus {
    return { ...this.st };
  }

  /** Starts the self-test in the background; `done()` resolves when the verdict is in. */
  start(): void {
    this.running = this.run().catch((err) => {
      this.st = { state: 'error', at: new Date().toISOString(), offload: 'kept', devicesFixed: 0, reason: (err as Error).message };
      this.opts.logger.warn({ err }, 'transmit-checksum self-test failed to run');
    });
  }

  done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    clearTimeout(this.timer);
    await this.running;
    await this.sweeping;
  }

  private async run(): Promise<void> {
    const log = this.opts.logger;
    const leftovers = await sweepSelfTestLeftovers(this.opts.runner);
    if (leftovers.length) log.info({ namespaces: leftovers }, 'removed self-test namespaces left by an earlier weftd');
    const test = this.opts.selfTest ?? ((o) => runChecksumSelfTest(this.opts.runner, o));
    const port = this.opts.vxlanPort;
    const first = await test({ port });
    let canary: ChecksumSelfTestRun | undefined;
    let remedy: ChecksumSelfTestRun | undefined;
    if (first.verdict === 'ok') canary = await test({ port, lowerOffload: true });
    if (first.verdict === 'corrupted') remedy = await test({ port, vxlanTxOff: true });
    if (this.stopped) return;
    this.st = { ...decide(first, canary, remedy, this.opts.forceOff === true), devicesFixed: 0 };
    const line = { verdict: this.st.state, offload: this.st.offload, udp: first.udp, tcp: first.tcp, detects: this.st.detects, ms: this.st.durationMs };
    if (this.st.forced) log.info({ ...line, reason: this.st.reason }, 'transmit-checksum self-test done; offload off on weft VXLAN devices anyway (--vxlan-tx-checksum off)');
    else if (this.st.state === 'ok') log.info(line, 'transmit-checksum self-test: VXLAN checksums are right');
    else if (this.st.state === 'corrupted') log.warn({ ...line, reason: this.st.reason }, 'transmit-checksum self-test: VXLAN checksums are wrong; turning transmit checksum offload off on weft VXLAN devices');
    else log.warn({ ...line, reason: this.st.reason }, 'transmit-checksum self-test could not decide; offload left as it is');
    if (this.st.offload !== 'disabled') return;
    this.ethtool = findEthtool();
    if (!this.ethtool) {
      log.warn('ethtool is not installed: cannot turn transmit checksum offload off on weft VXLAN devices');
      return;
    }
    this.unwatch = this.opts.linkOps.watchLinks?.(
      (e) => {
        if (e.type !== 'del' && e.name.startsWith('wfx')) void this.sweep();
      },
      () => void this.sweep(),
    );
    const every = this.opts.sweepIntervalMs ?? 10_000;
    const tick = () => {
      this.timer = setTimeout(() => void this.sweep().finally(() => !this.stopped && tick()), every);
    };
    await this.sweep();
    tick();
  }

  /** Turns offload off on every weft VXLAN device not yet done; calls folded while one runs. */
  sweep(): Promise<void> {
    if (this.sweeping) {
      this.sweepAgain = true;
      return this.sweeping;
    }
    const loop = async () => {
      do {
        this.sweepAgain = false;
        const links = await this.opts.linkOps.listLinks();
        const present = new Set(links.map((l) => l.index));
        for (const i of this.fixed) if (!present.has(i)) this.fixed.delete(i);
        for (const l of links.filter(isWeftVxlan)) {
          if (this.fixed.has(l.index) || !this.ethtool || this.stopped) continue;
          try {
            await disableTxChecksum(this.opts.runner, l.name, this.ethtool);
            this.fixed.add(l.index);
            this.st.devicesFixed++;
            this.opts.logger.info({ link: l.name }, 'transmit checksum offload turned off');
          } catch (err) {
            // Gone meanwhile, or a kernel that refuses: the next sweep tries again.
            this.opts.logger.warn({ err, link: l.name }, 'could not turn transmit checksum offload off');
          }
        }
      } while (this.sweepAgain && !this.stopped);
    };
    this.sweeping = loop()
      .catch((err) => this.opts.logger.warn({ err }, 'sweep of VXLAN devices failed'))
      .finally(() => {
        this.sweeping = undefined;
      });
    return this.sweeping;
  }
}
