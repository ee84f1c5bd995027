// Where CNM records live in the store, and typed access to them. One place for the key layout:
//
//   networks/<id>                  NetworkRecord
//   network-names/<name>           { id }          (unique names; written in the same txn as the record)
//   endpoints/<networkId>/<epId>   EndpointRecord

import type { Store, TxnOp } from '../store/store.js';
import type { AlongsideWrite } from '../ipam/ipam.js';
import type { EndpointRecord, NetworkRecord } from '../model/network.js';
import { SandboxIndex } from './sandbox-index.js';

export const keys = {
  network: (id: string) => `networks/${id}`,
  networkName: (name: string) => `network-names/${name}`,
  endpoint: (networkId: string, endpointId: string) => `endpoints/${networkId}/${endpointId}`,
  endpointsOf: (networkId: string) => `endpoints/${networkId}/`,
  networks: 'networks/',
  endpoints: 'endpoints/',
};

export class Records {
  /** Endpoint by sandbox, per network, kept current by the endpoint writes below. */
  readonly sandboxes: SandboxIndex;

  constructor(private readonly store: Store) {
    this.sandboxes = new SandboxIndex((networkId) => this.endpoints(networkId));
  }

  /** The endpoint of the network whose sandbox is at `path`, if any. */
  async endpointBySandbox(networkId: string, path: string): Promise<EndpointRecord | undefined> {
    const id = await this.sandboxes.lookup(networkId, path);
    const ep = id ? await this.endpoint(networkId, id) : undefined;
    return ep?.sandbox?.path === path ? ep : undefined;
  }

  async network(id: string): Promise<NetworkRecord | undefined> {
    return (await this.store.get<NetworkRecord>(keys.network(id)))?.value;
  }

  async networkIdByName(name: string): Promise<string | undefined> {
    return (await this.store.get<{ id: string }>(keys.networkName(name)))?.value.id;
  }

  async networks(): Promise<NetworkRecord[]> {
    return (await this.store.list<NetworkRecord>(keys.networks)).map((kv) => kv.value);
  }

  async endpoint(networkId: string, endpointId: string): Promise<EndpointRecord | undefined> {
    return (await this.store.get<EndpointRecord>(keys.endpoint(networkId, endpointId)))?.value;
  }

  async endpoints(networkId?: string): Promise<EndpointRecord[]> {
    const prefix = networkId ? keys.endpointsOf(networkId) : keys.endpoints;
    return (await this.store.list<EndpointRecord>(prefix)).map((kv) => kv.value);
  }

  /** Creates a network and its name index atomically; false when the id or the name is taken. */
  async createNetwork(net: NetworkRecord): Promise<boolean> {
    const r = await this.store.txn({
      compares: [
        { key: keys.network(net.id), revision: 0 },
        { key: keys.networkName(net.name), revision: 0 },
      ],
      success: [
        { type: 'put', key: keys.network(net.id), value: net },
        { type: 'put', key: keys.networkName(net.name), value: { id: net.id } },
      ],
    });
    return r.succeeded;
  }

  /** Rewrites an existing network record (same id and name). */
  async putNetwork(net: NetworkRecord): Promise<void> {
    await this.store.put(keys.network(net.id), net);
  }

  async deleteNetwork(net: NetworkRecord): Promise<void> {
    const ops: TxnOp[] = [
      { type: 'delete', key: keys.network(net.id) },
      { type: 'delete', key: keys.networkName(net.name) },
      { type: 'deletePrefix', prefix: keys.endpointsOf(net.id) },
    ];
    await this.store.txn({ compares: [], success: ops });
    this.sandboxes.networkDeleted(net.id);
  }

  /** Creates an endpoint record; false when one with that id exists. */
  async createEndpoint(ep: EndpointRecord): Promise<boolean> {
    const r = await this.store.txn({
      compares: [{ key: keys.endpoint(ep.networkId, ep.id), revision: 0 }],
      success: [{ type: 'put', key: keys.endpoint(ep.networkId, ep.id), value: ep }],
    });
    if (r.succeeded) this.sandboxes.written(ep);
    return r.succeeded;
  }

  /**
   * A new endpoint record written in the IPAM's transaction for its address (AddressRequest.
   * alongside): one durable commit instead of two, and no moment where the address is taken with
   * no record naming it. `recordFor` gets the address taken. When the IPAM answers wroteAlongside,
   * call createdAlongside with the record.
   */
  endpointAlongside(recordFor: (address: string) => EndpointRecord): AlongsideWrite {
    return {
      store: this.store,
      write: (address) => {
        const ep = recordFor(address);
        const key = keys.endpoint(ep.networkId, ep.id);
        return { ops: [{ type: 'put', key, value: ep }], compares: [{ key, revision: 0 }] };
      },
    };
  }

  /** The IPAM wrote `ep` with its address (endpointAlongside). */
  createdAlongside(ep: EndpointRecord): void {
    this.sandboxes.written(ep);
  }

  async putEndpoint(ep: EndpointRecord): Promise<void> {
    const before = await this.endpoint(ep.networkId, ep.id);
    await this.store.put(keys.endpoint(ep.networkId, ep.id), ep);
    this.sandboxes.written(ep, before);
  }

  async deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    await this.store.delete(keys.endpoint(networkId, endpointId));
    this.sandboxes.deleted(networkId, endpointId);
  }
}
