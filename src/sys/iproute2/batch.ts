// `ip -batch -` input and error output. Pure.
//
// A batch runs many ip commands in one process (one spawn instead of one per step). iproute2
// splits each line into words on whitespace, interprets double quotes and backslashes, and treats
// '#' as a comment, so every word is checked to contain none of these: names and values are
// validated before they get here, and this is the last line of defence.
//
// When a command fails, ip prints its error and then `Command failed -:N` (N = 1-based line);
// without -force it stops there, with -force it goes on. Argument errors (a bad keyword) make ip
// exit at once with code 255 and no such line.

import { ErrorCodes, WeftError } from '../../model/errors.js';

export type BatchLine = readonly string[];

const SAFE_WORD = /^[^\s"'\\#]+$/;

export function renderBatch(lines: readonly BatchLine[]): string {
  return lines
    .map((words) => {
      for (const w of words) {
        if (!SAFE_WORD.test(w)) throw new WeftError(ErrorCodes.INTERNAL, `refusing to put ${JSON.stringify(w)} into an ip batch line`);
      }
      return words.join(' ');
    })
    .join('\n')
    .concat('\n');
}

/** `ip` (acting on the daemon's own namespace) or `ip -n NAME`. */
export function ipCommand(netns?: string): string[] {
  return netns === undefined ? ['ip'] : ['ip', '-n', netns];
}

export interface BatchFailure {
  /** 1-based line of the batch input. */
  line: number;
  /** What ip printed for that command (RTNETLINK answers: File exists, ...). */
  message: string;
}

/** The failed lines of a batch run, in order; empty when ip reported none. */
export function parseBatchFailures(stderr: string): BatchFailure[] {
  const out: BatchFailure[] = [];
  let pending: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trimEnd();
    const m = /^Command failed .*:(\d+)$/.exec(line);
    if (m) {
      out.push({ line: Number(m[1]), message: pending.join('; ') });
      pending = [];
    } else if (line.trim() !== '') {
      pending.push(line.trim());
    }
  }
  return out;
}

/** A message looks like the kernel's EEXIST. */
export const isExists = (message: string): boolean => /File exists/.test(message);
/** A message looks like "no such device". */
export const isNoDevice = (message: string): boolean => /Cannot find device|does not exist|No such device/.test(message);
