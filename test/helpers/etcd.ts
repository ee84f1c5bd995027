// Starts real etcd servers (Debian's etcd-server, /usr/bin/etcd) for the e2e tier: one member or a
// cluster of several, all on 127.0.0.1 with free ports and a temp data dir each, with the short
// timers the multi-host issue asks for (250 ms heartbeat, 2.5 s election timeout). Members can be
// stopped and started again (same data, same ports) for failure tests. Processes are ended by PID.

import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isAlive, killPids, lastLines, runOk, signal, sleep, spawnLogged, type SpawnedProcess } from './process.js';

export const ETCD_BIN = process.env.WEFT_TEST_ETCD ?? '/usr/bin/etcd';
const HOST = '127.0.0.1';
const HEALTH_TIMEOUT_MS = 20_000;

/** True when the etcd binary is there (tests skip with a reason otherwise). */
export function etcdAvailable(): boolean {
  return existsSync(ETCD_BIN);
}

/** A port nobody listens on right now (the kernel picks it; a tiny race remains until etcd binds). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Files of a throw-away PKI: etcd's server certificate and a client certificate, one CA. */
export interface EtcdTestPki {
  cacert: string;
  serverCert: string;
  serverKey: string;
  /** For the client: --etcd-cert / --etcd-key. */
  clientCert: string;
  clientKey: string;
}

