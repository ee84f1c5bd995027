// The management API routes (src/api/types.ts), one method each, typed with its wire shapes.

import type { ConnectBody, CreateNetworkBody, DisconnectBody, EndpointView, NetworkView, VersionView } from '../api/types.js';
import type { ApiClient } from './client.js';

const net = (idOrName: string) => `/v1/networks/${encodeURIComponent(idOrName)}`;

export class WeftApi {
  constructor(readonly client: ApiClient) {}

  version(): Promise<VersionView> {
    return this.client.request('GET', '/v1/version');
  }

  listNetworks(): Promise<NetworkView[]> {
    return this.client.request('GET', '/v1/networks');
  }

  createNetwork(body: CreateNetworkBody): Promise<NetworkView> {
    return this.client.request('POST', '/v1/networks', body);
  }

  inspectNetwork(idOrName: string): Promise<NetworkView> {
    return this.client.request('GET', net(idOrName));
  }

  async removeNetwork(idOrName: string): Promise<void> {
    await this.client.request('DELETE', net(idOrName));
  }

  connect(idOrName: string, body: ConnectBody): Promise<EndpointView> {
    return this.client.request('POST', `${net(idOrName)}/connect`, body);
  }

  async disconnect(idOrName: string, body: DisconnectBody): Promise<void> {
    await this.client.request('POST', `${net(idOrName)}/disconnect`, body);
  }
}
