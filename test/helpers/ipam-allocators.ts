// Runs test/helpers/ipam-allocator.ts processes (one per "host") and collects what they printed.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killPids, signal, sleep, spawned } from './process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

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
  const argv = [process.execPath, '--import', path.join(ROOT, 'test/helpers/ts-register.mjs'), path.join(ROOT, 'test/helpers/ipam-allocator.ts'), ...args];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = await spawned(child, argv);
  try {
    let out = '';
    let err = '';
    let acked = 0;
    let killed = false;
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout!.on('data', (b: Buffer) => {
      const text = b.toString();
      out += text;
      acked += (text.match(/^ack /gm) ?? []).length;
      if (opts.killAfterAcks !== undefined && !killed && acked >= opts.killAfterAcks) {
        killed = true;
        signal(proc.pid, 'SIGKILL');
      }
    });
    const stdoutDone = new Promise<void>((r) => child.stdout!.on('close', () => r()));
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const exit = await Promise.race([proc.exited, sleep(timeoutMs).then(() => undefined)]);
    if (!exit) throw new Error(`ipam allocator ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${err}`);
    await stdoutDone;
    const lines = out.split('\n').filter(Boolean);
    return {
      stdout: out,
      acks: lines.filter((l) => l.startsWith('ack ')).map((l) => ({ address: l.split(' ')[1]!, owner: l.split(' ')[2]! })),
      errors: lines.filter((l) => l.startsWith('err ')).map((l) => l.slice(4)),
      done: lines.includes('done'),
      signal: exit.signal,
      code: exit.code,
      stderr: err,
    };
  } finally {
    await killPids([proc.pid], 0);
  }
}
