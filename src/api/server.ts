// The management API server: HTTP/1.1 + JSON on a unix socket, root-only by default (0660,
// group root or --socket-group). Requests are capped in size; errors become ErrorBody with the
// status of their kind.

import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { Logger } from 'pino';
import { ErrorCodes, WeftError, httpStatusOf, toWeftError } from '../model/errors.js';
import { METRICS_CONTENT_TYPE } from '../metrics/registry.js';
import { route, type ApiContext } from './routes.js';
import type { ErrorBody } from './types.js';

export interface ApiServerOptions {
  socketPath: string;
  /** Numeric gid that may use the socket besides root. */
  socketGid?: number;
  maxBodyBytes?: number;
}

export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

/** Removes a socket file left by a process that died; refuses to remove anything that is not a socket. */
export async function removeStaleSocket(socketPath: string): Promise<void> {
  try {
    const st = await lstat(socketPath);
    if (!st.isSocket()) throw new WeftError(ErrorCodes.BAD_REQUEST, `${socketPath} exists and is not a socket: refusing to replace it`);
    await unlink(socketPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Reads the body as UTF-8. Past `max` the rest is read and dropped, so the client gets a clean
 *  REQUEST_TOO_LARGE answer instead of a reset connection; past 16 x max the connection is cut. */
function readBody(req: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
      else if (size > max * 16) req.destroy();
    });
    req.on('end', () => {
      if (size > max) reject(new WeftError(ErrorCodes.REQUEST_TOO_LARGE, `request body is larger than ${max} bytes`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

export class ApiServer {
  private server?: http.Server;
  private closing = false;
  private readonly log: Logger;

  constructor(
    private readonly ctx: ApiContext,
    logger: Logger,
    private readonly opts: ApiServerOptions,
  ) {
    this.log = logger.child({ component: 'api' });
  }

  async listen(): Promise<void> {
    const { socketPath } = this.opts;
    await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o755 });
    await removeStaleSocket(socketPath);
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // A deep backlog: a burst of clients (an orchestrator starting hundreds of containers, the
      // 10x concurrency soak) otherwise gets EAGAIN from connect(2) on a unix socket once Node's
      // default of 511 pending connections is full. The kernel caps it at net.core.somaxconn.
      server.listen({ path: socketPath, backlog: 4096 }, () => resolve());
    });
    // Root-only unless an operator named a group: the API can rewire any namespace on the host.
    await chmod(socketPath, 0o660);
    await chown(socketPath, 0, this.opts.socketGid ?? 0);
    this.log.info({ socket: socketPath }, 'management API listening');
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reqId = randomBytes(4).toString('hex');
    const started = process.hrtime.bigint();
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    try {
      if (this.closing) throw new WeftError(ErrorCodes.SHUTTING_DOWN, 'weftd is shutting down');
      const raw = await readBody(req, this.opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
      let body: unknown = undefined;
      if (raw.trim().length > 0) {
        try {
          body = JSON.parse(raw);
        } catch {
          throw new WeftError(ErrorCodes.BAD_REQUEST, 'request body is not valid JSON');
        }
      }
      const url = new URL(req.url ?? '/', 'http://weft');
      // The one non-JSON route: Prometheus text, where scrapers expect it (not under /v1).
      if (url.pathname === '/metrics' && req.method === 'GET' && this.ctx.metrics) {
        const text = await this.ctx.metrics();
        res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      const out = await route(this.ctx, req.method ?? 'GET', url.pathname, body, url.searchParams);
      send(out.status, out.body);
      this.log.debug({ reqId, method: req.method, path: url.pathname, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'api request');
    } catch (e) {
      const err = toWeftError(e);
      const body: ErrorBody = { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
      const level = err.kind === 'Internal' ? 'error' : 'info';
      this.log[level]({ reqId, method: req.method, path: req.url, code: err.code, err: err.kind === 'Internal' ? e : undefined }, err.message);
      if (!res.headersSent) send(httpStatusOf(err), body);
    }
  }

  /** Stops taking requests, lets in-flight ones finish (bounded), removes the socket. */
  async close(graceMs = 10_000): Promise<void> {
    this.closing = true;
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.closeAllConnections();
        resolve();
      }, graceMs);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
    await unlink(this.opts.socketPath).catch(() => undefined);
  }
}
