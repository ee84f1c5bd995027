// The host's cluster id: `--host-id` when given, else generated once and kept in
// <state-dir>/host-id, so a restarted (or upgraded) weftd comes back as the same host and takes
// its old identity back (docs/cluster.md, "Host ids").

import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, WeftError } from '../model/errors.js';
import { HOST_ID_PATTERN } from './host-records.js';

export const HOST_ID_FILE = 'host-id';

/** A fresh id: 16 hex digits (64 random bits), so cloned machines do not collide by chance. */
export function generateHostId(): string {
  return randomBytes(8).toString('hex');
}

/**
 * Reads <stateDir>/host-id, or creates it with a fresh id. The file is written to a temporary
 * name, flushed and renamed, so a crash leaves either no file or a whole one. A file that holds
 * something other than a valid id is an error (never silently replaced: that would turn this
 * machine into a new host and leave the old one "lost" for ever).
 */
export async function loadOrCreateHostId(stateDir: string): Promise<string> {
  if (typeof stateDir !== 'string' || !path.isAbsolute(stateDir)) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `state dir must be an absolute path, got ${JSON.stringify(stateDir)}`);
  }
  const file = path.join(stateDir, HOST_ID_FILE);
  const existing = await readHostIdFile(file);
  if (existing !== undefined) return existing;

  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const id = generateHostId();
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(`${id}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new WeftError(ErrorCodes.INVALID_OPTION, `cannot write the host id file ${file}: ${(e as Error).message}; check --state-dir or give --host-id`, { cause: e });
  }
  return id;
}

async function readHostIdFile(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WeftError(ErrorCodes.INVALID_OPTION, `cannot read the host id file ${file}: ${(e as Error).message}`, { cause: e });
  }
  const id = text.trim();
  if (!HOST_ID_PATTERN.test(id)) {
    throw new WeftError(
      ErrorCodes.INVALID_OPTION,
      `the host id file ${file} holds ${JSON.stringify(text.slice(0, 80))}, not a host id (letters, digits, '_', '.', '-', at most 63): fix it, or give --host-id`,
      { details: { file } },
    );
  }
  return id;
}
