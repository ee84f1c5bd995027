// One Ipam over two stores: the `local` address space lives in the host's embedded store and the
// `global` one in the cluster store (etcd). A host's bridge and macvlan networks then keep
// working, and keep their addresses, while etcd is unreachable; only overlay allocation needs it.
// Pool ids start with their space (`local/10.1.0.0/24`, `global/...`), so every later call
// finds its way back without a lookup.

import type { AddressInfo, AddressRequest, Allocation, Ipam, PoolBindRequest, PoolInfo, PoolRequest, PoolUsage } from './ipam.js';

export class SpaceRouter implements Ipam {
  constructor(
    private readonly local: Ipam,
    private readonly global: Ipam,
  ) {}

  private byPool(poolId: string): Ipam {
    return poolId.startsWith(`${this.global.defaultAddressSpaces().global}/`) ? this.global : this.local;
  }

  defaultAddressSpaces(): { local: string; global: string } {
    return this.local.defaultAddressSpaces();
  }

  requestPool(req: PoolRequest): Promise<PoolInfo> {
    // Unknown spaces go to the local instance, which refuses them with its own clear error.
    return (req.addressSpace === this.defaultAddressSpaces().global ? this.global : this.local).requestPool(req);
  }

  releasePool(poolId: string): Promise<void> {
    return this.byPool(poolId).releasePool(poolId);
  }

  requestAddress(req: AddressRequest): Promise<AddressInfo> {
    return this.byPool(req.poolId).requestAddress(req);
  }

  releaseAddress(poolId: string, address: string): Promise<void> {
    return this.byPool(poolId).releaseAddress(poolId, address);
  }

  getPool(poolId: string): Promise<PoolInfo | undefined> {
    return this.byPool(poolId).getPool(poolId);
  }

  async listPools(): Promise<PoolInfo[]> {
    const [a, b] = await Promise.all([this.local.listPools(), this.global.listPools()]);
    return [...a, ...b.filter((p) => p.addressSpace === this.defaultAddressSpaces().global)];
  }

  allocations(poolId: string): Promise<Allocation[]> {
    return this.byPool(poolId).allocations(poolId);
  }

  usage(poolId: string): Promise<PoolUsage> {
    return this.byPool(poolId).usage(poolId);
  }

  nameNetwork(poolId: string, network: string): Promise<void> {
    return this.byPool(poolId).nameNetwork(poolId, network);
  }

  bindPool(poolId: string, bind: PoolBindRequest): Promise<PoolInfo> {
    return this.byPool(poolId).bindPool(poolId, bind);
  }
}
