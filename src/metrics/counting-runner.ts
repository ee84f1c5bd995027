// A CommandRunner that counts the processes weftd starts, by program (`ip`, `nft`, `nsenter`...):
// `weft_process_spawns_total`. The attach target of issue 8 is no process per attach, and the bench
// reads this counter before and after N attaches (a machine-wide fork count would also count every
// other process on a shared machine).

import path from 'node:path';
import type { CommandRunner, RunOptions, RunResult } from '../sys/exec.js';
import type { Counter } from './registry.js';

export class CountingRunner implements CommandRunner {
  constructor(
    private readonly inner: CommandRunner,
    private readonly spawns: Counter,
  ) {}

  run(argv: string[], opts?: RunOptions): Promise<RunResult> {
    this.spawns.inc({ program: path.basename(argv[0] ?? '') });
    return this.inner.run(argv, opts);
  }
}
