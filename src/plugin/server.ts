// The Docker plugin front door: node:http on one unix socket per plugin name in the plugin folder
// (/run/docker/plugins by default, flag --plugin-dir). Transport rules from
// docker-plugin-protocol.md §1:
// - dockerd POSTs `/<Interface>.<Method>`, keeps connections alive forever and has no response
//   timeout. So idle keep-alive connections are never closed by us (keepAliveTimeout 0: otherwise
//   dockerd may reuse a connection we are closing and see a spurious error, §1.4), while a client
//   that stalls half-way through a request is cut off (headersTimeout, requestTimeout).
// - success is exactly 200 with a JSON body; every failure is 500 {"Err"} (src/plugin/errors.ts);
//   an unknown path is 404.
// - a stale socket left by a dead weftd costs dockerd ~15 s per call (§8.11): replace it at start,
//   remove ours at close.
//
// A plain class (no inversify decorators): src/daemon builds it from the controller, the IPAM and
// the root logger, then calls listen() and, on shutdown, close().

import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Controller } from '../controller/controller.js';
import type { Ipam } from '../ipam/ipam.js';
import { ErrorCodes, WeftError, toWeftError } from '../model/errors.js';
import { parseJsonBody } from './decode.js';
import type { DockerBindings } from './docker-bindings.js';
import { PLUGIN_ERROR_STATUS, PLUGIN_UNKNOWN_METHOD_STATUS, pluginErrorBody } from './errors.js';
import type { HandlerContext, HandlerTable, PluginSpec } from './handlers/context.js';
import { PLUGINS, handlersFor } from './plugins.js';
import { BODYLESS_METHODS, PLUGIN_CONTENT_TYPE, isMethodName } from './wire.js';

export const DEFAULT_PLUGIN_DIR = '/run/docker/plugins';
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

export interface PluginServerOptions {
  pluginDir: string;
  /** Bodies above this are refused (500). Default 1 MiB; real bodies are a few hundred bytes. */
  maxBodyBytes?: number;
  /** How long close() lets in-flight calls finish before cutting them off. Default 10 s. */
  closeTimeoutMs?: number;
  /** Which sockets to serve. Default: all of PLUGINS. */
  plugins?: readonly PluginSpec[];
  /** Group that owns the sockets (mode 0660), like the management socket's --socket-group.
   *  Default: the daemon's own group (root). */
  socketGid?: number;
  /** Docker NetworkID -> cluster network bindings (weft-overlay, src/plugin/docker-bindings.ts). */
  bindings?: DockerBindings;
}

interface Listener {
  plugin: PluginSpec;
  path: string;
  server: http.Server;
  handlers: HandlerTable;
  log: Logger;
}

