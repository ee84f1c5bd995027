// Records across the two stores (docs/overlay.md): networks of drivers whose networks span the
// cluster (overlay: `globalNetworks` on the driver) live in the cluster store, so `weft network
// ls` on every host lists them; every other network, and every endpoint (an endpoint belongs to
// one host), lives in the host's embedded store. Names are unique across both.

import type { Store } from '../store/store.js';
import type { DriverName, NetworkRecord } from '../model/network.js';
import { keys, Records } from './records.js';

export class ScopedRecords extends Records {
  private readonly global: Records;

  constructor(
    private readonly localStore: Store,
    global: Store,
    /** True for drivers whose networks live in the cluster store. */
    private readonly isGlobal: (driver: DriverName) => boolean,
  ) {
    super(localStore);
    this.global = new Records(global);
  }

  override async network(id: string): Promise<NetworkRecord | undefined> {
    return (await super.network(id)) ?? (await this.global.network(id));
  }

  override async networkIdByName(name: string): Promise<string | undefined> {
    return (await super.networkIdByName(name)) ?? (await this.global.networkIdByName(name));
  }

  override async networks(): Promise<NetworkRecord[]> {
    const [a, b] = await Promise.all([super.networks(), this.global.networks()]);
    return [...a, ...b];
  }

  override async createNetwork(net: NetworkRecord): Promise<boolean> {
    if (!this.isGlobal(net.driver)) {
      // A local name must not shadow a cluster one (the reverse is checked by the local CAS).
      if (await this.global.networkIdByName(net.name)) return false;
      return super.createNetwork(net);
    }
    if (await super.networkIdByName(net.name)) return false;
    return this.global.createNetwork(net);
  }

  override async putNetwork(net: NetworkRecord): Promise<void> {
    if (!this.isGlobal(net.driver)) return super.putNetwork(net);
    await this.global.putNetwork(net);
  }

  override async deleteNetwork(net: NetworkRecord): Promise<void> {
    if (!this.isGlobal(net.driver)) return super.deleteNetwork(net);
    await this.global.deleteNetwork(net);
    // This host's endpoint records of the network (the global delete cleared the cluster's copy of the prefix).
    await this.localStore.txn({ compares: [], success: [{ type: 'deletePrefix', prefix: keys.endpointsOf(net.id) }] });
    this.sandboxes.networkDeleted(net.id);
  }
}
