// issue 8's "no process per attach", through a real weftd: `weft network connect` configures the
// container side over netlink through the netns relay. weft_process_spawns_total (every process
// weftd starts, by program) does not move across 20 connects and 20 disconnects once the relay
// runs; the relay itself was started once and is counted; the containers get their name,
// address and routes and reach the gateway; a killed relay is replaced at the next connect; and
// the relay ends with weftd.

import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { netnsScopePerFile, type Netns } from '../helpers/netns.js';
import { signal, waitForExit } from '../helpers/process.js';
import { waitUntil } from '../helpers/wait.js';
import { startWeftdInNetns, type WeftdHandle } from '../helpers/weftd.js';

function metrics(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/metrics', method: 'GET', timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** weft_process_spawns_total by program. */
async function spawns(weftd: WeftdHandle): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await metrics(weftd.socket)).matchAll(/^weft_process_spawns_total\{program="([^"]+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** The children of a process (all its threads'). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

describe('weftd connect through the netns relay', () => {
  const scope = netnsScopePerFile();
  let host: Netns;
  let weftd: WeftdHandle;

  beforeAll(async () => {
    host = await scope.create();
    // No periodic pass during the test: its firewall check runs nft/iptables on its own clock,
    // which is not what is counted here.
    weftd = await startWeftdInNetns(scope, host, { args: ['--reconcile-interval', '3600'] });
  });

  it('starts no process for 20 connects and 20 disconnects; the containers are configured and reach the gateway; a killed relay is replaced; the relay ends with weftd', async () => {
    expect(weftd.log()).toMatch(/"implementation":"netlink \(netns relay\)".*"msg":"sandbox attach"/);
    await weftd.cliOk(['network', 'create', '--subnet', '10.49.0.0/24', '--gateway', '10.49.0.1', 'r1']);
    // The first connect starts the relay (one process, counted).
    const first = await scope.create();
    await weftd.cliOk(['network', 'connect', 'r1', first.name]);
    const before = await spawns(weftd);
    expect(before['weft-netns-relay']).toBe(1);

    const containers: Netns[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await scope.create();
      const ep = JSON.parse(await weftd.cliOk(['network', 'connect', '--format', 'json', 'r1', c.name])) as { ifName: string; ipv4: string };
      expect(ep.ifName).toBe('eth0');
      containers.push(c);
    }
    const afterConnects = await spawns(weftd);
    expect(afterConnects).toEqual(before);

    // What a container got: eth0 with its address, the default route through the gateway.
    const c = containers[7]!;
    const links = JSON.parse((await c.ip(['-j', 'addr', 'show', 'eth0'])).stdout) as Array<{ ifname: string; flags: string[]; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>;
    expect(links[0]!.flags).toContain('UP');
    const v4 = links[0]!.addr_info.filter((a) => a.family === 'inet');
    expect(v4).toHaveLength(1);
    expect(v4[0]!.local).toMatch(/^10\.49\.0\.\d+$/);
    expect(v4[0]!.prefixlen).toBe(24);
    const routes = JSON.parse((await c.ip(['-j', 'route', 'show'])).stdout) as Array<{ dst: string; gateway?: string; dev?: string }>;
    expect(routes).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.49.0.1', dev: 'eth0' }));
    expect(routes).toContainEqual(expect.objectContaining({ dst: '10.49.0.0/24', dev: 'eth0' }));
    for (const x of [containers[0]!, c, containers[19]!]) {
      expect((await x.exec(['busybox', 'ping', '-c', '1', '-W', '3', '10.49.0.1'])).code).toBe(0);
    }

    for (const x of containers) await weftd.cliOk(['network', 'disconnect', 'r1', x.name]);
    expect((await c.linkNames()).sort()).toEqual(['lo']);
    expect(await spawns(weftd)).toEqual(before);

    // The relay is weftd's child. Killed, it is logged, and the next connect starts a new one.
    const relayOf = () => childrenOf(weftd.pid).filter((p) => cmdlineOf(p).includes('weft-netns-relay'));
    const killed = relayOf();
    expect(killed).toHaveLength(1);
    signal(killed[0]!, 'SIGKILL');
    expect(await waitForExit(killed, 10_000)).toEqual([]);
    await waitUntil('weftd logs the relay gone', async () => /netns relay gone/.test(weftd.log()), 10_000);
    const late = await scope.create();
    await weftd.cliOk(['network', 'connect', 'r1', late.name]);
    expect((await late.exec(['busybox', 'ping', '-c', '1', '-W', '3', '10.49.0.1'])).code).toBe(0);
    expect((await spawns(weftd))['weft-netns-relay']).toBe(2);
    // It goes when weftd goes.
    const relays = relayOf();
    expect(relays).toHaveLength(1);
    expect(relays).not.toEqual(killed);
    await weftd.stop();
    expect(await waitForExit(relays, 10_000)).toEqual([]);
  });
});
