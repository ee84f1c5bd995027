// GET /v1/check checks; POST /v1/check?repair=1 repairs; a POST without repair=1 changes nothing.

import { describe, expect, it } from 'vitest';
import { route, type ApiContext } from '../../../src/api/routes.js';
import { ErrorCodes, WeftError } from '../../../src/model/errors.js';

describe('/v1/check routes', () => {
  const calls: string[] = [];
  const ctx = {
    check: async () => (calls.push('check'), { clean: true }),
    repairCheck: async () => (calls.push('repair'), { after: { clean: true } }),
  } as unknown as ApiContext;

  it('GET checks, POST ?repair=1 repairs, a bare POST is refused before anything runs', async () => {
    expect(await route(ctx, 'GET', '/v1/check', undefined)).toEqual({ status: 200, body: { clean: true } });
    expect(await route(ctx, 'POST', '/v1/check', undefined, new URLSearchParams('repair=1'))).toEqual({ status: 200, body: { after: { clean: true } } });
    const err = await route(ctx, 'POST', '/v1/check', undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeftError);
    expect((err as WeftError).code).toBe(ErrorCodes.BAD_REQUEST);
    expect(calls).toEqual(['check', 'repair']);
  });
});
