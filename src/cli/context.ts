// What every command gets: the injected I/O (so tests run the CLI in-process), a way to reach
// the daemon named by --host / $WEFT_HOST, and the exit code being built up.

import type { Command } from 'commander';
import { WeftApi } from './api.js';
import { ApiClient, DEFAULT_TIMEOUT_MS } from './client.js';
import { describeFailure } from './errors.js';
import { resolveDaemonAddress } from './host.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  /** Per-request timeout; tests shorten it. */
  timeoutMs?: number;
}

export class CliContext {
  /** The first failure's exit code wins; 0 while everything succeeded. */
  exitCode = 0;

  constructor(readonly io: CliIo) {}

  /** The API client for the daemon this invocation addresses. Throws (exit 2) on a bad --host. */
  api(cmd: Command): WeftApi {
    const host = (cmd.optsWithGlobals() as { host?: string }).host;
    const address = resolveDaemonAddress(host, this.io.env);
    return new WeftApi(new ApiClient(address, this.io.timeoutMs ?? DEFAULT_TIMEOUT_MS));
  }

  out(text: string): void {
    this.io.stdout(text);
  }

  /** Reports one failure and keeps going (for commands that work through several names). */
  report(e: unknown): void {
    const f = describeFailure(e);
    this.io.stderr(`${f.line}\n`);
    if (this.exitCode === 0) this.exitCode = f.exitCode;
  }
}
