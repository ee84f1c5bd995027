// How a failure reaches the user: one line on stderr and an exit code (docs/cli.md lists them).

import { ErrorCodes, exitCodeOf, WeftError } from '../model/errors.js';
import { RemoteError } from './client.js';

export interface Failure {
  /** The line for stderr, without the newline. */
  line: string;
  exitCode: number;
}

export function describeFailure(e: unknown): Failure {
  if (e instanceof WeftError) return { line: `Error: ${e.message} (${e.code})`, exitCode: exitCodeOf(e.kind) };
  // A newer daemon may answer with a code this CLI does not know: show it, exit with the generic 1.
  if (e instanceof RemoteError) return { line: `Error: ${e.message} (${e.code})`, exitCode: 1 };
  const msg = e instanceof Error ? e.message : String(e);
  return { line: `Error: ${msg} (${ErrorCodes.INTERNAL})`, exitCode: 1 };
}

/** True when trying further requests is pointless (used by commands that loop over names). */
export function isUnreachable(e: unknown): boolean {
  return e instanceof WeftError && e.code === ErrorCodes.DAEMON_UNREACHABLE;
}
