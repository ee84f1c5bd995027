// The whole CLI, in-process, against a stub weftd: a real node:http server on a temp unix socket
// that answers like the management API (src/api/types.ts). The real daemon is tested elsewhere;
// here we check what the CLI sends (method, path, body), what it prints and how it exits.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EndpointView, NetworkView, VersionView } from '../../../src/api/types.js';
import { run } from '../../../src/cli/run.js';

interface Seen {
  method: string;
  path: string;
  contentType?: string;
  body?: unknown;
}
type Reply = { status: number; body?: unknown; raw?: string } | 'hang' | 'drop';
type Handler = (req: Seen) => Reply;

/** A stub daemon: records every request and answers from `routes` ("METHOD /path"). */
class StubDaemon {
  readonly seen: Seen[] = [];
  routes: Record<string, Handler> = {};
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const seen: Seen = { method: req.method!, path: req.url! };
      if (req.headers['content-type']) seen.contentType = req.headers['content-type'];
      if (text) seen.body = JSON.parse(text);
      this.seen.push(seen);
      const handler = this.routes[`${seen.method} ${seen.path}`];
      const reply: Reply = handler
        ? handler(seen)
        : { status: 404, body: { error: { code: 'WEFT_ERR_NETWORK_NOT_FOUND', message: `stub: no route ${seen.method} ${seen.path}` } } };
      if (reply === 'hang') return;
      if (reply === 'drop') return req.socket.destroy();
      const out = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(out);
    });
  });

  constructor(readonly socketPath: string) {}

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => resolve());
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const net = (name: string, id: string, subnet = '10.1.0.0/24'): NetworkView => ({
  id,
  name,
  driver: 'bridge',
  scope: 'local',
  internal: false,
  ipv6: false,
  origin: 'weft',
  options: {},
  ipam: [{ subnet, gateway: subnet.replace('0/24', '1'), auxAddresses: {} }],
  endpoints: [],
  created: '2026-01-01T00:00:00.000Z',
});
const ID1 = '1111111111aa'.padEnd(64, 'b');
const ID2 = '2222222222cc'.padEnd(64, 'd');
const notFound = (name: string): Reply => ({
  status: 404,
  body: { error: { code: 'WEFT_ERR_NETWORK_NOT_FOUND', message: `network ${name} not found` } },
});

let dir: string;
let daemon: StubDaemon;
let host: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-cli-'));
  daemon = new StubDaemon(join(dir, 'weft.sock'));
  await daemon.listen();
  host = `unix://${daemon.socketPath}`;
});

afterEach(async () => {
  await daemon.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `weft ARGS` in-process; WEFT_HOST points at the stub unless the test says otherwise. */
async function weft(args: string[], opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {}) {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    env: opts.env ?? { WEFT_HOST: host },
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  });
  return { code, stdout, stderr };
}

