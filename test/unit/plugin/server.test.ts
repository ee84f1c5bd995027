// The plugin server on real unix sockets in a temp folder, spoken to with node:http the way dockerd
// speaks to it: POST, Content-Length, JSON + newline, keep-alive.

import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, WeftError } from '../../../src/model/errors.js';
import { PLUGINS } from '../../../src/plugin/plugins.js';
import { PluginServer, type PluginServerOptions } from '../../../src/plugin/server.js';
import { RecordingController, RecordingIpam, fixtureText, logSink } from './recording-fakes.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: Record<string, unknown>;
}

function post(socketPath: string, path: string, body = '', opts: { method?: string; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        path,
        method: opts.method ?? 'POST',
        agent: opts.agent ?? false,
        headers: { Accept: 'application/vnd.docker.plugins.v1.2+json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            /* the test looks at text */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let dir: string;
let controller: RecordingController;
let ipam: RecordingIpam;
let sink: ReturnType<typeof logSink>;
const servers: PluginServer[] = [];
const extraCleanups: Array<() => Promise<void> | void> = [];

function makeServer(opts: Partial<PluginServerOptions> = {}): PluginServer {
  const s = new PluginServer(controller, ipam, sink.logger, { pluginDir: join(dir, 'plugins'), ...opts });
  servers.push(s);
  return s;
}

async function started(opts: Partial<PluginServerOptions> = {}): Promise<PluginServer> {
  const s = makeServer(opts);
  await s.listen();
  return s;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-plugin-'));
  controller = new RecordingController();
  ipam = new RecordingIpam();
  sink = logSink();
});

afterEach(async () => {
  for (const c of extraCleanups.splice(0).reverse()) await c();
  for (const s of servers.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

describe('sockets', () => {
  it('creates the plugin folder and one 0660 socket per plugin name', async () => {
    const s = await started();
    const pluginDir = join(dir, 'plugins');
    expect((await stat(pluginDir)).mode & 0o777).toBe(0o755);
    expect((await readdir(pluginDir)).sort()).toEqual(PLUGINS.map((p) => `${p.name}.sock`).sort());
    for (const path of s.sockets) {
      const st = await stat(path);
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o660);
    }
  });

  // Root may give the sockets to any group; others only to a group they belong to.
  const otherGid =
    process.getuid?.() === 0 ? 4242 : process.getgroups?.().find((g) => g !== process.getgid?.());
  it.skipIf(otherGid === undefined)('gives the sockets to socketGid when one is set', async () => {
    const s = await started({ socketGid: otherGid! });
    for (const path of s.sockets) expect((await stat(path)).gid).toBe(otherGid);
  });

  it.each(PLUGINS.map((p) => [p.name, p.implements] as const))('Plugin.Activate on %s.sock answers %j', async (name, impl) => {
    const s = await started();
    const r = await post(s.socketPath(name), '/Plugin.Activate');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/vnd.docker.plugins.v1.1+json');
    expect(r.json).toEqual({ Implements: [...impl] });
  });

  it('replaces a stale socket left by a dead process', async () => {
    const pluginDir = join(dir, 'plugins');
    const s0 = new PluginServer(controller, ipam, sink.logger, { pluginDir, plugins: [PLUGINS[0]!] });
    // Make a socket file nobody listens on: listen, move the file to the real name, close
    // (the server unlinks only the name it listened on).
    const tmp = new PluginServer(controller, ipam, sink.logger, {
      pluginDir,
      plugins: [{ name: 'tmp', implements: ['NetworkDriver'], driver: 'bridge' }],
    });
    await tmp.listen();
    await rename(tmp.socketPath('tmp'), s0.socketPath('weft-bridge'));
    await tmp.close();
    expect((await stat(s0.socketPath('weft-bridge'))).isSocket()).toBe(true);
    await expect(post(s0.socketPath('weft-bridge'), '/Plugin.Activate')).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    servers.push(s0);
    await s0.listen();
    const r = await post(s0.socketPath('weft-bridge'), '/Plugin.Activate');
    expect(r.json).toEqual({ Implements: ['NetworkDriver'] });
  });

  it('refuses to replace a file that is not a socket, and leaves nothing behind', async () => {
    const s = makeServer();
    await mkdir(join(dir, 'plugins'));
    await writeFile(s.socketPath('weft-none'), 'precious');
    await expect(s.listen()).rejects.toThrow(/refusing to replace .*weft-none\.sock: it exists and is not a socket/);
    expect(await readdir(join(dir, 'plugins'))).toEqual(['weft-none.sock']);
  });

  it('refuses a socket another live process serves', async () => {
    const s = makeServer({ plugins: [PLUGINS[5]!] });
    await mkdir(join(dir, 'plugins'));
    const other = net.createServer((c) => c.destroy());
    await new Promise<void>((r) => other.listen(s.socketPath('weft'), r));
    extraCleanups.push(() => new Promise<void>((r) => other.close(() => r())));
    await expect(s.listen()).rejects.toThrow(/is served by another process/);
  });

  it('removes its sockets on close, and close is idempotent', async () => {
    const s = await started();
    const paths = s.sockets;
    await s.close();
    await s.close();
    expect(await readdir(join(dir, 'plugins'))).toEqual([]);
    await expect(post(paths[0]!, '/Plugin.Activate')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(s.listen()).rejects.toThrow(/closed/);
  });

  it('refuses a socket path longer than a unix socket address allows', async () => {
    const s = makeServer({ pluginDir: join(dir, 'x'.repeat(120)) });
    await expect(s.listen()).rejects.toMatchObject({ code: ErrorCodes.INVALID_NAME });
  });
});

describe('status codes and bodies', () => {
  it('answers the bodyless calls with an empty body', async () => {
    const s = await started();
    expect((await post(s.socketPath('weft-bridge'), '/NetworkDriver.GetCapabilities')).json).toEqual({ Scope: 'local', ConnectivityScope: 'local' });
    expect((await post(s.socketPath('weft'), '/IpamDriver.GetCapabilities')).json).toEqual({ RequiresMACAddress: false, RequiresRequestReplay: false });
    const spaces = await post(s.socketPath('weft'), '/IpamDriver.GetDefaultAddressSpaces');
    expect([spaces.status, spaces.json]).toEqual([200, { LocalDefaultAddressSpace: 'local', GlobalDefaultAddressSpace: 'global' }]);
  });

  it('understands the request exactly as dockerd\'s Go client writes it', async () => {
    const s = await started();
    const body = fixtureText('IpamDriver.RequestAddress'); // JSON followed by a newline
    const raw =
      'POST /IpamDriver.RequestAddress HTTP/1.1\r\n' +
      'Host: %2Frun%2Fdocker%2Fplugins%2Fweft.sock\r\n' +
      'User-Agent: Go-http-client/1.1\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Accept: application/vnd.docker.plugins.v1.2+json\r\n' +
      'Accept-Encoding: gzip\r\n\r\n' +
      body;
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(s.socketPath('weft'));
      let got = '';
      sock.on('data', (d) => {
        got += d.toString('utf8');
        if (got.includes('\r\n\r\n') && got.endsWith('}')) {
          sock.destroy();
          resolve(got);
        }
      });
      sock.on('error', reject);
      sock.write(raw);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(reply).toContain('Content-Type: application/vnd.docker.plugins.v1.1+json');
    expect(reply.endsWith('{"Address":"10.50.0.7/16","Data":{}}')).toBe(true);
    expect(ipam.ops()).toEqual(['requestAddress']);
  });

  it('answers 200 with {} (never an empty body) for calls with nothing to say', async () => {
    const s = await started();
    const r = await post(s.socketPath('weft-bridge'), '/NetworkDriver.CreateNetwork', fixtureText('NetworkDriver.CreateNetwork'));
    expect([r.status, r.text]).toEqual([200, '{}']);
    expect(controller.ops()).toEqual(['createNetwork']);
  });

  it('answers 404 for methods a socket does not implement', async () => {
    const s = await started();
    for (const [sock, path] of [
      ['weft-bridge', '/IpamDriver.RequestPool'],
      ['weft', '/NetworkDriver.Join'],
      ['weft-host', '/VolumeDriver.Create'],
      ['weft-host', '/'],
      ['weft-host', '/constructor'],
    ] as const) {
      const r = await post(s.socketPath(sock), path, '{}\n');
      expect(r.status, path).toBe(404);
      expect(String(r.json.Err)).toContain(`plugin ${sock} does not implement`);
    }
  });

  it('answers 405 for anything but POST', async () => {
    const s = await started();
    const r = await post(s.socketPath('weft'), '/Plugin.Activate', '', { method: 'GET' });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('POST');
  });

  it('answers 500 + Err for invalid JSON, and calls nothing', async () => {
    const s = await started();
    const r = await post(s.socketPath('weft-bridge'), '/NetworkDriver.CreateNetwork', '{"NetworkID": "ab",');
    expect(r.status).toBe(500);
    expect(r.headers['content-type']).toBe('application/vnd.docker.plugins.v1.1+json');
    expect(String(r.json.Err)).toMatch(/^invalid request body for NetworkDriver\.CreateNetwork: not valid JSON .*\[WEFT_ERR_BAD_REQUEST\]$/);
    expect(controller.calls).toEqual([]);
  });

  it('answers 500 for an empty body where one is needed, and for a field that fails its check', async () => {
    const s = await started();
    const empty = await post(s.socketPath('weft-bridge'), '/NetworkDriver.Join');
    expect([empty.status, empty.json.Err]).toEqual([500, 'invalid request body for NetworkDriver.Join: empty body, expected a JSON object [WEFT_ERR_BAD_REQUEST]']);
    const body = fixtureText('NetworkDriver.CreateEndpoint').replace(/"EndpointID":"[0-9a-f]+"/, '"EndpointID":"not-hex"');
    const bad = await post(s.socketPath('weft-bridge'), '/NetworkDriver.CreateEndpoint', body);
    expect(bad.status).toBe(500);
    expect(String(bad.json.Err)).toContain('invalid request body for NetworkDriver.CreateEndpoint: EndpointID: expected hex string');
    expect(controller.calls).toEqual([]);
  });

  it('answers 500 + the WeftError message and code when the controller refuses', async () => {
    const s = await started();
    controller.fail.createNetwork = new WeftError(ErrorCodes.POOL_OVERLAP, 'subnet 10.50.0.0/16 overlaps network red');
    const r = await post(s.socketPath('weft-bridge'), '/NetworkDriver.CreateNetwork', fixtureText('NetworkDriver.CreateNetwork'));
    expect([r.status, r.json]).toEqual([500, { Err: 'subnet 10.50.0.0/16 overlaps network red [WEFT_ERR_POOL_OVERLAP]' }]);
  });

  it('answers 500 for an unexpected exception too', async () => {
    const s = await started();
    controller.fail.join = new TypeError('x is undefined');
    const r = await post(s.socketPath('weft-bridge'), '/NetworkDriver.Join', fixtureText('NetworkDriver.Join'));
    expect([r.status, r.json]).toEqual([500, { Err: 'internal error: x is undefined [WEFT_ERR_INTERNAL]' }]);
  });

  it('answers an IPAM failure with a non-200 status (200 + Err would count as success in dockerd)', async () => {
    const s = await started();
    ipam.fail.requestAddress = new WeftError(ErrorCodes.POOL_EXHAUSTED, 'pool 10.50.0.0/30 is exhausted: 2 of 2 addresses in use');
    const r = await post(s.socketPath('weft'), '/IpamDriver.RequestAddress', fixtureText('IpamDriver.RequestAddress'));
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ Err: 'pool 10.50.0.0/30 is exhausted: 2 of 2 addresses in use [WEFT_ERR_POOL_EXHAUSTED]' });
  });

  it('refuses bodies over the cap with 500, calls nothing, and keeps serving', async () => {
    const s = await started({ maxBodyBytes: 1024 });
    const big = JSON.stringify({ NetworkID: 'ab', Options: { 'com.docker.network.generic': { pad: 'x'.repeat(4096) } } });
    const r = await post(s.socketPath('weft-bridge'), '/NetworkDriver.CreateNetwork', big);
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ Err: 'request body too large: more than 1024 bytes [WEFT_ERR_REQUEST_TOO_LARGE]' });
    expect(controller.calls).toEqual([]);
    expect((await post(s.socketPath('weft-bridge'), '/NetworkDriver.CreateNetwork', fixtureText('NetworkDriver.CreateNetwork'))).status).toBe(200);
  });

  it('caps bodies at 1 MiB by default', async () => {
    const s = await started();
    const r = await post(s.socketPath('weft-bridge'), '/NetworkDriver.CreateNetwork', `{"pad":"${'x'.repeat(1024 * 1024)}"}`);
    expect([r.status, r.json.Err]).toEqual([500, 'request body too large: more than 1048576 bytes [WEFT_ERR_REQUEST_TOO_LARGE]']);
  });
});

describe('answers Docker can use', () => {
  it('CreateEndpoint never echoes the address or MAC Docker sent', async () => {
    const s = await started();
    controller.iface = { addressV4: '10.50.0.7/16', macAddress: 'ca:fe:00:00:10:02', srcName: 'wfc0123' };
    const body = fixtureText('NetworkDriver.CreateEndpoint').replace('"MacAddress":""', '"MacAddress":"ca:fe:00:00:10:02"');
    const r = await post(s.socketPath('weft-bridge'), '/NetworkDriver.CreateEndpoint', body);
    expect([r.status, r.text]).toEqual([200, '{}']);
  });

  it('CreateEndpoint returns only the MAC when Docker sent none', async () => {
    const s = await started();
    controller.iface = { addressV4: '10.50.0.7/16', macAddress: '02:42:0a:32:00:07' };
    const r = await post(s.socketPath('weft-bridge'), '/NetworkDriver.CreateEndpoint', fixtureText('NetworkDriver.CreateEndpoint'));
    expect(r.json).toEqual({ Interface: { MacAddress: '02:42:0a:32:00:07' } });
  });

  it('Join answers the gateway as a bare IP', async () => {
    const s = await started();
    controller.joinResult = {
      interface: { srcName: 'wfc0123456789a', dstPrefix: 'eth' },
      gatewayV4: '10.50.0.1/16',
      staticRoutes: [],
      disableGatewayService: false,
    };
    const r = await post(s.socketPath('weft-bridge'), '/NetworkDriver.Join', fixtureText('NetworkDriver.Join'));
    expect(r.status).toBe(200);
    expect(r.json.Gateway).toBe('10.50.0.1');
    expect(r.json.InterfaceName).toEqual({ SrcName: 'wfc0123456789a', DstPrefix: 'eth' });
  });

  it('binds each socket to its own driver', async () => {
    const s = await started();
    // (weft-overlay refuses this fixture before the controller: it has no weft.network identity)
    await post(s.socketPath('weft-macvlan'), '/NetworkDriver.CreateNetwork', fixtureText('NetworkDriver.CreateNetwork'));
    await post(s.socketPath('weft-host'), '/NetworkDriver.GetCapabilities');
    expect(controller.calls.map((c) => [c.op, c.op === 'capabilities' ? c.args[0] : (c.args[0] as { driver: string }).driver])).toEqual([
      ['createNetwork', 'macvlan'],
      ['capabilities', 'host'],
    ]);
  });
});

describe('connections, logs and shutdown', () => {
  it('serves several requests on one kept-alive connection, in parallel with others', async () => {
    const s = await started();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    extraCleanups.push(() => agent.destroy());
    const seen = new Set<net.Socket>();
    agent.on('free', (sock: net.Socket) => seen.add(sock));
    const path = s.socketPath('weft-bridge');
    for (let i = 0; i < 3; i++) expect((await post(path, '/Plugin.Activate', '', { agent })).status).toBe(200);
    expect(seen.size).toBe(1);
    const parallel = await Promise.all(
      Array.from({ length: 8 }, () => post(path, '/NetworkDriver.EndpointOperInfo', fixtureText('NetworkDriver.EndpointOperInfo'))),
    );
    expect(parallel.map((r) => r.status)).toEqual(Array(8).fill(200));
  });

  it('logs each call on a child logger with plugin, method and a request id; failures at warn', async () => {
    const s = await started();
    await post(s.socketPath('weft-macvlan'), '/NetworkDriver.Leave', fixtureText('NetworkDriver.Leave'));
    controller.fail.leave = new WeftError(ErrorCodes.COMMAND_FAILED, 'ip failed');
    await post(s.socketPath('weft-macvlan'), '/NetworkDriver.Leave', fixtureText('NetworkDriver.Leave'));
    const calls = sink.lines().filter((l) => l.msg === 'plugin call');
    expect(calls).toHaveLength(2);
    for (const l of calls) {
      expect(l).toMatchObject({ level: 20, component: 'plugin', plugin: 'weft-macvlan', method: 'NetworkDriver.Leave' });
      expect(l.reqId).toMatch(/^[0-9a-f]{8}$/);
      expect(typeof l.durationMs).toBe('number');
    }
    expect(calls[0]!.reqId).not.toBe(calls[1]!.reqId);
    expect(calls.map((l) => l.status)).toEqual([200, 500]);
    const warn = sink.lines().find((l) => l.level === 40);
    expect(warn).toMatchObject({ code: 'WEFT_ERR_COMMAND_FAILED', reqId: calls[1]!.reqId, method: 'NetworkDriver.Leave' });
  });

  it('close lets an in-flight call finish before it resolves', async () => {
    const s = await started();
    let open!: () => void;
    controller.gate = new Promise<void>((r) => (open = r));
    const inflight = post(s.socketPath('weft-bridge'), '/NetworkDriver.CreateNetwork', fixtureText('NetworkDriver.CreateNetwork'));
    await vi_waitFor(() => controller.calls.length === 1);
    let closed = false;
    const closing = s.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(false);
    // New connections already fail (dockerd retries those), the socket files are gone.
    expect(await readdir(join(dir, 'plugins'))).toEqual([]);
    open();
    expect((await inflight).status).toBe(200);
    await closing;
    expect(await readdir(join(dir, 'plugins'))).toEqual([]);
  });

  it('close cuts off calls that outlive closeTimeoutMs', async () => {
    const s = await started({ closeTimeoutMs: 150 });
    controller.gate = new Promise<void>(() => undefined); // never opens
    // Settled into a value right away: the rejection arrives while close() is awaited.
    const outcome = post(s.socketPath('weft-bridge'), '/NetworkDriver.CreateNetwork', fixtureText('NetworkDriver.CreateNetwork')).then(
      (r) => r,
      (e: unknown) => e,
    );
    await vi_waitFor(() => controller.calls.length === 1);
    const t0 = Date.now();
    await s.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(String(await outcome)).toMatch(/socket hang up|ECONNRESET/);
    expect(sink.lines().some((l) => l.msg === 'plugin calls still running at close; cutting them off')).toBe(true);
  });
});

async function vi_waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
