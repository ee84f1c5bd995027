// A child process that prints one "ack ..." line per durable thing it did (crash-writer.ts,
// ipam-allocator.ts), run to its end or SIGKILLed once it has printed `killAfterAcks` acks: the
// crash tests check that everything acknowledged before the kill survived it.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killPids, signal, sleep, spawned } from './process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface AckingChildResult {
  /** Every line it printed on stdout, in order. */
  lines: string[];
  stdout: string;
  stderr: string;
  /** The signal that ended it, if any. */
  signal: NodeJS.Signals | null;
  code: number | null;
}

/** Runs the TypeScript file `script` (relative to the repository) with `args`. Always ends the
 *  process (by PID) before returning. */
export async function runAckingChild(script: string, args: string[], opts: { killAfterAcks?: number; timeoutMs?: number } = {}): Promise<AckingChildResult> {
  const argv = [process.execPath, '--import', path.join(ROOT, 'test/helpers/ts-register.mjs'), path.join(ROOT, script), ...args];
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
    // Wait for the exit *and* the end of stdout, so every line the child wrote is read.
    const stdoutDone = new Promise<void>((r) => child.stdout!.on('close', () => r()));
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const exit = await Promise.race([proc.exited, sleep(timeoutMs).then(() => undefined)]);
    if (!exit) throw new Error(`${script} ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${err}`);
    await stdoutDone;
    return { lines: out.split('\n').filter(Boolean), stdout: out, stderr: err, signal: exit.signal, code: exit.code };
  } finally {
    await killPids([proc.pid], 0);
  }
}
