// The Ipam that Docker's IpamDriver calls reach: weft's own, except that every pool request is
// marked deferL2Domain. Docker asks for a pool (RequestPool) before it creates the network with
// its driver, and shows the IPAM neither the driver nor `-o parent` (docker-plugin-protocol.md
// §3), so the pool's L2 domain is not known yet: the controller binds the pool to its driver's
// domain at CreateNetwork (docs/ipam.md, "Binding Docker's pools"). Kept here, at the
// composition, so that neither the plugin handlers nor the IPAM need to know who is calling.

import type { AddressInfo, AddressRequest, Allocation, Ipam, PoolBindRequest, PoolInfo, PoolRequest, PoolUsage } from './ipam.js';

export class DockerIpam implements Ipam {
  constructor(private readonly inner: Ipam) {}

  defaultAddressSpaces(): { local: string; global: string } {
    return this.inner.defaultAddressSpaces();
  }

  requestPool(req: PoolRequest): Promise<PoolInfo> {
    return this.inner.requestPool({ ...req, deferL2Domain: true });
  }

  releasePool(poolId: string): Promise<void> {
    return this.inner.releasePool(poolId);
  }

  requestAddress(req: AddressRequest): Promise<AddressInfo> {
    return this.inner.requestAddress(req);
  }

  releaseAddress(poolId: string, address: string): Promise<void> {
    return this.inner.releaseAddress(poolId, address);
  }

  getPool(poolId: string): Promise<PoolInfo | undefined> {
    return this.inner.getPool(poolId);
  }

  listPools(): Promise<PoolInfo[]> {
    return this.inner.listPools();
  }

  allocations(poolId: string): Promise<Allocation[]> {
    return this.inner.allocations(poolId);
  }

  usage(poolId: string): Promise<PoolUsage> {
    return this.inner.usage(poolId);
  }

  nameNetwork(poolId: string, network: string): Promise<void> {
    return this.inner.nameNetwork(poolId, network);
  }

  bindPool(poolId: string, bind: PoolBindRequest): Promise<PoolInfo> {
    return this.inner.bindPool(poolId, bind);
  }
}