/** Makes a CA, a server certificate for 127.0.0.1 and a client certificate with openssl. */
export async function makeTestPki(dir: string): Promise<EtcdTestPki> {
  const f = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await runOk(['openssl', 'req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=weft-test-ca']);
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    await writeFile(f(`${name}.ext`), `${ext}\n`);
    await runOk(['openssl', 'req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=weft-test-${name}`]);
    await runOk([
      'openssl', 'x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
      '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`),
    ]);
  }
  return { cacert: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key') };
}

export class EtcdMember {
  proc?: SpawnedProcess;

  constructor(
    readonly name: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    readonly logFile: string,
    private readonly initialCluster: string,
    private readonly token: string,
    /** With a PKI, clients must speak TLS and show a certificate of its CA. */
    readonly pki?: EtcdTestPki,
  ) {}

  /** host:port, as `--store etcd://` takes it. */
  get endpoint(): string {
    return `${HOST}:${this.clientPort}`;
  }
  get clientUrl(): string {
    return `${this.pki ? 'https' : 'http'}://${this.endpoint}`;
  }
  get peerUrl(): string {
    return `http://${HOST}:${this.peerPort}`;
  }
  get running(): boolean {
    return this.proc !== undefined && isAlive(this.proc.pid);
  }

  argv(): string[] {
    return [
      ETCD_BIN,
      '--name', this.name,
      '--data-dir', this.dataDir,
      '--listen-client-urls', this.clientUrl,
      '--advertise-client-urls', this.clientUrl,
      '--listen-peer-urls', this.peerUrl,
      '--initial-advertise-peer-urls', this.peerUrl,
      '--initial-cluster', this.initialCluster,
      // Ignored once the data dir holds a member (a restart): the member rejoins its cluster.
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', this.token,
      '--heartbeat-interval', '250',
      '--election-timeout', '2500',
      '--logger', 'zap',
      '--log-outputs', 'stderr',
      ...(this.pki
        ? ['--cert-file', this.pki.serverCert, '--key-file', this.pki.serverKey, '--client-cert-auth', '--trusted-ca-file', this.pki.cacert]
        : []),
    ];
  }

  /** Starts the process (not waiting for health: a lone member of a cluster has no leader yet). */
  async start(): Promise<void> {
    if (this.running) throw new Error(`etcd member ${this.name} is already running (pid ${this.proc!.pid})`);
    this.proc = await spawnLogged(this.argv(), { logFile: this.logFile });
  }

  /** Stops it: SIGTERM (etcd shuts down cleanly), or SIGKILL with `kill`. Waits until it is gone. */
  async stop(opts: { kill?: boolean } = {}): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    if (opts.kill) signal(proc.pid, 'SIGKILL');
    await killPids([proc.pid], 5_000);
    await proc.exited;
    this.proc = undefined;
  }

  /** GET /health on the client URL: ok once the member has a leader and answers. */
  async healthy(): Promise<boolean> {
    try {
      if (this.pki) return await this.healthyTls(this.pki);
      const res = await fetch(`${this.clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
      const body = (await res.json()) as { health?: string };
      return res.ok && body.health === 'true';
    } catch {
      return false;
    }
  }

  private healthyTls(pki: EtcdTestPki): Promise<boolean> {
    // fetch cannot show a client certificate; node:https can.
    return new Promise((resolve) => {
      const req = request(
        `${this.clientUrl}/health`,
        { ca: readFileSync(pki.cacert), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey), timeout: 1_000 },
        (res) => {
          let body = '';
          res.on('data', (b: Buffer) => (body += b.toString()));
          res.on('end', () => resolve(res.statusCode === 200 && body.includes('"health":"true"')));
        },
      );
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  }

  async log(): Promise<string> {
    try {
      return await readFile(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}

export class EtcdCluster {
  constructor(
    readonly dir: string,
    readonly members: EtcdMember[],
    /** Set when the cluster was started with TLS: the files a client needs. */
    readonly pki?: EtcdTestPki,
  ) {}

  /** Every member's host:port. */
  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  /** The `--store` value for weftd. */
  get storeUrl(): string {
    return `etcd://${this.endpoints.join(',')}`;
  }

  member(i: number): EtcdMember {
    const m = this.members[i];
    if (!m) throw new Error(`no etcd member ${i} (cluster of ${this.members.length})`);
    return m;
  }

  async stop(i: number, opts: { kill?: boolean } = {}): Promise<void> {
    await this.member(i).stop(opts);
  }

  /** Starts a stopped member again; with `wait`, until it reports healthy. */
  async start(i: number, opts: { wait?: boolean } = { wait: true }): Promise<void> {
    const m = this.member(i);
    await m.start();
    if (opts.wait !== false) await this.waitHealthy([m]);
  }

  /** Waits until the given (default: all running) members report healthy. */
  async waitHealthy(members = this.members.filter((m) => m.running), timeoutMs = HEALTH_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const m of members) {
      while (!(await m.healthy())) {
        if (!m.running) {
          throw new Error(`etcd member ${m.name} exited while starting:\n${lastLines(await m.log(), 30)}`);
        }
        if (Date.now() > deadline) {
          throw new Error(`etcd member ${m.name} (${m.endpoint}) not healthy after ${timeoutMs} ms:\n${lastLines(await m.log(), 30)}`);
        }
        await sleep(100);
      }
    }
  }

  /** Kills every member and removes the data dirs. Safe to call twice. */
  async destroy(): Promise<void> {
    const errors: unknown[] = [];
    for (const m of this.members) {
      try {
        await m.stop({ kill: true });
      } catch (e) {
        errors.push(e);
      }
    }
    await rm(this.dir, { recursive: true, force: true });
    if (errors.length > 0) throw errors[0];
  }
}

/**
 * Starts an etcd cluster of `size` members (1 or 3 in the tests) on 127.0.0.1 and waits until
 * every member is healthy. On failure everything started is ended and removed.
 */
export async function startEtcd(opts: { size?: number; tls?: boolean } = {}): Promise<EtcdCluster> {
  const size = opts.size ?? 1;
  if (!Number.isInteger(size) || size < 1 || size > 7) throw new Error(`etcd cluster size must be 1 to 7, got ${size}`);
  if (!etcdAvailable()) throw new Error(`${ETCD_BIN} not found: install Debian's etcd-server`);
  const dir = await mkdtemp(path.join(tmpdir(), 'weft-etcd-'));
  const token = path.basename(dir);
  const ports: { client: number; peer: number }[] = [];
  const taken = new Set<number>();
  while (ports.length < size) {
    const client = await freePort();
    const peer = await freePort();
    if (client === peer || taken.has(client) || taken.has(peer)) continue;
    taken.add(client).add(peer);
    ports.push({ client, peer });
  }
  const initialCluster = ports.map((p, i) => `n${i + 1}=http://${HOST}:${p.peer}`).join(',');
  let pki: EtcdTestPki | undefined;
  try {
    if (opts.tls) pki = await makeTestPki(dir);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const members = ports.map(
    (p, i) =>
      new EtcdMember(`n${i + 1}`, p.client, p.peer, path.join(dir, `n${i + 1}.data`), path.join(dir, `n${i + 1}.log`), initialCluster, token, pki),
  );
  const cluster = new EtcdCluster(dir, members, pki);
  try {
    for (const m of members) await m.start();
    await cluster.waitHealthy(members);
    return cluster;
  } catch (e) {
    await cluster.destroy().catch(() => undefined);
    throw e;
  }
}

/**
 * A TCP proxy on 127.0.0.1 in front of an etcd member, to cut one client off (both directions at
 * once, like a broken link) while etcd and other clients go on. `cut()` closes every connection
 * and stops listening; `restore()` listens again on the same port.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly port: number,
    readonly targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), targetPort);
    await proxy.restore();
    return proxy;
  }

  get endpoint(): string {
    return `${HOST}:${this.port}`;
  }

  async restore(): Promise<void> {
    if (this.server) return;
    const server = createServer((down) => {
      const up = connect(this.targetPort, HOST);
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      down.pipe(up);
      up.pipe(down);
      down.on('close', () => up.destroy());
      up.on('close', () => down.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, HOST, () => resolve());
    });
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
