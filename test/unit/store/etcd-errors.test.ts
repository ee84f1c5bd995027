// The mapping of etcd client failures to Store errors. The errors here are built the way grpc-js
// and etcd report them (a status `code` and etcd's message text); the e2e tier sees the real ones.

import { describe, expect, it } from 'vitest';
import { ErrorCodes, WeftError } from '../../../src/model/errors.js';
import { EtcdTimeoutError, tidyMessage, toStoreError } from '../../../src/store/etcd-errors.js';

const ctx = { op: 'put "k"', endpoints: ['127.0.0.1:2379', '[::1]:2380'], timeoutMs: 5_000 };
const grpcError = (code: number, message: string) => Object.assign(new Error(message), { code });

describe('toStoreError', () => {
  it('a deadline is STORE_UNAVAILABLE saying how long it waited, naming every endpoint', () => {
    for (const e of [grpcError(4, '4 DEADLINE_EXCEEDED: Deadline exceeded'), new EtcdTimeoutError(5_000)]) {
      const w = toStoreError(e, ctx);
      expect(w.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
      expect(w.message).toBe('put "k": etcd at 127.0.0.1:2379, [::1]:2380 did not answer within 5000 ms (is etcd running, and does the cluster have a quorum?)');
      expect(w.details).toEqual({ endpoints: ctx.endpoints });
      expect(w.cause).toBe(e);
    }
  });

  it('a refused connection is STORE_UNAVAILABLE with the reason, without gRPC noise', () => {
    const e = grpcError(14, '14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2379 (2026-01-01T00:00:00.000Z). Resolution note: ');
    expect(toStoreError(e, ctx).message).toBe('put "k": cannot reach etcd at 127.0.0.1:2379, [::1]:2380: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2379');
  });

  it('etcd server errors get their own codes', () => {
    expect(toStoreError(new Error('etcdserver: requested lease not found'), { ...ctx, lease: '42' })).toMatchObject({
      code: ErrorCodes.STORE_LEASE_EXPIRED,
      details: { lease: '42' },
    });
    expect(toStoreError(new Error('etcdserver: mvcc: required revision has been compacted'), ctx).code).toBe(ErrorCodes.STORE_COMPACTED);
    expect(toStoreError(grpcError(3, '3 INVALID_ARGUMENT: etcdserver: too many operations in txn request'), ctx).code).toBe(ErrorCodes.BAD_REQUEST);
    expect(toStoreError(new Error('etcdserver: request is too large'), ctx).code).toBe(ErrorCodes.BAD_REQUEST);
  });

  it('a WeftError passes through unchanged', () => {
    const w = new WeftError(ErrorCodes.STORE_CONFLICT, 'lost');
    expect(toStoreError(w, ctx)).toBe(w);
  });
});

describe('tidyMessage', () => {
  it('keeps what happened and drops status prefixes, timestamps and line breaks', () => {
    expect(tidyMessage(new Error('14 UNAVAILABLE: Failed to connect (2026-11-22T15:18:18.430Z). Resolution note: '))).toBe('Failed to connect');
    expect(tidyMessage('a\n b')).toBe('a b');
  });
});
