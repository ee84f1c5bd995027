// Runs test/helpers/ipam-allocator.ts processes (one per "host") and collects what they printed.

import { runAckingChild } from './acking-child.js';


export interface AllocatorOutput {
  acks: { address: string; owner: string }[];
  errors: string[];
  done: boolean;
  /** The signal that ended it, if any. */
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

/**
 * Runs one allocator with `args` (see ipam-allocator.ts) to its end, or SIGKILLs it once it has
 * printed `killAfterAcks` acks. Always ends the process (by PID) before returning.
 */
export async function runAllocator(args: string[], opts: { killAfterAcks?: number; timeoutMs?: number } = {}): Promise<AllocatorOutput & { stdout: string }> {
  const r = await runAckingChild('test/helpers/ipam-allocator.ts', args, opts);
  return {
    stdout: r.stdout,
    acks: r.lines.filter((l) => l.startsWith('ack ')).map((l) => ({ address: l.split(' ')[1]!, owner: l.split(' ')[2]! })),
    errors: r.lines.filter((l) => l.startsWith('err ')).map((l) => l.slice(4)),
    done: r.lines.includes('done'),
    signal: r.signal,
    code: r.code,
    stderr: r.stderr,
  };
}
