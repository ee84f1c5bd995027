// The store's schema version: which layout of keys and records it holds. weftd calls
// ensureSchema() once at start-up, before anything else reads the store:
// - an empty store gets the current version written;
// - an older one is migrated step by step (each step's version is recorded as soon as it is done,
//   so a crash in the middle resumes at the step that did not finish);
// - a newer one is refused: an old weft must not rewrite records it does not understand.

import { ErrorCodes, WeftError } from '../model/errors.js';
import type { Store } from './store.js';

export const SCHEMA_KEY = 'meta/schema';
export const CURRENT_SCHEMA_VERSION = 1;

export interface SchemaRecord {
  version: number;
  /** Which weft wrote this version, e.g. "weft 0.1.0" (for people reading the store). */
  writtenBy: string;
}

/** A migration to version N, keyed by N: it turns a store of schema N-1 into schema N. */
export type Migrations = Record<number, (store: Store) => Promise<void>>;

export interface SchemaResult {
  /** Version found in the store (undefined when the store was empty). */
  previous: number | undefined;
  current: number;
  /** Versions whose migrations ran, in order. */
  migrated: number[];
}

function schemaError(message: string, details?: Record<string, unknown>, cause?: unknown): WeftError {
  return new WeftError(ErrorCodes.STORE_SCHEMA, message, { details, cause });
}

function readVersion(value: unknown): number {
  const v = (value as Partial<SchemaRecord> | null)?.version;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw schemaError(`store key ${SCHEMA_KEY} is unreadable (${JSON.stringify(value)}): the store was not written by weft, or is damaged`, {
      key: SCHEMA_KEY,
    });
  }
  return v;
}

/** Makes sure the store holds schema `current`, migrating an older one. See the file comment. */
export async function ensureSchema(
  store: Store,
  current: number = CURRENT_SCHEMA_VERSION,
  migrations: Migrations = {},
  opts: { writtenBy?: string } = {},
): Promise<SchemaResult> {
  if (!Number.isSafeInteger(current) || current < 1) throw new RangeError(`schema version must be a positive integer, got ${current}`);
  const writtenBy = opts.writtenBy ?? 'weft';
  const record = (version: number): SchemaRecord => ({ version, writtenBy });

  const found = await store.get(SCHEMA_KEY);
  if (found === undefined) {
    // expectRevision 0: if another process initialised it at the same moment, we find out.
    await store.put(SCHEMA_KEY, record(current), { expectRevision: 0 });
    return { previous: undefined, current, migrated: [] };
  }

  const previous = readVersion(found.value);
  if (previous > current) {
    throw schemaError(`store schema ${previous} is newer than this weft supports (${current}): upgrade weft`, {
      storeVersion: previous,
      supportedVersion: current,
      writtenBy: (found.value as Partial<SchemaRecord>).writtenBy,
    });
  }

  // Check every step exists before running the first, so a missing one changes nothing.
  for (let v = previous + 1; v <= current; v++) {
    if (typeof migrations[v] !== 'function') {
      throw schemaError(`store schema ${previous} cannot be upgraded to ${current}: this weft has no migration to schema ${v}`, {
        storeVersion: previous,
        supportedVersion: current,
        missing: v,
      });
    }
  }

  let rev = found.modRevision;
  const migrated: number[] = [];
  for (let v = previous + 1; v <= current; v++) {
    try {
      await migrations[v]!(store);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw schemaError(`store migration to schema ${v} failed: ${msg}`, { from: v - 1, to: v }, e);
    }
    // Compare-and-swap on the schema record: two weftd's migrating at once cannot both succeed.
    rev = await store.put(SCHEMA_KEY, record(v), { expectRevision: rev });
    migrated.push(v);
  }
  return { previous, current, migrated };
}
