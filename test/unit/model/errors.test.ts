import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, WeftError, allErrorCodes, exitCodeOf, httpStatusOf, toWeftError } from '../../../src/model/errors.js';

describe('error codes', () => {
  it('lists every code in docs/errors.md (fastify pattern)', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const missing = allErrorCodes().filter((c) => !doc.includes(`\`${c}\``));
    expect(missing).toEqual([]);
  });

  it('codes are unique and all start with WEFT_ERR_', () => {
    const codes = allErrorCodes();
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^WEFT_ERR_[A-Z_]+$/);
  });

  it('maps kinds to statuses and exit codes', () => {
    const e = new WeftError(ErrorCodes.POOL_EXHAUSTED, 'pool x is exhausted');
    expect(e.kind).toBe('NoService');
    expect(httpStatusOf(e)).toBe(503);
    expect(exitCodeOf('NotFound')).toBe(3);
    expect(httpStatusOf(new WeftError(ErrorCodes.NETWORK_NOT_FOUND, 'x'))).toBe(404);
  });

  it('wraps foreign errors as internal, keeping the cause', () => {
    const cause = new Error('boom');
    const w = toWeftError(cause);
    expect(w.code).toBe(ErrorCodes.INTERNAL);
    expect(w.cause).toBe(cause);
    const same = new WeftError(ErrorCodes.BAD_REQUEST, 'x');
    expect(toWeftError(same)).toBe(same);
  });
});
