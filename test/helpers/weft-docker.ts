// weftd served to a test dockerd (in its network and mount namespace), and what the reliability
// tests ask of it: `weft check`, a snapshot of networks and endpoints over the management API,
// failpoint restarts, plugin calls straight to a socket, and pings between containers that do
// not go through weftd or dockerd (nsenter into the container's namespace by PID).

import http from 'node:http';
import { expect } from 'vitest';
import type { EndpointView, NetworkView } from '../../src/api/types.js';
import { ApiClient } from '../../src/cli/client.js';
import { WeftApi } from '../../src/cli/api.js';
import type { DockerdHandle } from './dockerd.js';
import { run, sleep } from './process.js';
import { startWeftd, type WeftdHandle } from './weftd.js';

export async function startWeftdIn(dockerd: DockerdHandle, args: string[] = []): Promise<WeftdHandle> {
  return startWeftd({ prefix: dockerd.nsenterArgv(['true']).slice(0, -1), pluginDir: dockerd.pluginDir, args, env: { WEFT_FAILPOINTS: '' } });
}

export function apiOf(weftd: WeftdHandle, timeoutMs = 60_000): WeftApi {
  return new WeftApi(new ApiClient({ url: `unix://${weftd.socket}`, socketPath: weftd.socket }, timeoutMs));
}

export interface CheckResult {
  clean: boolean;
  findings: { kind: string; message: string }[];
}

export async function weftCheck(weftd: WeftdHandle): Promise<CheckResult> {
  const r = await weftd.cli(['check', '--format', 'json']);
  if (r.code !== 0 && r.code !== 1) throw new Error(`weft check exited ${r.code}: ${r.stderr}`);
  if (!r.stdout.trim()) throw new Error(`weft check exited ${r.code} with no report: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as CheckResult;
  expect(r.code === 0).toBe(report.clean);
  return report;
}

/** `weft check` clean, or the test fails listing the findings. */
export async function expectCheckClean(weftd: WeftdHandle, context = ''): Promise<void> {
  const report = await weftCheck(weftd);
  expect(report.findings.map((f) => `${f.kind}: ${f.message}`), `weft check ${context}`).toEqual([]);
}

/**
 * Clean now or after the reconciler's next passes: Docker's clean-up calls that found weftd down
 * reach it late (Docker retries them), and containers that died meanwhile are collected by the
 * periodic pass. Nothing is repaired by the test.
 */
export async function expectCheckCleanWithin(weftd: WeftdHandle, ms: number, context = ''): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const report = await weftCheck(weftd);
    if (report.clean || Date.now() > deadline) {
      expect(report.findings.map((f) => `${f.kind}: ${f.message}`), `weft check ${context}`).toEqual([]);
      return;
    }
    await sleep(500);
  }
}

export async function snapshot(weftd: WeftdHandle): Promise<NetworkView[]> {
  return apiOf(weftd).listNetworks();
}

export function allEndpoints(nets: NetworkView[]): EndpointView[] {
  return nets.flatMap((n) => n.endpoints);
}

/** Addresses held by more than one endpoint of one network (should be none). */
export function duplicateAddresses(nets: NetworkView[]): string[] {
  const dups: string[] = [];
  for (const n of nets) {
    const seen = new Set<string>();
    for (const e of n.endpoints) {
      for (const a of [e.ipv4, e.ipv6]) {
        if (!a) continue;
        const ip = a.split('/')[0]!;
        if (seen.has(ip)) dups.push(`${n.name}: ${ip}`);
        seen.add(ip);
      }
    }
  }
  return dups;
}

/** Waits for weftd to die at the named failpoint (it SIGKILLs itself) and checks its log line. */
export async function expectDiedAt(weftd: WeftdHandle, name: string, timeoutMs = 60_000): Promise<void> {
  const proc = weftd.proc;
  if (!proc) throw new Error('weftd is not running');
  const gone = await Promise.race([proc.exited, sleep(timeoutMs).then(() => undefined)]);
  expect(gone, `weftd did not die at failpoint ${name}`).toBeDefined();
  expect(gone!.signal).toBe('SIGKILL');
  weftd.proc = undefined;
  const hit = weftd
    .log()
    .split('\n')
    .filter((l) => l.includes('"failpoint hit"'))
    .map((l) => JSON.parse(l) as { failpoint: string });
  expect(hit.at(-1)?.failpoint).toBe(name);
}

/** Restarts weftd (SIGTERM if it runs) with these failpoints armed ('' = none). */
export async function restartWith(weftd: WeftdHandle, failpoints: string): Promise<void> {
  if (weftd.proc) await weftd.stop();
  weftd.opts.env = { ...weftd.opts.env, WEFT_FAILPOINTS: failpoints };
  await weftd.start();
}

/** One POST to a plugin socket, as dockerd would send it. */
export function pluginCall(socket: string, method: string, body: unknown): Promise<{ status: number; body: string }> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: `/${method}`, method: 'POST', headers: { 'Content-Length': Buffer.byteLength(text) } }, (res) => {
      let data = '';
      res.setEncoding('utf8').on('data', (d: string) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

export interface ContainerInfo {
  name: string;
  pid: number;
  /** network name -> { ip, endpointId } */
  networks: Record<string, { ip: string; endpointId: string }>;
}

export async function inspectContainer(dockerd: DockerdHandle, name: string): Promise<ContainerInfo> {
  const r = await dockerd.dockerOk(['inspect', name]);
  const c = JSON.parse(r.stdout)[0] as { State: { Pid: number }; NetworkSettings: { Networks: Record<string, { IPAddress: string; EndpointID: string }> } };
  const networks: ContainerInfo['networks'] = {};
  for (const [n, v] of Object.entries(c.NetworkSettings.Networks ?? {})) networks[n] = { ip: v.IPAddress, endpointId: v.EndpointID };
  return { name, pid: c.State.Pid, networks };
}

/** A ping from a container's namespace, entered by PID from the host: no dockerd, no weftd on the
 *  path. Up to three single pings, so one packet lost on a machine at full load is not a failure. */
export async function pingFrom(pid: number, ip: string): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    const r = await run(['nsenter', '-t', String(pid), '-n', '/bin/busybox', 'ping', '-c', '1', '-W', '2', ip], { timeoutMs: 10_000 });
    if (r.code === 0) return true;
  }
  return false;
}