/** sockaddr_un.sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
const STALE_PROBE_TIMEOUT_MS = 1_000;

export class PluginServer {
  private readonly log: Logger;
  private readonly pluginDir: string;
  private readonly maxBodyBytes: number;
  private readonly closeTimeoutMs: number;
  private readonly plugins: readonly PluginSpec[];
  private readonly socketGid: number | undefined;
  private readonly bindings: DockerBindings | undefined;
  private listeners: Listener[] = [];
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];
  private closing?: Promise<void>;

  constructor(
    private readonly controller: Controller,
    private readonly ipam: Ipam,
    logger: Logger,
    opts: PluginServerOptions,
  ) {
    this.log = logger.child({ component: 'plugin' });
    this.pluginDir = opts.pluginDir;
    this.bindings = opts.bindings;
    this.maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.plugins = opts.plugins ?? PLUGINS;
    this.socketGid = opts.socketGid;
  }

  socketPath(pluginName: string): string {
    return join(this.pluginDir, `${pluginName}.sock`);
  }

  /** Paths of the sockets being served. */
  get sockets(): string[] {
    return this.listeners.map((l) => l.path);
  }

  /** Creates the plugin folder if missing and listens on every socket. On failure, whatever was
   *  already listening is closed again. */
  async listen(): Promise<void> {
    if (this.closing) throw new WeftError(ErrorCodes.SHUTTING_DOWN, 'plugin server is closed; create a new one');
    if (this.listeners.length > 0) return;
    await mkdir(this.pluginDir, { recursive: true, mode: 0o755 });
    try {
      for (const plugin of this.plugins) await this.listenOne(plugin);
    } catch (e) {
      await this.close();
      throw e;
    }
    this.log.info({ pluginDir: this.pluginDir, plugins: this.plugins.map((p) => p.name) }, 'docker plugin sockets listening');
  }

  /** Stops accepting, lets in-flight calls finish (up to closeTimeoutMs), then drops every
   *  connection and removes the sockets. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async listenOne(plugin: PluginSpec): Promise<void> {
    const path = this.socketPath(plugin.name);
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
      throw new WeftError(
        ErrorCodes.INVALID_NAME,
        `plugin socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; choose a shorter --plugin-dir`,
      );
    }
    await removeStaleSocket(path);
    const log = this.log.child({ plugin: plugin.name });
    const server = http.createServer();
    const listener: Listener = { plugin, path, server, handlers: handlersFor(plugin), log };
    server.keepAliveTimeout = 0;
    server.headersTimeout = 30_000;
    server.requestTimeout = 60_000; // time to *receive* a request; handlers may take longer
    server.on('request', (req, res) => {
      this.handle(listener, req, res).catch((err: unknown) => {
        log.error({ err }, 'plugin request handling crashed');
        res.destroy();
      });
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (err.code !== 'ECONNRESET') log.debug({ err }, 'malformed HTTP from client');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => log.error({ err }, 'plugin socket error'));
    // Registered before anything else can fail, so close() also takes this one down.
    this.listeners.push(listener);
    // dockerd runs as root; nobody else needs to talk to the plugin (§8.11).
    await chmod(path, 0o660);
    if (this.socketGid !== undefined) await chown(path, process.getuid?.() ?? 0, this.socketGid);
  }

  private async handle(l: Listener, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.closing) {
      // A transport error makes dockerd retry for ~15 s (§1.4) and reach the next weftd on the
      // same path; a 500 would fail the Docker command for good.
      req.socket.destroy();
      return;
    }
    const started = process.hrtime.bigint();
    const method = (req.url ?? '/').split('?')[0]!.replace(/^\//, '').slice(0, 100);
    const log = l.log.child({ method, reqId: randomBytes(4).toString('hex') });
    this.inflight++;
    let status = 200;
    try {
      if (req.method !== 'POST') {
        status = 405;
        res.setHeader('Allow', 'POST');
        send(res, status, { Err: `${req.method} is not served: the Docker plugin protocol uses POST` });
        log.warn({ httpMethod: req.method }, 'non-POST request refused');
        return;
      }
      const handler = Object.hasOwn(l.handlers, method) ? l.handlers[method] : undefined;
      if (!handler) {
        status = PLUGIN_UNKNOWN_METHOD_STATUS;
        send(res, status, { Err: `plugin ${l.plugin.name} does not implement ${method || '(empty path)'}` });
        log.warn('unknown plugin method');
        return;
      }
      try {
        const text = await readBody(req, this.maxBodyBytes);
        const body = isMethodName(method) && BODYLESS_METHODS.has(method) ? undefined : parseJsonBody(method, text);
        const ctx: HandlerContext = { controller: this.controller, ipam: this.ipam, plugin: l.plugin, log, ...(this.bindings ? { bindings: this.bindings } : {}) };
        const result = await handler(body, ctx);
        send(res, 200, result);
      } catch (e) {
        status = PLUGIN_ERROR_STATUS;
        const err = toWeftError(e);
        send(res, status, pluginErrorBody(err));
        log.warn({ err, code: err.code }, `${method} failed: ${err.message}`);
      }
    } finally {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      log.debug({ status, durationMs }, 'plugin call');
      this.inflight--;
      if (this.inflight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private async doClose(): Promise<void> {
    const listeners = this.listeners;
    // Stop accepting; Node also closes the idle keep-alive connections here.
    const closed = listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve())));
    if (this.inflight > 0) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.closeTimeoutMs)));
      if (await Promise.race([idle.then(() => false), timedOut])) {
        this.log.warn({ inflight: this.inflight }, 'plugin calls still running at close; cutting them off');
      }
      clearTimeout(timer);
    }
    for (const l of listeners) l.server.closeAllConnections();
    await Promise.all(closed);
    // The server removes its socket file when it closes; make sure, without failing on "gone".
    await Promise.all(listeners.map((l) => unlink(l.path).catch(() => undefined)));
    this.listeners = [];
    if (listeners.length > 0) this.log.info({ pluginDir: this.pluginDir }, 'docker plugin sockets closed');
  }
}

function send(res: http.ServerResponse, status: number, body: object): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': PLUGIN_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads the body as UTF-8. Past `cap` the rest is read and dropped (so the client gets a clean
 *  answer instead of a reset), up to 16 x cap, after which the connection is cut. */
function readBody(req: http.IncomingMessage, cap: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= cap) chunks.push(chunk);
      else if (size > cap * 16) req.destroy();
    });
    req.on('end', () => {
      if (size > cap) reject(new WeftError(ErrorCodes.REQUEST_TOO_LARGE, `request body too large: more than ${cap} bytes`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new WeftError(ErrorCodes.BAD_REQUEST, 'client went away before the request body was complete'));
    });
  });
}

/** Removes a socket file left by a dead process. Refuses when the path is not a socket (never
 *  delete somebody's file) or when a live process answers on it (another weftd). */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) {
    throw new WeftError(ErrorCodes.INTERNAL, `refusing to replace ${path}: it exists and is not a socket; remove it by hand`);
  }
  if (await socketIsLive(path)) {
    throw new WeftError(
      ErrorCodes.INTERNAL,
      `${path} is served by another process (another weftd?); stop it or use another --plugin-dir`,
    );
  }
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}

function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(path);
    const done = (live: boolean) => {
      sock.destroy();
      resolve(live);
    };
    sock.setTimeout(STALE_PROBE_TIMEOUT_MS, () => done(true));
    sock.once('connect', () => done(true));
    // ECONNREFUSED: nobody listens (stale). Anything else: cannot tell; treat it as stale too,
    // since the path is a socket file and listen() will report a real conflict.
    sock.once('error', () => done(false));
  });
}
