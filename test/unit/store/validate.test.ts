import { describe, expect, it } from 'vitest';
import { ErrorCodes, isWeftError } from '../../../src/model/errors.js';
import type { TxnRequest } from '../../../src/store/store.js';
import { conflictError, encodeValue, validateKey, validatePrefix, validateRevision, validateTxn } from '../../../src/store/validate.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isWeftError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a WeftError');
}

describe('store input checks', () => {
  it('keys: non-empty strings without NUL or lone surrogates, at most 1024 bytes', () => {
    expect(validateKey('networks/abc')).toBe('networks/abc');
    for (const bad of ['', 'a\0', '\uDC00x', 'x'.repeat(1025), 5, null, undefined]) {
      expect(codeOf(() => validateKey(bad)), JSON.stringify(bad)).toBe(ErrorCodes.BAD_REQUEST);
    }
    expect(validatePrefix('')).toBe('');
  });

  it('revisions: non-negative safe integers', () => {
    expect(validateRevision('r', 0)).toBe(0);
    for (const bad of [-1, 1.5, NaN, '3', 2 ** 53]) expect(codeOf(() => validateRevision('r', bad))).toBe(ErrorCodes.BAD_REQUEST);
  });

  it('values must have a JSON form', () => {
    expect(encodeValue('k', { a: [1, null] })).toBe('{"a":[1,null]}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [undefined, Symbol('s'), () => 1, 1n, cyclic]) expect(codeOf(() => encodeValue('k', bad))).toBe(ErrorCodes.BAD_REQUEST);
  });

  it('transactions: like etcd, no key written twice and no put of a key the branch deletes', () => {
    const txn = (success: TxnRequest['success']): TxnRequest => ({ compares: [], success });
    expect(codeOf(() => validateTxn(txn([{ type: 'put', key: 'a', value: 1 }, { type: 'put', key: 'a', value: 2 }])))).toBe(ErrorCodes.BAD_REQUEST);
    expect(codeOf(() => validateTxn(txn([{ type: 'put', key: 'a', value: 1 }, { type: 'delete', key: 'a' }])))).toBe(ErrorCodes.BAD_REQUEST);
    expect(codeOf(() => validateTxn(txn([{ type: 'deletePrefix', prefix: 'p/' }, { type: 'put', key: 'p/x', value: 1 }])))).toBe(ErrorCodes.BAD_REQUEST);
    expect(codeOf(() => validateTxn(txn([{ type: 'deletePrefix', prefix: '' }])))).toBe(ErrorCodes.BAD_REQUEST);
    expect(codeOf(() => validateTxn(txn([{ type: 'nope', key: 'a' } as never])))).toBe(ErrorCodes.BAD_REQUEST);
    expect(codeOf(() => validateTxn({ compares: [{ key: 'a', revision: -1 }], success: [] }))).toBe(ErrorCodes.BAD_REQUEST);
    // Deletes may overlap each other (etcd allows it too), and the two branches are separate.
    const ok = validateTxn({
      compares: [{ key: 'a', revision: 0 }],
      success: [{ type: 'deletePrefix', prefix: 'p/' }, { type: 'delete', key: 'p/x' }, { type: 'put', key: 'q', value: 1 }],
      failure: [{ type: 'put', key: 'p/x', value: 2 }],
    });
    expect(ok.success).toHaveLength(3);
    expect(ok.failure).toEqual([{ type: 'put', key: 'p/x', json: '2' }]);
  });

  it('a conflict names the key and both revisions', () => {
    const e = conflictError('pools/x', 4, 7);
    expect(e.code).toBe(ErrorCodes.STORE_CONFLICT);
    expect(e.message).toBe('store key "pools/x" changed: expected it at revision 4, but it is at revision 7; read it again and retry');
    expect(conflictError('k', 0, 3).message).toContain('expected it to be absent');
    expect(conflictError('k', 3, 0).message).toContain('it does not exist');
  });
});
