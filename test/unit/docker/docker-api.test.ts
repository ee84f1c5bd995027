// weft's Docker Engine API client (src/docker, used by docker-sync and check) over a unix socket:
// the requests it sends and how it reads answers. The engine's side is a small node:http server on
// a socket in a temp dir; the real engine is exercised by test/e2e/overlay-docker.test.ts and
// test/e2e/check-docker.test.ts.

import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DockerApi, DockerApiError } from '../../../src/docker/docker-api.js';

interface Seen {
  method: string;
  url: string;
  body: string;
  contentType?: string;
}

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function engine(answer: (req: Seen) => { status: number; body?: unknown; text?: string; hang?: boolean }): Promise<{ api: DockerApi; seen: Seen[] }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'weft-dapi-'));
  const socketPath = path.join(dir, 'docker.sock');
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      const s: Seen = { method: req.method!, url: req.url!, body, ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}) };
      seen.push(s);
      const a = answer(s);
      if (a.hang) return;
      res.writeHead(a.status, { 'Content-Type': a.text !== undefined ? 'text/plain' : 'application/json' });
      res.end(a.text ?? JSON.stringify(a.body ?? {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  cleanup.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });
  return { api: new DockerApi(socketPath, 500), seen };
}

describe('DockerApi', () => {
  it('lists networks, creates one with a JSON body, removes one by id', async () => {
    const { api, seen } = await engine((r) =>
      r.url === '/networks' ? { status: 200, body: [{ Id: 'd1', Name: 'ov1', Driver: 'weft-overlay', Options: { 'weft.network': 'ov1' } }] } : r.method === 'POST' ? { status: 201, body: { Id: 'd2', Warning: '' } } : { status: 204, text: '' },
    );
    expect(await api.listNetworks()).toEqual([{ Id: 'd1', Name: 'ov1', Driver: 'weft-overlay', Options: { 'weft.network': 'ov1' } }]);
    const body = { Name: 'ov2', CheckDuplicate: true, Driver: 'weft-overlay', Internal: false, EnableIPv6: false, Options: {}, Labels: {}, IPAM: { Driver: 'weft', Options: {}, Config: [] } };
    expect(await api.createNetwork(body)).toEqual({ Id: 'd2', Warning: '' });
    await api.removeNetwork('d1');
    await api.ping();
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /networks', 'POST /networks/create', 'DELETE /networks/d1', 'GET /_ping']);
    expect(JSON.parse(seen[1]!.body)).toEqual(body);
    expect(seen[1]!.contentType).toBe('application/json');
  });

  it('turns an error answer into DockerApiError with the status and the engine\'s message', async () => {
    const { api } = await engine(() => ({ status: 403, body: { message: 'error while removing network: network ov1 id d1 has active endpoints' } }));
    const e = await api.removeNetwork('d1').then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(DockerApiError);
    expect((e as DockerApiError).status).toBe(403);
    expect((e as DockerApiError).message).toMatch(/DELETE \/networks\/d1: 403 error while removing network: .* has active endpoints/);
  });

  it('gives up on an engine that does not answer, and fails on a missing socket', async () => {
    const { api } = await engine(() => ({ status: 200, hang: true }));
    await expect(api.listNetworks()).rejects.toThrow(/no answer within 500 ms/);
    await expect(new DockerApi('/nonexistent/docker.sock').listNetworks()).rejects.toThrow(/ENOENT/);
  });
});
