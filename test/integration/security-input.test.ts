// Hostile input through every front door: the `weft` CLI and the Docker plugin sockets are fed
// `$(...)`, `;`, `../`, newlines, NULs and 16-character interface names as network names, driver
// options (bridge name, parent, mtu), namespace paths and addresses. Each must be refused with a
// stable code and change nothing: the store dump, the links and the nft ruleset of weftd's
// namespace stay as they were, and no command weftd runs ever carries the input (weftd runs with a
// PATH whose `ip`, `nft`, `nsenter`... log their argv and stdin first). A positive control shows the
// log does see what a valid request makes weftd run.
//
// Also: the CLI run by a user without access to the socket says so with its code, and weftd on an
// etcd with TLS client certificates never writes key material to its log.

import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_BIN, etcdAvailable, freePort, makeTestPki, type EtcdTestPki } from '../helpers/etcd.js';
import { netnsScopePerFile, type Netns } from '../helpers/netns.js';
import { killPids, run, sleep, spawnLogged, type SpawnedProcess } from '../helpers/process.js';
import { WEFT_JS, startWeftd, type WeftdHandle } from '../helpers/weftd.js';
import { closeAgents, dumpDiff, dumpLocalStore, pluginCall, pluginErrorCode, type StoreDump } from '../helpers/weft-wire.js';

/** Commands weftd may run; each gets a logging wrapper in front of the real one. */
const WRAPPED = ['ip', 'nft', 'nsenter', 'sysctl', 'conntrack', 'bridge', 'tc', 'arping', 'ping'];

/** Marks a shell would act on: if any of them ever ran, this file would appear. */
const PWNED = `/tmp/weft-pwned-${process.pid}`;

/** The hostile values; every one carries a token that is easy to find in the argv log. */
const TOKEN = 'pwnz';
const HOSTILE_NAMES = [
  `$(touch ${PWNED})`,
  `\`touch ${PWNED}\``,
  `${TOKEN};touch ${PWNED}`,
  `${TOKEN}|touch ${PWNED}`,
  `${TOKEN}&&reboot`,
  `../../${TOKEN}`,
  `${TOKEN}/../x`,
  `${TOKEN}\nreboot`,
  `${TOKEN}\u0000x`,
  `${TOKEN} -rf`,
  `${TOKEN}сеть`,
];
/** The CLI's share: an argv string cannot carry a NUL (execve ends it there). */
const CLI_HOSTILE = HOSTILE_NAMES.filter((h) => !h.includes('\u0000'));
/** 16 characters: one more than IFNAMSIZ takes, fine for everything else. */
const LONG_IFNAME = `${TOKEN}abcdefghijkl`;

