// The only place weft starts processes. Arguments are argv arrays, never a shell string, and every
// command runs with a timeout so that a wedged `ip` or `nft` cannot hang a Docker call (Docker
// has no timeout on legacy plugin calls: docker-plugin-protocol.md §1.4).

import { spawn } from 'node:child_process';
import { ErrorCodes, WeftError } from '../model/errors.js';

export interface RunOptions {
  /** Written to the command's stdin (nft -f -, ip -batch -). */
  input?: string;
  timeoutMs?: number;
  /** When false, a non-zero exit is returned instead of thrown. Default true. */
  check?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface CommandRunner {
  run(argv: string[], opts?: RunOptions): Promise<RunResult>;
}

export const CommandRunnerToken = Symbol.for('weft.CommandRunner');

export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

/** A failed command, with the argv and stderr that explain it. */
export function commandError(argv: string[], result: RunResult | undefined, reason: string): WeftError {
  const stderr = result?.stderr.trim() ?? '';
  return new WeftError(
    ErrorCodes.COMMAND_FAILED,
    `command failed: ${argv.join(' ')}: ${reason}${stderr ? `: ${stderr}` : ''}`,
    { details: { argv, code: result?.code, stderr } },
  );
}

export class ProcessRunner implements CommandRunner {
  run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const check = opts.check ?? true;
    return new Promise((resolve, reject) => {
      const [cmd, ...args] = argv;
      if (!cmd) return reject(commandError(argv, undefined, 'empty command'));
      const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], shell: false });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(commandError(argv, { stdout, stderr, code: -1 }, err.message));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        const result = { stdout, stderr, code: code ?? -1 };
        if (timedOut) return reject(commandError(argv, result, `timed out after ${timeoutMs} ms`));
        if (check && result.code !== 0) return reject(commandError(argv, result, `exit code ${result.code}`));
        resolve(result);
      });
      child.stdin.on('error', () => {
        /* the command may exit before reading its input; its exit code tells what happened */
      });
      child.stdin.end(opts.input ?? '');
    });
  }
}
