// One docker-sync pass (src/docker-sync/sync-loop.ts) against a small stand-in engine on a unix
// socket: it creates the missing copy, leaves a bound copy alone, keeps a copy the engine refuses
// to remove (containers on it) and reports it once, and waits for a copy the engine is removing.
// The real engine: test/e2e/overlay-docker.test.ts.

import http from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockerApi, type DockerNetwork } from '../../../src/docker/docker-api.js';
import { DockerSync } from '../../../src/docker-sync/sync-loop.js';
import type { NetworkRecord } from '../../../src/model/network.js';
import { DockerBindings } from '../../../src/plugin/docker-bindings.js';
import type { LocalStore } from '../../../src/store/local-store.js';
import { unitScopePerTest } from '../../helpers/unit-container.js';
import { overlayRecord } from './overlay-record.js';

const ov = overlayRecord;

// Registered before the afterEach below, so it runs after it (vitest runs after-hooks as a stack):
// the loop and the stand-in engine stop before the store closes and the temp dir goes.
const scope = unitScopePerTest();
let dir: string;
let store: LocalStore;
let server: http.Server;
let engineNets: DockerNetwork[];
let refuseRemove: boolean;
let engineDown: boolean;
let calls: string[];
let cluster: NetworkRecord[];
let logLines: Array<{ msg: string }>;
let sync: DockerSync;
let bindings: DockerBindings;
let engineSocket: string;

beforeEach(async () => {
  ({ dir, store } = await scope.store('weft-dsync-'));
  engineNets = [];
  refuseRemove = false;
  engineDown = false;
  calls = [];
  cluster = [];
  logLines = [];
  const socketPath = path.join(dir, 'docker.sock');
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      calls.push(`${req.method} ${req.url}`);
      const send = (status: number, v: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(v));
      if (engineDown) return send(500, { message: 'engine starting' });
      if (req.method === 'GET') return send(200, engineNets);
      if (req.method === 'POST') {
        const b = JSON.parse(body) as { Name: string; Driver: string; Options: Record<string, string> };
        const id = `d${engineNets.length + 1}`.padEnd(64, '0');
        engineNets.push({ Id: id, Name: b.Name, Driver: b.Driver, Options: b.Options });
        return send(201, { Id: id });
      }
      if (refuseRemove) return send(403, { message: 'network has active endpoints' });
      engineNets = engineNets.filter((n) => `/networks/${n.Id}` !== req.url);
      return send(204, {});
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  engineSocket = socketPath;
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(l) as { msg: string });
      cb();
    },
  });
  bindings = new DockerBindings(store);
  sync = new DockerSync({ api: new DockerApi(socketPath, 2_000), bindings, clusterStore: store, listNetworks: async () => cluster, logger: pino({ level: 'info' }, sink), mode: 'on', intervalMs: 60_000 });
});

afterEach(async () => {
  await sync.stop();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('DockerSync.pass', () => {
  it('creates the missing copy, then leaves the bound copy alone', async () => {
    cluster = [ov('ov1', 'a')];
    await sync.pass();
    expect(calls).toEqual(['GET /networks', 'POST /networks/create']);
    // The engine's CreateNetwork call binds the copy (here by hand: no plugin behind this engine).
    await bindings.put({ dockerId: engineNets[0]!.Id, networkId: 'a'.repeat(64), name: 'ov1' });
    calls = [];
    expect(await sync.pass()).toEqual({ retrySoon: false });
    expect(calls).toEqual(['GET /networks']);
    expect(sync.stats()).toMatchObject({ passes: 2, created: 1, removed: 0 });
  });

  it('removes a copy whose cluster network is gone; keeps one the engine refuses to remove, reporting it once', async () => {
    engineNets = [{ Id: 'x'.repeat(64), Name: 'old', Driver: 'weft-overlay', Options: { 'weft.network': 'old' } }];
    refuseRemove = true;
    await sync.pass();
    await sync.pass();
    expect(calls.filter((c) => c.startsWith('DELETE'))).toHaveLength(2);
    expect(logLines.filter((l) => l.msg === 'Docker network kept while containers use it')).toHaveLength(1);
    refuseRemove = false;
    await sync.pass();
    expect(engineNets).toEqual([]);
    expect(sync.stats().removed).toBe(1);
  });

  it('waits for a copy the engine is removing instead of binding or replacing it', async () => {
    cluster = [ov('ov1', 'a')];
    engineNets = [{ Id: 'y'.repeat(64), Name: 'ov1', Driver: 'weft-overlay', Options: { 'weft.network': 'ov1' } }];
    await bindings.put({ dockerId: 'y'.repeat(64), networkId: 'a'.repeat(64), name: 'ov1' });
    await bindings.drop('y'.repeat(64)); // what Docker's DeleteNetwork does
    expect(await sync.pass()).toEqual({ retrySoon: true });
    expect(await bindings.list()).toEqual([]);
    engineNets = [];
    await sync.pass();
    expect(calls.filter((c) => c.startsWith('POST'))).toHaveLength(1);
  });
});

describe('DockerSync onEngineReachable', () => {
  it('fires on the first pass that reaches the engine and again after the engine was unreachable, not on every pass', async () => {
    let reached = 0;
    const s = new DockerSync({ api: new DockerApi(engineSocket, 2_000), bindings, clusterStore: store, listNetworks: async () => cluster, logger: pino({ level: 'silent' }), mode: 'on', intervalMs: 60_000, onEngineReachable: () => reached++ });
    await s.pass();
    await s.pass();
    expect(reached).toBe(1);
    engineDown = true;
    await expect(s.pass()).rejects.toThrow(/engine starting/);
    expect(reached).toBe(1);
    engineDown = false;
    await s.pass();
    await s.pass();
    expect(reached).toBe(2);
  });
});
