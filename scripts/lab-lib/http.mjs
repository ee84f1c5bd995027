// A small HTTP GET for health checks: weftd's and dockerd's APIs on unix sockets, etcd's /health
// on TCP (from inside the lab's namespaces, through probe.mjs).

import { request } from 'node:http';

/**
 * GET `path` from `target` ({socketPath} or {host, port}); resolves {status, body}, or undefined
 * when nothing answers within `timeoutMs`. Never rejects.
 */
export function httpGet(target, path, timeoutMs = 2_000) {
  return new Promise((resolve) => {
    const req = request({ ...target, path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
