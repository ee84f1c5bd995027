// `weftd --metrics-addr HOST:PORT`: /metrics over plain TCP for a Prometheus scraper (the address
// is checked in listen-address.ts).

import http from 'node:http';
import type { Logger } from 'pino';
import { ErrorCodes, WeftError } from '../model/errors.js';
import type { ListenAddress } from './listen-address.js';
import { METRICS_CONTENT_TYPE, type Registry } from './registry.js';

/** Serves GET /metrics; every other path is 404. Resolves once listening. */
export async function startMetricsServer(registry: Registry, addr: ListenAddress, logger: Logger): Promise<{ close(): Promise<void>; port: number }> {
  const log = logger.child({ component: 'metrics' });
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    registry.render().then(
      (text) => res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) }).end(text),
      (e: unknown) => {
        log.error({ err: e }, 'metrics scrape failed');
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics scrape failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new WeftError(ErrorCodes.INVALID_OPTION, `cannot listen on metrics-addr ${addr.host}:${addr.port}: ${e.message}`)));
    server.listen(addr.port, addr.host, () => resolve());
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : addr.port;
  log.info({ host: addr.host, port }, 'metrics listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