describe('weft network create', () => {
  it('sends the IPAM entries, flags and options, and prints the new id', async () => {
    daemon.routes['POST /v1/networks'] = () => ({ status: 201, body: net('net1', ID1) });
    const r = await weft([
      'network', 'create', '-d', 'bridge',
      '--subnet', '10.1.0.0/24', '--subnet', 'fd00:1::/64',
      '--gateway', 'fd00:1::1', '--gateway', '10.1.0.1',
      '--ip-range', '10.1.0.128/25', '--aux-address', 'router=10.1.0.254',
      '--ipv6', '--internal', '-o', 'com.docker.network.bridge.name=wfbr1', '--opt', 'mtu=1400',
      'net1',
    ]);
    expect(r).toEqual({ code: 0, stdout: `${ID1}\n`, stderr: '' });
    expect(daemon.seen).toEqual([
      {
        method: 'POST',
        path: '/v1/networks',
        contentType: 'application/json',
        body: {
          name: 'net1',
          driver: 'bridge',
          ipam: [
            { subnet: '10.1.0.0/24', gateway: '10.1.0.1', ipRange: '10.1.0.128/25', auxAddresses: { router: '10.1.0.254' } },
            { subnet: 'fd00:1::/64', gateway: 'fd00:1::1' },
          ],
          ipv6: true,
          internal: true,
          options: { 'com.docker.network.bridge.name': 'wfbr1', mtu: '1400' },
        },
      },
    ]);
  });

  it('sends only the name when no flags are given (daemon defaults)', async () => {
    daemon.routes['POST /v1/networks'] = () => ({ status: 201, body: net('plain', ID1) });
    expect((await weft(['network', 'create', 'plain'])).code).toBe(0);
    expect(daemon.seen.map((s) => s.body)).toEqual([{ name: 'plain' }]);
  });

  it.each([
    [['--gateway', '10.1.0.1'], /--gateway needs a --subnet/],
    [['--subnet', '10.1.0.0/24', '--gateway', '10.2.0.1'], /--gateway 10\.2\.0\.1 is in none of the subnets/],
    [['--subnet', '10.1.0.0/24', '--gateway', '10.1.0.1', '--gateway', '10.1.0.2'], /2 --gateway for 1 --subnet/],
    [['--subnet', '10.1.0.0/24', '--ip-range', '10.9.0.0/25'], /--ip-range 10\.9\.0\.0\/25 is in none/],
    [['--subnet', '10.1.0.0/33'], /invalid --subnet "10\.1\.0\.0\/33"/],
    [['-o', 'novalue'], /invalid --opt "novalue": expected KEY=VALUE/],
  ])('refuses %j with exit 2 before sending anything', async (flags, message) => {
    const r = await weft(['network', 'create', ...flags, 'net1']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^Error: .* \(WEFT_ERR_[A-Z_]+\)\n$/);
    expect(daemon.seen).toEqual([]);
  });

  it('refuses a bad network name with exit 2 before sending anything', async () => {
    const r = await weft(['network', 'create', 'bad/name']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: invalid network name "bad\/name".*\(WEFT_ERR_INVALID_NAME\)\n$/);
    expect(daemon.seen).toEqual([]);
  });

  it("prints the daemon's error and exits with its kind's code", async () => {
    daemon.routes['POST /v1/networks'] = () => ({
      status: 409,
      body: { error: { code: 'WEFT_ERR_POOL_OVERLAP', message: 'subnet 10.1.0.0/24 overlaps network other (10.1.0.0/16)' } },
    });
    const r = await weft(['network', 'create', '--subnet', '10.1.0.0/24', 'net1']);
    expect(r).toEqual({ code: 5, stdout: '', stderr: 'Error: subnet 10.1.0.0/24 overlaps network other (10.1.0.0/16) (WEFT_ERR_POOL_OVERLAP)\n' });
  });
});

