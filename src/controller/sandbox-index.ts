// Which endpoint of a network is in which sandbox, in memory: "is this namespace connected to this
// network already?" without listing (and parsing) every endpoint record of the network on each
// connect and disconnect. With 1,000 endpoints that list was the cost that grew with the network
// (issue 8, flat cost) and was paid inside the network's lock.
//
// It is a cache of the store, built per network on first use from one list, and kept current by
// Records, through which every endpoint write of this weftd goes (endpoint records live in the
// local store: one weftd per store). A write that lands while a network's map is being built marks
// it stale, and the next lookup builds it again.

import type { EndpointRecord } from '../model/network.js';

interface NetIndex {
  bySandbox: Map<string, string>;
  stale: boolean;
}

export class SandboxIndex {
  private readonly nets = new Map<string, NetIndex>();
  /** Networks whose map is being built (one build at a time per network). */
  private readonly building = new Map<string, Promise<void>>();

  constructor(private readonly list: (networkId: string) => Promise<EndpointRecord[]>) {}

  /** The endpoint id in `sandboxPath` on the network, if any. */
  async lookup(networkId: string, sandboxPath: string): Promise<string | undefined> {
    for (;;) {
      const have = this.nets.get(networkId);
      if (have && !have.stale) return have.bySandbox.get(sandboxPath);
      const running = this.building.get(networkId);
      if (running) {
        await running;
        continue;
      }
      const build = this.build(networkId);
      this.building.set(networkId, build);
      try {
        await build;
      } finally {
        this.building.delete(networkId);
      }
    }
  }

  private async build(networkId: string): Promise<void> {
    this.nets.delete(networkId);
    const eps = await this.list(networkId);
    const fresh: NetIndex = { bySandbox: new Map(), stale: false };
    for (const ep of eps) if (ep.sandbox) fresh.bySandbox.set(ep.sandbox.path, ep.id);
    // A write during the list left a stale marker: this list may have missed it; the caller's
    // loop builds again.
    if (this.nets.get(networkId)?.stale !== true) this.nets.set(networkId, fresh);
  }

  /** An endpoint record was written (created or replaced; `before` is what it replaced, if known). */
  written(ep: EndpointRecord, before?: EndpointRecord): void {
    const idx = this.touch(ep.networkId);
    if (!idx) return;
    if (before?.sandbox && before.sandbox.path !== ep.sandbox?.path && idx.bySandbox.get(before.sandbox.path) === ep.id) idx.bySandbox.delete(before.sandbox.path);
    if (ep.sandbox) idx.bySandbox.set(ep.sandbox.path, ep.id);
    else for (const [p, id] of idx.bySandbox) if (id === ep.id) idx.bySandbox.delete(p);
  }

  deleted(networkId: string, endpointId: string): void {
    const idx = this.touch(networkId);
    if (!idx) return;
    for (const [p, id] of idx.bySandbox) if (id === endpointId) idx.bySandbox.delete(p);
  }

  networkDeleted(networkId: string): void {
    this.nets.delete(networkId);
    if (this.building.has(networkId)) this.nets.set(networkId, { bySandbox: new Map(), stale: true });
  }

  /** The map to update, or undefined when there is none yet (it will be built from the store). */
  private touch(networkId: string): NetIndex | undefined {
    if (this.building.has(networkId)) {
      this.nets.set(networkId, { bySandbox: new Map(), stale: true });
      return undefined;
    }
    return this.nets.get(networkId);
  }
}
