// A tiny HTTP/1.1 + JSON client for weftd's management API over its unix socket (node:http with
// `socketPath`). It turns every way a call can fail into a WeftError, or a RemoteError when the
// daemon answers with a code this CLI does not know (a newer daemon), so callers print one line.

import http from 'node:http';
import { allErrorCodes, ErrorCodes, WeftError, type ErrorCode } from '../model/errors.js';
import type { DaemonAddress } from './host.js';

export const DEFAULT_TIMEOUT_MS = 60_000;

/** An error the daemon reported with a code this CLI does not know. Exits 1. */
export class RemoteError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}

export class ApiClient {
  constructor(
    readonly address: DaemonAddress,
    private readonly timeoutMs: number = DEFAULT_TIMEOUT_MS,
  ) {}

  /** Sends one request; resolves with the parsed JSON body (undefined when empty) of a 2xx answer. */
  request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      let timedOut = false;
      // Errors before the socket connects mean "no daemon there"; after, "the daemon went away".
      let connected = false;
      const req = http.request({
        socketPath: this.address.socketPath,
        method,
        path,
        // A fresh agent per call (no keep-alive): the CLI makes a handful of calls and must not
        // hold the process open, or the daemon's connection, once it is done.
        agent: false,
        headers: {
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      });
      req.on('socket', (socket) => socket.once('connect', () => (connected = true)));
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy();
      }, this.timeoutMs);
      const fail = (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      };
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (timedOut) {
          fail(
            new WeftError(
              ErrorCodes.DAEMON_UNREACHABLE,
              `weftd at ${this.address.url} did not answer ${method} ${path} within ${this.timeoutMs / 1000}s`,
              { cause: err },
            ),
          );
        } else fail(connected ? lostConnection(err, this.address) : mapSocketError(err, this.address));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => fail(lostConnection(err, this.address)));
        res.on('end', () => {
          clearTimeout(timer);
          if (!res.complete) return reject(lostConnection(new Error('response cut short'), this.address));
          try {
            resolve(decodeResponse<T>(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
          } catch (e) {
            reject(e);
          }
        });
      });
      req.end(payload);
    });
  }
}

/** Maps a failure to open the socket to the sentence a user needs. Exported for tests. */
export function mapSocketError(err: NodeJS.ErrnoException, address: DaemonAddress): WeftError {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
    case 'ENOTSOCK':
      return new WeftError(
        ErrorCodes.DAEMON_UNREACHABLE,
        `cannot connect to weftd at ${address.url}: is weftd running? (start it with \`weftd\`)`,
        { cause: err },
      );
    case 'EACCES':
    case 'EPERM':
      return new WeftError(
        ErrorCodes.DAEMON_UNREACHABLE,
        `permission denied on ${address.socketPath}: run as root or as a member of the socket's group (weftd --socket-group)`,
        { cause: err },
      );
    default:
      return new WeftError(ErrorCodes.DAEMON_UNREACHABLE, `cannot connect to weftd at ${address.url}: ${err.message}`, { cause: err });
  }
}

function lostConnection(err: Error, address: DaemonAddress): WeftError {
  return new WeftError(
    ErrorCodes.DAEMON_UNREACHABLE,
    `the connection to weftd at ${address.url} broke before it answered (${err.message}); the request may or may not have been carried out`,
    { cause: err },
  );
}

const KNOWN_CODES: ReadonlySet<string> = new Set(allErrorCodes());

/** A 2xx body becomes the result; anything else becomes the error the daemon described. */
export function decodeResponse<T>(status: number, text: string): T {
  let parsed: unknown;
  let parseError = false;
  if (text.trim() !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parseError = true;
    }
  }
  if (status >= 200 && status < 300) {
    if (parseError) throw new WeftError(ErrorCodes.INTERNAL, `weftd answered HTTP ${status} with a body that is not JSON: ${snippet(text)}`);
    return parsed as T;
  }
  const err = (parsed as { error?: unknown } | undefined)?.error as { code?: unknown; message?: unknown; details?: unknown } | undefined;
  if (err && typeof err.code === 'string' && typeof err.message === 'string') {
    if (KNOWN_CODES.has(err.code)) {
      const details = err.details && typeof err.details === 'object' ? (err.details as Record<string, unknown>) : undefined;
      throw new WeftError(err.code as ErrorCode, err.message, details ? { details } : {});
    }
    throw new RemoteError(err.code, err.message);
  }
  throw new WeftError(ErrorCodes.INTERNAL, `weftd answered HTTP ${status} without an error description: ${snippet(text)}`);
}

function snippet(text: string): string {
  const t = text.trim();
  if (t === '') return '(empty body)';
  return JSON.stringify(t.length > 200 ? `${t.slice(0, 200)}...` : t);
}
