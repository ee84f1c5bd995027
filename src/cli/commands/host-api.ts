// The /v1/hosts calls of the management API, over the CLI's ApiClient (src/api/types.ts).

import type { HostInspectView, HostView } from '../../api/types.js';
import type { ApiClient } from '../client.js';

export function listHosts(client: ApiClient): Promise<HostView[]> {
  return client.request('GET', '/v1/hosts');
}

export function inspectHost(client: ApiClient, ref: string): Promise<HostInspectView> {
  return client.request('GET', `/v1/hosts/${encodeURIComponent(ref)}`);
}

export function removeHost(client: ApiClient, ref: string, force: boolean): Promise<HostView> {
  // force travels in the query (the documented form) and in the body, which every weftd reads.
  const path = `/v1/hosts/${encodeURIComponent(ref)}${force ? '?force=1' : ''}`;
  return client.request('DELETE', path, force ? { force: true } : undefined);
}

/** A host is named by its id or its hostname: one path segment, no control characters. */
export function isHostRef(ref: string): boolean {
  return ref.length > 0 && ref.length <= 255 && !/[\0-\x1f\x7f/]/.test(ref) && ref !== '.' && ref !== '..';
}
