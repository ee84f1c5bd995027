// Input checks shared by every Store implementation, so that the embedded store and etcd reject
// the same requests with the same codes (a rejected request changes no state: every check here
// runs before anything is written).

import { ErrorCodes, WeftError } from '../model/errors.js';
import type { Compare, TxnOp, TxnRequest } from './store.js';

/** Longest key accepted, in UTF-8 bytes. LMDB caps keys at 1,978 bytes; we stay well below it so
 *  that an implementation prefix (etcd's --etcd-prefix) still fits. */
export const MAX_KEY_BYTES = 1024;

// A lone UTF-16 surrogate has no UTF-8 form: two different such strings would encode to the same
// bytes (U+FFFD), so they could silently overwrite each other.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function badRequest(message: string, details?: Record<string, unknown>): WeftError {
  return new WeftError(ErrorCodes.BAD_REQUEST, message, details ? { details } : {});
}

function checkText(what: string, s: unknown, allowEmpty: boolean): string {
  if (typeof s !== 'string') throw badRequest(`store ${what} must be a string, got ${typeof s}`);
  if (!allowEmpty && s.length === 0) throw badRequest(`store ${what} must not be empty`);
  if (s.includes('\0')) throw badRequest(`store ${what} ${JSON.stringify(s)} contains a NUL character`);
  if (LONE_SURROGATE.test(s)) throw badRequest(`store ${what} ${JSON.stringify(s)} is not valid Unicode`);
  const bytes = Buffer.byteLength(s, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw badRequest(`store ${what} is ${bytes} bytes long; the limit is ${MAX_KEY_BYTES}`, { [what]: s.slice(0, 64) });
  }
  return s;
}

/** A key: a non-empty string without NUL, at most MAX_KEY_BYTES of UTF-8. */
export function validateKey(key: unknown): string {
  return checkText('key', key, false);
}

/** A prefix for list and watch: like a key, but may be empty (meaning every key). */
export function validatePrefix(prefix: unknown): string {
  return checkText('prefix', prefix, true);
}

/** A prefix to delete: must not be empty, so that one bad argument cannot wipe the whole store. */
export function validateDeletePrefix(prefix: unknown): string {
  const p = checkText('prefix', prefix, true);
  if (p.length === 0) throw badRequest('refusing to delete with an empty prefix (it would remove every key)');
  return p;
}

/** A revision given by a caller (expectRevision, a compare, afterRevision): a non-negative integer. */
export function validateRevision(what: string, rev: unknown): number {
  if (typeof rev !== 'number' || !Number.isSafeInteger(rev) || rev < 0) {
    throw badRequest(`${what} must be a non-negative integer, got ${JSON.stringify(rev) ?? String(rev)}`);
  }
  return rev;
}

/** Turns a value into its stored JSON text, or rejects it. Values round-trip through JSON, so what
 *  `get` returns is what JSON.parse(JSON.stringify(value)) gives (a Date comes back as a string). */
export function encodeValue(key: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    throw badRequest(`value for store key ${JSON.stringify(key)} is not JSON-serializable: ${(e as Error).message}`);
  }
  if (json === undefined) {
    throw badRequest(`value for store key ${JSON.stringify(key)} is not JSON-serializable (got ${typeof value})`);
  }
  return json;
}

/** A transaction op with its value already encoded. */
export type CheckedOp =
  | { type: 'put'; key: string; json: string }
  | { type: 'delete'; key: string }
  | { type: 'deletePrefix'; prefix: string };

export interface CheckedTxn {
  compares: Compare[];
  success: CheckedOp[];
  failure: CheckedOp[];
}

function checkOps(branch: string, ops: unknown): CheckedOp[] {
  if (ops === undefined) return [];
  if (!Array.isArray(ops)) throw badRequest(`txn ${branch} must be an array`);
  const out: CheckedOp[] = [];
  for (const raw of ops as TxnOp[]) {
    if (raw === null || typeof raw !== 'object') throw badRequest(`txn ${branch} op must be an object`);
    switch (raw.type) {
      case 'put': {
        const key = validateKey(raw.key);
        out.push({ type: 'put', key, json: encodeValue(key, raw.value) });
        break;
      }
      case 'delete':
        out.push({ type: 'delete', key: validateKey(raw.key) });
        break;
      case 'deletePrefix':
        out.push({ type: 'deletePrefix', prefix: validateDeletePrefix(raw.prefix) });
        break;
      default:
        throw badRequest(`txn ${branch} op has unknown type ${JSON.stringify((raw as { type?: unknown }).type)}`);
    }
  }
  // etcd refuses a transaction that writes one key twice, or puts a key that the same branch also
  // deletes; we refuse the same so both stores accept exactly the same transactions.
  const puts = new Set<string>();
  for (const op of out) {
    if (op.type !== 'put') continue;
    if (puts.has(op.key)) throw badRequest(`txn ${branch} puts key ${JSON.stringify(op.key)} twice`);
    puts.add(op.key);
  }
  for (const op of out) {
    if (op.type === 'put') continue;
    for (const key of puts) {
      const hit = op.type === 'delete' ? key === op.key : key.startsWith(op.prefix);
      if (hit) throw badRequest(`txn ${branch} both puts and deletes key ${JSON.stringify(key)}`);
    }
  }
  return out;
}

/** Checks a whole transaction request before anything is compared or written. */
export function validateTxn(req: TxnRequest): CheckedTxn {
  if (req === null || typeof req !== 'object') throw badRequest('txn request must be an object');
  if (!Array.isArray(req.compares)) throw badRequest('txn compares must be an array');
  const compares = req.compares.map((c) => {
    if (c === null || typeof c !== 'object') throw badRequest('txn compare must be an object');
    return { key: validateKey(c.key), revision: validateRevision('txn compare revision', c.revision) };
  });
  return { compares, success: checkOps('success', req.success), failure: checkOps('failure', req.failure) };
}

/** The error a lost compare-and-swap raises, naming the key and both revisions. */
export function conflictError(key: string, expected: number, actual: number): WeftError {
  const want = expected === 0 ? 'to be absent' : `at revision ${expected}`;
  const got = actual === 0 ? 'it does not exist' : `it is at revision ${actual}`;
  return new WeftError(ErrorCodes.STORE_CONFLICT, `store key ${JSON.stringify(key)} changed: expected it ${want}, but ${got}; read it again and retry`, {
    details: { key, expectedRevision: expected, actualRevision: actual },
  });
}
