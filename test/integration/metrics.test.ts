// /metrics of a real weftd: after a bridge connect and disconnect, the operation histograms,
// the pool gauges and the endpoint gauge say so, on the management socket and on
// --metrics-addr (TCP, inside weftd's namespace). Values are counts, never timings.

import { request } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { netnsScopePerFile, type Netns } from '../helpers/netns.js';
import { startWeftd, startWeftdInNetns, type WeftdHandle } from '../helpers/weftd.js';

function getUnix(socketPath: string, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** The value of the first sample line that starts with `prefix` (name plus labels). */
function sample(text: string, prefix: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('weftd /metrics', () => {
  const scope = netnsScopePerFile();
  let hostNs: Netns;
  let weftd: WeftdHandle;
  // A fixed high port is fine: it lives in the test's own network namespace.
  const PORT = 19323;

  beforeAll(async () => {
    hostNs = await scope.create();
    weftd = await startWeftdInNetns(scope, hostNs, { args: ['--metrics-addr', `127.0.0.1:${PORT}`] });
  });

  it('counts a connect and a disconnect by operation and driver, and shows pool use and endpoints', async () => {
    await weftd.cliOk(['network', 'create', '--subnet', '10.47.0.0/24', 'm1']);
    const c = await scope.create();
    await weftd.cliOk(['network', 'connect', 'm1', c.name]);

    const r = await getUnix(weftd.socket, '/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toContain('text/plain; version=0.0.4');
    expect(r.body).toContain('# TYPE weft_operation_duration_seconds histogram');
    expect(sample(r.body, 'weft_operation_duration_seconds_count{operation="connect",driver="bridge",outcome="ok"}')).toBe(1);
    expect(sample(r.body, 'weft_operation_duration_seconds_count{operation="network_create",driver="bridge",outcome="ok"}')).toBe(1);
    expect(sample(r.body, 'weft_operation_duration_seconds_bucket{operation="connect",driver="bridge",outcome="ok",le="+Inf"}')).toBe(1);
    expect(sample(r.body, 'weft_network_endpoints{network="m1",driver="bridge"}')).toBe(1);
    // A /24 hands out 254; the gateway and the endpoint hold two.
    expect(sample(r.body, 'weft_ipam_pool_addresses{pool="10.47.0.0/24"')).toBe(254);
    expect(sample(r.body, 'weft_ipam_pool_addresses_used{pool="10.47.0.0/24"')).toBe(2);
    expect(sample(r.body, 'weft_metrics_collect_failures')).toBe(0);
    // The connect's own steps, each timed once (the bench prints their means).
    for (const step of ['lookup and lock', 'address and record', 'driver (veth)', 'container side', 'joined record']) {
      expect(sample(r.body, `weft_connect_step_duration_seconds_count{step="${step}"}`), step).toBe(1);
    }

    // A failing call is counted with its code.
    const again = await weftd.cli(['network', 'connect', 'm1', c.name]);
    expect(again.code).not.toBe(0);
    await weftd.cliOk(['network', 'disconnect', 'm1', c.name]);

    const tcp = await hostNs.execOk(['busybox', 'nc', '-w', '3', '127.0.0.1', String(PORT)], { input: 'GET /metrics HTTP/1.0\r\n\r\n' });
    expect(tcp.stdout.split('\r\n')[0]).toContain(' 200 ');
    const body = tcp.stdout.slice(tcp.stdout.indexOf('\r\n\r\n') + 4);
    expect(sample(body, 'weft_operation_duration_seconds_count{operation="disconnect",driver="bridge",outcome="ok"}')).toBe(1);
    expect(sample(body, 'weft_operation_duration_seconds_count{operation="connect",driver="bridge",outcome="error"}')).toBe(1);
    expect(body).toMatch(/^weft_operation_errors_total\{operation="connect",driver="bridge",code="WEFT_ERR_[A-Z_]+"\} 1$/m);
    expect(sample(body, 'weft_network_endpoints{network="m1",driver="bridge"}')).toBe(0);
    expect(sample(body, 'weft_ipam_pool_addresses_used{pool="10.47.0.0/24"')).toBe(1);

    const notFound = await hostNs.execOk(['busybox', 'nc', '-w', '3', '127.0.0.1', String(PORT)], { input: 'GET /other HTTP/1.0\r\n\r\n' });
    expect(notFound.stdout.split('\r\n')[0]).toContain(' 404 ');
  });

  it('refuses a wildcard metrics address at start-up', async () => {
    const ns = await scope.create();
    await expect(startWeftd({ prefix: ['ip', 'netns', 'exec', ns.name], args: ['--metrics-addr', '0.0.0.0:9323'] })).rejects.toThrow(/WEFT_ERR_INVALID_OPTION/);
  });
});
