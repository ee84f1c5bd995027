// weft's one Docker Engine API client, over the engine's unix socket with node:http (no client
// library: a handful of endpoints). Shared by docker-sync (which copies overlay networks into the
// engine) and the controller's check (which reads Docker's endpoints), so it sits below both
// rather than inside either. Unversioned paths: the engine answers in its own API version, and
// these fields are the same from 1.21 to today.
//
// Never call this from inside a plugin request handler: the engine calls the plugin while it
// holds its own locks, and waiting on it from there deadlocks (docker-plugin-protocol.md §6, §8.10).

import http from 'node:http';

/** One network as GET /networks lists it (the fields weft reads). */
export interface DockerNetwork {
  Id: string;
  Name: string;
  Driver: string;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  IPAM?: { Driver?: string; Options?: Record<string, string> | null; Config?: { Subnet?: string }[] | null } | null;
}

export interface CreateNetworkBody {
  Name: string;
  CheckDuplicate: boolean;
  Driver: string;
  Internal: boolean;
  EnableIPv6: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  IPAM: { Driver: string; Options: Record<string, string>; Config: { Subnet: string }[] };
}

/** A non-2xx answer; `status` is the HTTP status (404 no such network, 403 in use, 409 name taken). */
export class DockerApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'DockerApiError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_BODY = 16 * 1024 * 1024;

export class DockerApi {
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {}

  private call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: { Host: 'docker', ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}) },
          timeout: this.timeoutMs,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            // An engine answer is small; a runaway one must not grow weftd without bound.
            if (text.length + c.length > MAX_BODY) req.destroy(new Error(`Docker ${method} ${path}: answer larger than ${MAX_BODY} bytes`));
            else text += c;
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            if (status >= 200 && status < 300) return resolve(json as T);
            const msg = (json as { message?: string } | undefined)?.message ?? text.trim();
            reject(new DockerApiError(status, `Docker ${method} ${path}: ${status} ${msg}`));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`Docker ${method} ${path}: no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async ping(): Promise<void> {
    await this.call<unknown>('GET', '/_ping');
  }

  listNetworks(): Promise<DockerNetwork[]> {
    return this.call<DockerNetwork[]>('GET', '/networks');
  }

  /** GET /networks/{id}: unlike the list, it carries the network's Containers. */
  inspectNetwork(id: string): Promise<unknown> {
    return this.call<unknown>('GET', `/networks/${encodeURIComponent(id)}`);
  }

  createNetwork(body: CreateNetworkBody): Promise<{ Id: string; Warning?: string }> {
    return this.call('POST', '/networks/create', body);
  }

  async removeNetwork(id: string): Promise<void> {
    await this.call<unknown>('DELETE', `/networks/${encodeURIComponent(id)}`);
  }
}