describe('weft network ls', () => {
  beforeEach(() => {
    daemon.routes['GET /v1/networks'] = () => ({ status: 200, body: [net('web', ID2, '10.2.0.0/24'), net('app', ID1)] });
  });

  it('prints a docker-like table sorted by name', async () => {
    const r = await weft(['network', 'ls']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'NETWORK ID     NAME      DRIVER    SCOPE     SUBNET\n' +
        '1111111111aa   app       bridge    local     10.1.0.0/24\n' +
        '2222222222cc   web       bridge    local     10.2.0.0/24\n',
    );
    expect(daemon.seen).toEqual([{ method: 'GET', path: '/v1/networks' }]);
  });

  it('prints JSON with --format json', async () => {
    const r = await weft(['network', 'ls', '--format', 'json']);
    expect(JSON.parse(r.stdout)).toEqual([net('web', ID2, '10.2.0.0/24'), net('app', ID1)]);
  });

  it('prints ids only with -q (full with --no-trunc)', async () => {
    expect((await weft(['network', 'ls', '-q'])).stdout).toBe('1111111111aa\n2222222222cc\n');
    expect((await weft(['network', 'ls', '-q', '--no-trunc'])).stdout).toBe(`${ID1}\n${ID2}\n`);
  });

  it('refuses an unknown --format as a usage error (exit 2), sending nothing', async () => {
    const r = await weft(['network', 'ls', '--format', 'yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/yaml/);
    expect(daemon.seen).toEqual([]);
  });
});

describe('weft network inspect', () => {
  it('prints one JSON array of all networks asked for', async () => {
    daemon.routes['GET /v1/networks/app'] = () => ({ status: 200, body: net('app', ID1) });
    daemon.routes['GET /v1/networks/web'] = () => ({ status: 200, body: net('web', ID2) });
    const r = await weft(['network', 'inspect', 'app', 'web']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([net('app', ID1), net('web', ID2)]);
    expect(daemon.seen.map((s) => `${s.method} ${s.path}`)).toEqual(['GET /v1/networks/app', 'GET /v1/networks/web']);
  });

  it('prints what it found, an error line per missing name, and exits 3', async () => {
    daemon.routes['GET /v1/networks/app'] = () => ({ status: 200, body: net('app', ID1) });
    daemon.routes['GET /v1/networks/ghost'] = () => notFound('ghost');
    const r = await weft(['network', 'inspect', 'ghost', 'app', '--format', 'json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toEqual([net('app', ID1)]);
    expect(r.stderr).toBe('Error: network ghost not found (WEFT_ERR_NETWORK_NOT_FOUND)\n');
  });

  it('needs at least one name (usage error, exit 2)', async () => {
    const r = await weft(['network', 'inspect']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing required argument/);
  });
});

describe('weft network rm', () => {
  it('removes every name, reports failures one by one, exits with the first failure', async () => {
    daemon.routes['DELETE /v1/networks/a'] = () => ({ status: 200, body: {} });
    daemon.routes['DELETE /v1/networks/busy'] = () => ({
      status: 403,
      body: { error: { code: 'WEFT_ERR_NETWORK_IN_USE', message: 'network busy has 2 endpoints: disconnect them first' } },
    });
    daemon.routes['DELETE /v1/networks/ghost'] = () => notFound('ghost');
    daemon.routes['DELETE /v1/networks/c'] = () => ({ status: 204 });
    const r = await weft(['network', 'rm', 'a', 'busy', 'ghost', 'c']);
    expect(r.stdout).toBe('a\nc\n');
    expect(r.stderr).toBe(
      'Error: network busy has 2 endpoints: disconnect them first (WEFT_ERR_NETWORK_IN_USE)\n' +
        'Error: network ghost not found (WEFT_ERR_NETWORK_NOT_FOUND)\n',
    );
    expect(r.code).toBe(4);
    expect(daemon.seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      'DELETE /v1/networks/a',
      'DELETE /v1/networks/busy',
      'DELETE /v1/networks/ghost',
      'DELETE /v1/networks/c',
    ]);
  });

  it('reports an invalid name and still removes the others', async () => {
    daemon.routes['DELETE /v1/networks/ok'] = () => ({ status: 200, body: {} });
    const r = await weft(['network', 'rm', 'no/pe', 'ok']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('ok\n');
    expect(daemon.seen.map((s) => s.path)).toEqual(['/v1/networks/ok']);
  });
});

describe('weft network connect / disconnect', () => {
  const ep: EndpointView = {
    id: 'e0e0e0e0e0e0'.padEnd(64, '9'),
    network: 'net1',
    networkId: ID1,
    netns: 'ns1',
    ifName: 'eth0',
    ipv4: '10.1.0.10/24',
    origin: 'weft',
  };

  it('sends netns, addresses and port specs, and prints the endpoint', async () => {
    daemon.routes['POST /v1/networks/net1/connect'] = () => ({ status: 200, body: ep });
    const r = await weft(['network', 'connect', '--ip', '10.1.0.10', '--ip6', 'fd00:1::10', '-p', '8080:80', '--publish', '127.0.0.1:5353:53/udp', 'net1', 'ns1']);
    expect(r).toEqual({ code: 0, stdout: 'net1 -> ns1: eth0 10.1.0.10/24 (endpoint e0e0e0e0e0e0)\n', stderr: '' });
    expect(daemon.seen).toEqual([
      {
        method: 'POST',
        path: '/v1/networks/net1/connect',
        contentType: 'application/json',
        body: { netns: 'ns1', ip: '10.1.0.10', ip6: 'fd00:1::10', publish: ['8080:80', '127.0.0.1:5353:53/udp'] },
      },
    ]);
  });

  it('prints the endpoint as JSON with --format json; a path netns is sent as is', async () => {
    daemon.routes['POST /v1/networks/net1/connect'] = () => ({ status: 200, body: ep });
    const r = await weft(['network', 'connect', '--format', 'json', 'net1', '/proc/4242/ns/net']);
    expect(JSON.parse(r.stdout)).toEqual(ep);
    expect(daemon.seen[0]!.body).toEqual({ netns: '/proc/4242/ns/net' });
  });

  it.each([
    [['--ip', 'fd00::1'], /invalid --ip "fd00::1": expected an IPv4 address/],
    [['--ip6', '10.1.0.1'], /invalid --ip6 "10\.1\.0\.1": expected an IPv6 address/],
    [['-p', '80/icmp'], /invalid --publish "80\/icmp": unknown protocol/],
  ])('refuses %j with exit 2 before sending anything', async (flags, message) => {
    const r = await weft(['network', 'connect', ...flags, 'net1', 'ns1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(daemon.seen).toEqual([]);
  });

  it('refuses a relative netns path with exit 2', async () => {
    const r = await weft(['network', 'connect', 'net1', 'run/netns/x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid network namespace "run\/netns\/x"/);
    expect(daemon.seen).toEqual([]);
  });

  it('disconnect sends the netns and prints nothing', async () => {
    daemon.routes['POST /v1/networks/net1/disconnect'] = () => ({ status: 200, body: {} });
    expect(await weft(['network', 'disconnect', 'net1', 'ns1'])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(daemon.seen).toEqual([{ method: 'POST', path: '/v1/networks/net1/disconnect', contentType: 'application/json', body: { netns: 'ns1' } }]);
  });

  it('disconnect of an unknown endpoint exits 3', async () => {
    daemon.routes['POST /v1/networks/net1/disconnect'] = () => ({
      status: 404,
      body: { error: { code: 'WEFT_ERR_ENDPOINT_NOT_FOUND', message: 'ns1 is not connected to net1' } },
    });
    const r = await weft(['network', 'disconnect', 'net1', 'ns1']);
    expect(r).toEqual({ code: 3, stdout: '', stderr: 'Error: ns1 is not connected to net1 (WEFT_ERR_ENDPOINT_NOT_FOUND)\n' });
  });
});

describe('weft version', () => {
  const pkgVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  const server: VersionView = { version: '9.9.9', apiVersion: '1', store: 'local', stateDir: '/var/lib/weft', node: 'v20.20.2' };

  it("prints the client's package version and the server's", async () => {
    daemon.routes['GET /v1/version'] = () => ({ status: 200, body: server });
    const r = await weft(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Client:\n Version: ${pkgVersion}\n`);
    expect(r.stdout).toContain('Server:\n Version:     9.9.9\n');
    expect(JSON.parse((await weft(['version', '--format', 'json'])).stdout)).toEqual({ client: { version: pkgVersion }, server });
  });

  it('still prints the client version without a daemon, then fails with exit 6', async () => {
    const r = await weft(['version'], { env: { WEFT_HOST: `unix://${join(dir, 'absent.sock')}` } });
    expect(r.code).toBe(6);
    expect(r.stdout).toBe(`Client:\n Version: ${pkgVersion}\n`);
    expect(r.stderr).toMatch(/^Error: cannot connect to weftd/);
  });

  it('-v prints the client version', async () => {
    expect(await weft(['-v'])).toEqual({ code: 0, stdout: `${pkgVersion}\n`, stderr: '' });
  });
});

describe('reaching the daemon', () => {
  it('--host wins over WEFT_HOST, and may come after the subcommand', async () => {
    daemon.routes['GET /v1/networks'] = () => ({ status: 200, body: [] });
    const wrong = { WEFT_HOST: `unix://${join(dir, 'absent.sock')}` };
    expect((await weft(['--host', host, 'network', 'ls', '-q'], { env: wrong })).code).toBe(0);
    expect((await weft(['network', 'ls', '-q', '-H', host], { env: wrong })).code).toBe(0);
    expect(daemon.seen).toHaveLength(2);
  });

  it('daemon not running (socket path absent): the message, exit 6', async () => {
    const absent = join(dir, 'absent.sock');
    const r = await weft(['network', 'ls'], { env: { WEFT_HOST: `unix://${absent}` } });
    expect(r).toEqual({
      code: 6,
      stdout: '',
      stderr: `Error: cannot connect to weftd at unix://${absent}: is weftd running? (start it with \`weftd\`) (WEFT_ERR_DAEMON_UNREACHABLE)\n`,
    });
  });

  it('a file that is not a listening socket: the same message', async () => {
    const file = join(dir, 'stale.sock');
    writeFileSync(file, '');
    const r = await weft(['network', 'ls'], { env: { WEFT_HOST: `unix://${file}` } });
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/is weftd running\?/);
  });

  it('rm against no daemon says so once, not once per name', async () => {
    const r = await weft(['network', 'rm', 'a', 'b', 'c'], { env: { WEFT_HOST: `unix://${join(dir, 'absent.sock')}` } });
    expect(r.code).toBe(6);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses a tcp:// host with exit 2', async () => {
    const r = await weft(['--host', 'tcp://127.0.0.1:2375', 'network', 'ls']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: --host "tcp:\/\/127\.0\.0\.1:2375" is not supported: weftd listens only on a unix socket/);
  });

  it('a daemon that does not answer in time: exit 6, and the wait is bounded', async () => {
    daemon.routes['GET /v1/networks'] = () => 'hang';
    const started = Date.now();
    const r = await weft(['network', 'ls'], { timeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/did not answer GET \/v1\/networks within 0\.2s/);
  });

  it('a connection dropped mid-request: exit 6, and says the outcome is unknown', async () => {
    daemon.routes['POST /v1/networks'] = () => 'drop';
    const r = await weft(['network', 'create', 'net1']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/broke before it answered .*may or may not have been carried out/);
  });

  it('an error code this CLI does not know: printed, exit 1', async () => {
    daemon.routes['GET /v1/networks'] = () => ({ status: 400, body: { error: { code: 'WEFT_ERR_NEWER', message: 'from a newer weftd' } } });
    expect(await weft(['network', 'ls'])).toEqual({ code: 1, stdout: '', stderr: 'Error: from a newer weftd (WEFT_ERR_NEWER)\n' });
  });

  it('a network named by id goes into the path as given', async () => {
    daemon.routes[`GET /v1/networks/${ID1.slice(0, 12)}`] = () => ({ status: 200, body: net('app', ID1) });
    expect((await weft(['network', 'inspect', ID1.slice(0, 12)])).code).toBe(0);
    expect(daemon.seen.map((x) => x.path)).toEqual([`/v1/networks/${ID1.slice(0, 12)}`]);
  });
});

describe('usage', () => {
  it('help exits 0 on stdout; no command exits 2', async () => {
    const help = await weft(['network', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: weft network/);
    expect(help.stdout).toMatch(/create/);
    const none = await weft([]);
    expect(none.code).toBe(2);
    expect(daemon.seen).toEqual([]);
  });

  it('an unknown option is a usage error, exit 2', async () => {
    const r = await weft(['network', 'ls', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
  });
});
