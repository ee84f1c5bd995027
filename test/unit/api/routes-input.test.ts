// Paths the management API cannot decode are the client's mistake (400), not weftd's (found by
// the fuzz test: decodeURIComponent threw URIError, which became WEFT_ERR_INTERNAL).

import { describe, expect, it } from 'vitest';
import type { ApiContext } from '../../../src/api/routes.js';
import { route } from '../../../src/api/routes.js';

// route() refuses these before it looks at the controller: an empty context is enough.
const ctx = {} as ApiContext;

describe('management API paths', () => {
  it.each(['/v1/networks/%E0%A4%A', '/v1/networks/%', '/v1/networks/%zz/connect'])('answers %s with WEFT_ERR_BAD_REQUEST', async (p) => {
    await expect(route(ctx, 'GET', p, undefined)).rejects.toMatchObject({ code: 'WEFT_ERR_BAD_REQUEST', kind: 'BadRequest' });
  });
});