describe('hostile input through the CLI and the plugin sockets', () => {
  const scope = netnsScopePerFile();
  let hostNs: Netns;
  let freeNs: Netns;
  let weftd: WeftdHandle;
  let dir: string;
  let argvLog: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'weft-sec-'));
    argvLog = path.join(dir, 'argv.log');
    const wrapDir = path.join(dir, 'bin');
    await run(['mkdir', '-p', wrapDir]);
    for (const cmd of WRAPPED) {
      const real = (await run(['sh', '-c', `command -v ${cmd}`])).stdout.trim();
      if (!real) continue;
      // argv one per bracket, then whatever came on stdin (ip -batch -, nft -f -), then the real thing.
      await writeFile(
        path.join(wrapDir, cmd),
        `#!/bin/sh\n{ printf '%s' ${cmd}; for a in "$@"; do printf ' [%s]' "$a"; done; echo; } >> '${argvLog}'\ntee -a '${argvLog}' | exec '${real}' "$@"\n`,
      );
      await chmod(path.join(wrapDir, cmd), 0o755);
    }
    await writeFile(argvLog, '');
    hostNs = await scope.create();
    freeNs = await scope.create();
    // The prefix names the real `ip` by its path: with the wrapper PATH below, a bare `ip` would be
    // the logging shell wrapper, whose pipeline makes weftd a grandchild that stopping the wrapper's
    // PID leaves running.
    const realIp = (await run(['sh', '-c', 'command -v ip'])).stdout.trim();
    weftd = await startWeftd({
      prefix: [realIp, 'netns', 'exec', hostNs.name],
      args: ['--host-ttl', '3600', '--reconcile-interval', '3600'],
      env: { PATH: `${wrapDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` },
    });
  });

  afterAll(async () => {
    closeAgents();
    await weftd?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
    await rm(PWNED, { force: true });
  });

  interface Snapshot {
    store: StoreDump;
    links: string;
    ruleset: string;
  }
  async function snapshot(): Promise<Snapshot> {
    return {
      store: await dumpLocalStore(weftd.stateDir),
      // Which links exist (index, name, kind); flags and carrier settle on their own and are no input's doing.
      links: (await hostNs.ipJson<Array<{ ifindex: number; ifname: string; link_type: string }>>(['link', 'show']))
        .map((l) => `${l.ifindex}:${l.ifname}:${l.link_type}`)
        .join(' '),
      ruleset: (await run(['ip', 'netns', 'exec', hostNs.name, 'nft', 'list', 'ruleset'])).stdout,
    };
  }
  async function expectUnchanged(before: Snapshot, what: string): Promise<void> {
    const after = await snapshot();
    expect(dumpDiff(before.store, after.store), `store after ${what}`).toEqual([]);
    expect(after.links, `links after ${what}`).toBe(before.links);
    expect(after.ruleset, `nft ruleset after ${what}`).toBe(before.ruleset);
  }
  /** Lines of the argv log that carry the token or a shell mark. */
  async function tainted(): Promise<string[]> {
    const text = await readFile(argvLog, 'utf8');
    return text.split('\n').filter((l) => l.includes(TOKEN) || l.includes('weft-pwned') || l.includes('reboot'));
  }

  /** Runs the CLI; it must fail with a stable code that is not an internal one. */
  async function refused(args: string[]): Promise<string> {
    const r = await weftd.cli(args);
    const what = `weft ${JSON.stringify(args)}`;
    expect(r.code, `${what} exited 0: ${r.stdout}`).not.toBe(0);
    const code = /WEFT_ERR_[A-Z_]+/.exec(r.stderr)?.[0];
    expect(code, `${what}: no code in ${JSON.stringify(r.stderr)}`).toBeDefined();
    expect(['WEFT_ERR_INTERNAL', 'WEFT_ERR_COMMAND_FAILED'], `${what}: ${r.stderr}`).not.toContain(code);
    return code!;
  }

  it('the argv log sees what a valid request makes weftd run (positive control)', async () => {
    await weftd.cliOk(['network', 'create', '--subnet', '10.77.0.0/24', '-o', 'bridge=wfseccontrol', 'secok']);
    await weftd.cliOk(['network', 'connect', 'secok', freeNs.name]);
    const log = await readFile(argvLog, 'utf8');
    expect(log).toContain('wfseccontrol'); // in an nft transaction or an ip argv
    // The container side of a connect starts no process any more (the netns relay gets the
    // namespace path as data over its pipe, after checkNetnsRef), so the wrapped programs seen
    // here are the network's nft transactions.
    expect(log).toMatch(/^nft .*\[/m);
    expect(await tainted()).toEqual([]);
  });

  /** Refusals change nothing, so they may run side by side (the CLI's start-up is the cost). */
  async function allRefused(cases: string[][]): Promise<Map<string, string>> {
    const codes = new Map<string, string>();
    for (let i = 0; i < cases.length; i += 6) {
      await Promise.all(cases.slice(i, i + 6).map(async (args) => codes.set(JSON.stringify(args), await refused(args))));
    }
    return codes;
  }

  it('refuses hostile network names, options, subnets and addresses on network create', async () => {
    const before = await snapshot();
    const cases: string[][] = [];
    const sub = ['--subnet', '10.78.0.0/24'];
    // Every hostile value as a network name, and in turn as each of the other inputs.
    const slots: Array<(h: string) => string[]> = [
      (h) => ['network', 'create', ...sub, '-o', `bridge=${h}`, 'sec1'],
      (h) => ['network', 'create', ...sub, '-o', `com.docker.network.bridge.name=${h}`, 'sec1'],
      (h) => ['network', 'create', ...sub, '-o', `mtu=1400${h}`, 'sec1'],
      (h) => ['network', 'create', '-d', 'macvlan', ...sub, '-o', `parent=${h}`, 'sec1'],
      (h) => ['network', 'create', '--subnet', h, 'sec1'],
      (h) => ['network', 'create', ...sub, '--gateway', h, 'sec1'],
      (h) => ['network', 'create', ...sub, '-o', `${h}=1`, 'sec1'],
    ];
    CLI_HOSTILE.forEach((h, i) => {
      cases.push(['network', 'create', ...sub, h]);
      cases.push(slots[i % slots.length]!(h), slots[(i + 3) % slots.length]!(h));
    });
    cases.push(
      ['network', 'create', ...sub, '-o', `bridge=${LONG_IFNAME}`, 'sec1'],
      ['network', 'create', '-d', 'macvlan', ...sub, '-o', `parent=${LONG_IFNAME}`, 'sec1'],
      ['network', 'create', ...sub, `${TOKEN}${'x'.repeat(64)}`],
      ['network', 'create', ...sub, '-o', 'mtu=-1', 'sec1'],
      ['network', 'create', ...sub, '-o', 'mtu=99999999999999999999', 'sec1'],
      ['network', 'create', '-d', `${TOKEN};reboot`, 'sec1'],
    );
    const codes = await allRefused(cases);
    // A hostile name is a bad name; a 16-character bridge is a bad option value.
    expect(codes.get(JSON.stringify(['network', 'create', ...sub, CLI_HOSTILE[0]!]))).toBe('WEFT_ERR_INVALID_NAME');
    expect(codes.get(JSON.stringify(['network', 'create', ...sub, '-o', `bridge=${LONG_IFNAME}`, 'sec1']))).toMatch(/INVALID_(NAME|OPTION)/);
    await expectUnchanged(before, 'hostile network creates');
    expect(await tainted()).toEqual([]);
    expect(existsSync(PWNED)).toBe(false);
  });

  it('refuses hostile namespaces, addresses and ports on connect, and hostile names everywhere else', async () => {
    const before = await snapshot();
    const other = await scope.create();
    const cases: string[][] = [];
    for (const h of [...CLI_HOSTILE, LONG_IFNAME, `/run/netns/../../etc/${TOKEN}`, `/proc/999999999/ns/net`, `/etc/passwd`, `/tmp`, `${TOKEN}/../../proc/1/ns/net`]) {
      cases.push(['network', 'connect', 'secok', h], ['network', 'disconnect', 'secok', h]);
    }
    const slots: Array<(h: string) => string[]> = [
      (h) => ['network', 'connect', '--ip', h, 'secok', other.name],
      (h) => ['network', 'connect', '--publish', `8080:80${h}`, 'secok', other.name],
      (h) => ['network', 'inspect', h],
      (h) => ['network', 'rm', h],
      (h) => ['network', 'connect', h, other.name],
    ];
    CLI_HOSTILE.forEach((h, i) => cases.push(slots[i % slots.length]!(h), slots[(i + 2) % slots.length]!(h)));
    cases.push(['network', 'connect', '--ip', '10.99.0.5', 'secok', other.name], ['network', 'connect', '--publish', '[::1]:8080:80', 'secok', other.name]);
    await allRefused(cases);
    expect(await other.linkNames()).toEqual(['lo']);
    await expectUnchanged(before, 'hostile connects');
    expect(await tainted()).toEqual([]);
    expect(existsSync(PWNED)).toBe(false);
  });

  it('refuses hostile bridge names, parents and sandbox keys on the plugin sockets', async () => {
    const sock = (n: string) => path.join(weftd.pluginDir, `${n}.sock`);
    const hex = (c: string) => c.repeat(64);
    // A Docker network and endpoint to aim at (valid requests, as dockerd sends them).
    const net = { NetworkID: hex('a'), Options: { 'com.docker.network.generic': {} }, IPv4Data: [{ AddressSpace: 'local', Pool: '10.79.0.0/24', Gateway: '10.79.0.1/24' }], IPv6Data: [] };
    expect((await pluginCall(sock('weft-bridge'), 'NetworkDriver.CreateNetwork', JSON.stringify(net))).status).toBe(200);
    const ep = { NetworkID: hex('a'), EndpointID: hex('b'), Interface: { Address: '10.79.0.5/24', AddressIPv6: '', MacAddress: '' }, Options: {} };
    expect((await pluginCall(sock('weft-bridge'), 'NetworkDriver.CreateEndpoint', JSON.stringify(ep))).status).toBe(200);
    await writeFile(argvLog, '');
    const before = await snapshot();

    const expectRefused = async (plugin: string, method: string, body: unknown) => {
      const r = await pluginCall(sock(plugin), method, JSON.stringify(body));
      expect(r.status, `${method} ${JSON.stringify(body)}: ${r.body}`).toBe(500);
      const code = pluginErrorCode(r);
      expect(code, r.body).toBeDefined();
      expect(['WEFT_ERR_INTERNAL', 'WEFT_ERR_COMMAND_FAILED'], `${method} ${JSON.stringify(body)}: ${r.body}`).not.toContain(code);
    };
    for (const h of [...HOSTILE_NAMES, LONG_IFNAME]) {
      for (const key of ['com.docker.network.bridge.name', 'com.docker.network.driver.mtu', 'com.docker.network.container_iface_prefix']) {
        await expectRefused('weft-bridge', 'NetworkDriver.CreateNetwork', { ...net, NetworkID: hex('c'), IPv4Data: [{ AddressSpace: 'local', Pool: '10.80.0.0/24' }], Options: { 'com.docker.network.generic': { [key]: h } } });
      }
      await expectRefused('weft-macvlan', 'NetworkDriver.CreateNetwork', { ...net, NetworkID: hex('c'), IPv4Data: [{ AddressSpace: 'local', Pool: '10.80.0.0/24' }], Options: { 'com.docker.network.generic': { parent: h } } });
      await expectRefused('weft-bridge', 'NetworkDriver.CreateEndpoint', { ...ep, EndpointID: hex('d'), Interface: { Address: h, AddressIPv6: '', MacAddress: '' } });
      await expectRefused('weft-bridge', 'NetworkDriver.CreateEndpoint', { ...ep, EndpointID: hex('d'), Interface: { Address: '10.79.0.6/24', AddressIPv6: '', MacAddress: h } });
      await expectRefused('weft', 'IpamDriver.RequestPool', { AddressSpace: h, Pool: '10.81.0.0/24' });
    }
    // The real endpoint, joined to sandboxes that are not network namespaces.
    // (A missing path passes: Docker 20.10 joins before the container's namespace exists.)
    for (const key of [`/run/netns/../../etc/${TOKEN}`, '/tmp', `/run/netns/${TOKEN}\nx`, `/run/netns/../../tmp`, `/run/netns/${TOKEN}\u0000`, `run/netns/${TOKEN}`]) {
      await expectRefused('weft-bridge', 'NetworkDriver.Join', { NetworkID: hex('a'), EndpointID: hex('b'), SandboxKey: key, Options: {} });
    }
    await expectUnchanged(before, 'hostile plugin requests');
    expect(await tainted()).toEqual([]);
    expect(existsSync(PWNED)).toBe(false);
  });

  it('tells a user without access to the socket so, with its code', async () => {
    // Let nobody reach the socket's directory, so the refusal is the socket's own mode (0660 root).
    await chmod(weftd.dir, 0o755);
    try {
      const r = await run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, WEFT_JS, '--host', `unix://${weftd.socket}`, 'network', 'ls'], {
        timeoutMs: 30_000,
      });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('WEFT_ERR_DAEMON_UNREACHABLE');
      expect(r.stderr).toMatch(/permission denied/i);
      expect(r.stderr).toContain(weftd.socket);
    } finally {
      await chmod(weftd.dir, 0o700);
    }
  });
});

