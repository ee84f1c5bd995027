// `weft host ls` / `weft host rm` end to end without weftd: the real CLI (in-process) talks over a
// temp unix socket to a node:http server that hands /v1/hosts requests to routeHosts (as
// src/api/routes.ts does in weftd), backed by real Membership instances on the embedded store.

import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { routeHosts } from '../../../src/api/hosts-routes.js';
import type { HostView } from '../../../src/api/types.js';
import { run } from '../../../src/cli/run.js';
import { ago, formatHostTable } from '../../../src/cli/commands/host-format.js';
import { ErrorCodes, WeftError, httpStatusOf, toWeftError } from '../../../src/model/errors.js';
import { type LocalStore, openLocalStore } from '../../../src/store/local-store.js';
import { TestCluster, waitFor } from './fixture.js';

let dir: string;
let store: LocalStore;
let cluster: TestCluster;
let server: http.Server;
let socket: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-hosts-api-'));
  store = await openLocalStore({ path: join(dir, 'store') });
  cluster = new TestCluster(() => store, { ttlSeconds: 1, deadAfterSeconds: 60 });
  for (const id of ['h1', 'h2', 'h3']) await cluster.start(id);
  await waitFor('h1 sees three hosts', () => cluster.get('h1').m.snapshot().length === 3, 3_000);
  // The API of h1's weftd.
  const m = cluster.get('h1').m;
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://weft');
      const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      try {
        const out = await routeHosts({ membership: m }, req.method ?? 'GET', parts, text ? JSON.parse(text) : undefined, url.searchParams);
        res.writeHead(out.status, { 'content-type': 'application/json' }).end(JSON.stringify(out.body));
      } catch (e) {
        const err = toWeftError(e);
        res.writeHead(httpStatusOf(err), { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: err.code, message: err.message } }));
      }
    });
  });
  socket = join(dir, 'weft.sock');
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await cluster?.stopAll();
  await store.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function weft(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: { WEFT_HOST: `unix://${socket}` } });
  return { code, stdout, stderr };
}

describe('weft host ls', () => {
  it('prints a table with this host marked, and JSON with every field', async () => {
    const table = await weft(['host', 'ls']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+HOSTNAME\s+ADDRESS\s+STATE\s+LAST SEEN$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 4))).toEqual([
      ['h1 *', 'node-h1', '192.0.2.10', 'up'],
      ['h2', 'node-h2', '192.0.2.11', 'up'],
      ['h3', 'node-h3', '192.0.2.12', 'up'],
    ]);
    const json = await weft(['host', 'ls', '--format', 'json']);
    const views = JSON.parse(json.stdout) as HostView[];
    expect(views.map((v) => [v.id, v.self, v.state])).toEqual([
      ['h1', true, 'up'],
      ['h2', false, 'up'],
      ['h3', false, 'up'],
    ]);
    expect(Object.keys(views[0]!).sort()).toEqual(['advertiseAddr', 'hostname', 'id', 'lastSeen', 'self', 'startedAt', 'state', 'version']);
  });
});

describe('weft host rm', () => {
  it('refuses an up host (exit 4), removes a lost one, --force removes an up one', async () => {
    const refused = await weft(['host', 'rm', 'h2']);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/host h2 \(node-h2\) is up/);
    expect(refused.stderr).toMatch(/WEFT_ERR_HOST_UP/);

    await cluster.get('h2').m.stop();
    await waitFor('h1 sees h2 lost', () => cluster.seen('h1', 'h2') === 'lost', 3_000);
    const lost = await weft(['host', 'ls']);
    expect(lost.stdout).toMatch(/^h2\s+node-h2\s+192\.0\.2\.11\s+lost\s+/m);
    expect(await weft(['host', 'rm', 'node-h2'])).toEqual({ code: 0, stdout: 'node-h2\n', stderr: '' });

    // --force reaches the daemon (query and body); h3's weftd keeps running, so stop it first
    // to see it stay removed.
    await cluster.get('h3').m.stop({ revoke: false });
    const forced = await weft(['host', 'rm', '--force', 'h3']);
    expect(forced).toEqual({ code: 0, stdout: 'h3\n', stderr: '' });
    const left = JSON.parse((await weft(['host', 'ls', '--format', 'json'])).stdout) as HostView[];
    expect(left.map((h) => h.id)).toEqual(['h1']);
  });

  it('an unknown host is exit 3; a bad name never reaches the daemon (exit 2)', async () => {
    const nf = await weft(['host', 'rm', 'ghost']);
    expect(nf.code).toBe(3);
    expect(nf.stderr).toMatch(/host "ghost" not found/);
    const bad = await weft(['host', 'rm', 'a/b']);
    expect(bad.code).toBe(2);
  });
});

describe('routeHosts', () => {
  it('validates force and the route; says so when membership is not running', async () => {
    const m = cluster.get('h1').m;
    const err = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        return e as WeftError;
      }
      throw new Error('expected a rejection');
    };
    expect((await err(routeHosts({ membership: m }, 'DELETE', ['v1', 'hosts', 'h2'], undefined, new URLSearchParams('force=yes')))).code).toBe(ErrorCodes.BAD_REQUEST);
    expect((await err(routeHosts({ membership: m }, 'DELETE', ['v1', 'hosts', 'h2'], { force: 'yes' }))).code).toBe(ErrorCodes.BAD_REQUEST);
    expect((await err(routeHosts({ membership: m }, 'DELETE', ['v1', 'hosts', 'h2'], { forced: true }))).code).toBe(ErrorCodes.BAD_REQUEST);
    expect((await err(routeHosts({ membership: m }, 'POST', ['v1', 'hosts'], {}))).code).toBe(ErrorCodes.BAD_REQUEST);
    expect((await err(routeHosts({}, 'GET', ['v1', 'hosts'], undefined))).code).toBe(ErrorCodes.NOT_SUPPORTED);
    // Nothing was removed by the refused requests.
    expect((await m.hosts()).length).toBe(3);
  });
});

describe('host table formatting', () => {
  it('says how long ago, and why a host is gone', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    expect(ago(undefined, now)).toBe('-');
    expect(ago('2026-01-01T00:10:00Z', now)).toBe('just now');
    expect(ago('2026-01-01T00:09:59Z', now)).toBe('1 second ago');
    expect(ago('2026-01-01T00:08:00Z', now)).toBe('2 minutes ago');
    expect(ago('2025-12-30T00:10:00Z', now)).toBe('2 days ago');
    const v = (id: string, state: HostView['state'], extra: Partial<HostView> = {}): HostView => ({
      id, hostname: `n-${id}`, advertiseAddr: '', version: '1', state, startedAt: '2026-01-01T00:00:00Z', self: false, ...extra,
    });
    expect(formatHostTable([v('b', 'gone', { goneReason: 'probe', lastSeen: '2026-01-01T00:09:00Z' }), v('a', 'lost')], now)).toBe(
      'ID        HOSTNAME   ADDRESS   STATE                LAST SEEN\n' +
        'a         n-a        -         lost                 -\n' +
        'b         n-b        -         gone (unreachable)   1 minute ago\n',
    );
  });
});
