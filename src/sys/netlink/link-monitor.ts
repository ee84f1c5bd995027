// Turns the kernel's link events into debounced "look now" calls: a weft bridge, veth or VXLAN
// device deleted by hand is noticed at once instead of at the next periodic pass. One burst of
// events (a bridge takes its ports' events with it) gives one call, made once the burst has been
// quiet for `quietMs`, or at the latest `maxDelayMs` after its first event. A lost-events signal
// (socket overrun) counts as an event: the receiver lists everything again anyway.

import type { LinkEvent, LinkOps } from '../link-ops.js';

export interface LinkMonitorOptions {
  /** Which events matter. Default: deletions of links whose name starts with `wf`. */
  filter?: (e: LinkEvent) => boolean;
  quietMs?: number;
  maxDelayMs?: number;
}

/** The name passed to the trigger for a lost-events signal. */
export const LOST_EVENTS = '(events lost)';

export const weftLinkDeleted = (e: LinkEvent): boolean => e.type === 'del' && e.name.startsWith('wf');

export class LinkMonitor {
  private unsubscribe: (() => void) | undefined;
  private quiet: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  /** Names seen since the last call (for the log line that says why a repair ran). */
  private seen = new Set<string>();
  private readonly filter: (e: LinkEvent) => boolean;
  private readonly quietMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly links: Pick<LinkOps, 'watchLinks'>,
    private readonly onTrigger: (names: string[]) => void,
    opts: LinkMonitorOptions = {},
  ) {
    this.filter = opts.filter ?? weftLinkDeleted;
    this.quietMs = opts.quietMs ?? 100;
    this.maxDelayMs = opts.maxDelayMs ?? 1_000;
  }

  /** False when the LinkOps implementation has no event source (iproute2 fallback). */
  start(): boolean {
    if (!this.links.watchLinks) return false;
    this.unsubscribe = this.links.watchLinks(
      (e) => {
        if (this.filter(e)) this.note(e.name);
      },
      () => this.note(LOST_EVENTS),
    );
    return true;
  }

  /** Records one relevant event and (re)arms the timers. Public for tests of the debouncing. */
  note(name: string): void {
    this.seen.add(name);
    if (this.quiet) clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.fire(), this.quietMs);
    this.quiet.unref?.();
    if (!this.deadline) {
      this.deadline = setTimeout(() => this.fire(), this.maxDelayMs);
      this.deadline.unref?.();
    }
  }

  private fire(): void {
    if (this.quiet) clearTimeout(this.quiet);
    if (this.deadline) clearTimeout(this.deadline);
    this.quiet = this.deadline = undefined;
    const names = [...this.seen];
    this.seen.clear();
    if (names.length) this.onTrigger(names);
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.quiet) clearTimeout(this.quiet);
    if (this.deadline) clearTimeout(this.deadline);
    this.quiet = this.deadline = undefined;
    this.seen.clear();
  }
}