describe.skipIf(!etcdAvailable())('weftd on etcd with TLS client certificates', () => {
  const scope = netnsScopePerFile();
  let dir: string;
  let etcd: SpawnedProcess | undefined;
  let weftd: WeftdHandle | undefined;
  let pki: EtcdTestPki;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'weft-sec-etcd-'));
    pki = await makeTestPki(dir);
    const ns = await scope.create();
    // etcd inside weftd's namespace: weftd reaches it on that namespace's 127.0.0.1, and nothing
    // listens in the host's.
    const client = await freePort();
    const peer = await freePort();
    const url = `https://127.0.0.1:${client}`;
    etcd = await spawnLogged(
      [
        'ip', 'netns', 'exec', ns.name, ETCD_BIN,
        '--name', 'sec', '--data-dir', path.join(dir, 'etcd'),
        '--listen-client-urls', url, '--advertise-client-urls', url,
        '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
        '--initial-cluster', `sec=http://127.0.0.1:${peer}`,
        '--cert-file', pki.serverCert, '--key-file', pki.serverKey, '--client-cert-auth', '--trusted-ca-file', pki.cacert,
        '--logger', 'zap', '--log-outputs', 'stderr',
      ],
      { logFile: path.join(dir, 'etcd.log') },
    );
    // weftd retries the store at start-up only so long: wait until etcd serves TLS.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await run(['ip', 'netns', 'exec', ns.name, 'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${client}`]).catch(() => ({ code: 1 }));
      if (r.code === 0) break;
      if (Date.now() > deadline) throw new Error(`etcd did not listen:\n${await readFile(path.join(dir, 'etcd.log'), 'utf8')}`);
      await sleep(100);
    }
    weftd = await startWeftd({
      prefix: ['ip', 'netns', 'exec', ns.name],
      args: [
        '--store', `etcd://127.0.0.1:${client}`,
        '--etcd-cacert', pki.cacert, '--etcd-cert', pki.clientCert, '--etcd-key', pki.clientKey,
        '--log-level', 'trace',
      ],
    });
  });

  afterAll(async () => {
    await weftd?.cleanup();
    if (etcd) await killPids([etcd.pid]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('works, and its log holds no key material', async () => {
    await weftd!.cliOk(['network', 'create', '--subnet', '10.82.0.0/24', 'tlsnet']);
    const bad = await weftd!.cli(['network', 'create', '--subnet', '10.82.0.0/25', 'tlsnet2']);
    expect(bad.stderr).toContain('WEFT_ERR_POOL_OVERLAP');
    await weftd!.cliOk(['network', 'rm', 'tlsnet']);
    const version = await weftd!.cliOk(['version']);

    const log = weftd!.log();
    // The log is real: it shows the store it used.
    expect(log).toMatch(/etcd/);
    // No PEM block, no line of any key, nor the certificates' bodies.
    expect(log).not.toMatch(/-----BEGIN/);
    for (const file of [pki.clientKey, pki.serverKey, path.join(dir, 'ca.key'), pki.clientCert]) {
      const body = (await readFile(file, 'utf8')).split('\n').filter((l) => l && !l.startsWith('-----'));
      for (const line of body) expect(log, `a line of ${path.basename(file)} is in weftd's log`).not.toContain(line.slice(0, 40));
    }
    expect(version).not.toMatch(/-----BEGIN/);
  });
});
