// Which weft network each of this host's Docker networks stands for. Docker 20.10 keeps a remote
// network per engine (protocol §7): `docker network create -d weft-overlay -o weft.network=NAME`
// on h1 and the copy docker-sync makes on h2 get different NetworkIDs, and both are the one
// cluster network NAME. A binding maps a Docker NetworkID to that network's weft id; it lives in
// the host's embedded store (the NetworkID means nothing on other hosts).
//
// Claims tie the IPAM call to the driver call of one `docker network create`: RequestPool with
// --ipam-opt weft.network=NAME leaves a claim for (NAME, pool), and CreateNetwork takes it. A
// CreateNetwork without one got its addresses elsewhere (Docker's default IPAM, or weft's without
// the option), which would hand out duplicates across hosts, and is refused. Claims are in memory:
// both calls of one create reach the same weftd within a second.

import type { Store } from '../store/store.js';

export interface DockerBinding {
  /** The Docker engine's NetworkID on this host. */
  dockerId: string;
  /** The weft network (cluster store) it stands for. */
  networkId: string;
  /** The cluster network's name (its -o weft.network identity). */
  name: string;
  boundAt: string;
}

const PREFIX = 'docker/overlay-bindings/';
const CLAIM_TTL_MS = 120_000;

/** How long a Docker network whose binding Docker's DeleteNetwork dropped is treated as going away. */
const DROPPED_TTL_MS = 60_000;

export class DockerBindings {
  private readonly claims = new Map<string, number[]>();
  /** Docker NetworkIDs whose DeleteNetwork came in: the engine is removing them. */
  private readonly droppedIds = new Map<string, number>();
  private readonly dropListeners: Array<() => void> = [];

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  async get(dockerId: string): Promise<DockerBinding | undefined> {
    return (await this.store.get<DockerBinding>(PREFIX + dockerId))?.value;
  }

  async put(b: Omit<DockerBinding, 'boundAt'>): Promise<DockerBinding> {
    const rec: DockerBinding = { ...b, boundAt: new Date(this.now()).toISOString() };
    await this.store.put(PREFIX + b.dockerId, rec);
    return rec;
  }

  async delete(dockerId: string): Promise<void> {
    await this.store.delete(PREFIX + dockerId);
  }

  /** Docker's DeleteNetwork for this NetworkID: unbinds it, remembers that the engine is removing
   *  it (so nothing binds it again while it is still listed), and tells the listeners. */
  async drop(dockerId: string): Promise<void> {
    await this.delete(dockerId);
    this.droppedIds.set(dockerId, this.now() + DROPPED_TTL_MS);
    for (const l of this.dropListeners) l();
  }

  /** NetworkIDs dropped within the last minute. */
  dropped(): Set<string> {
    for (const [id, until] of this.droppedIds) if (until <= this.now()) this.droppedIds.delete(id);
    return new Set(this.droppedIds.keys());
  }

  /** Called (synchronously) after every drop(); listeners must only schedule work. */
  onDrop(listener: () => void): void {
    this.dropListeners.push(listener);
  }

  async list(): Promise<DockerBinding[]> {
    return (await this.store.list<DockerBinding>(PREFIX)).map((kv) => kv.value);
  }

  /** The weft network id a Docker NetworkID stands for; unbound ids are weft ids already. */
  async resolve(dockerId: string): Promise<string> {
    return (await this.get(dockerId))?.networkId ?? dockerId;
  }

  claim(name: string, pool: string): void {
    // Claims of creates that never came (refused, or rolled back before CreateNetwork) expire here.
    for (const [k, times] of this.claims) if (times.every((t) => t <= this.now())) this.claims.delete(k);
    const key = `${name} ${pool}`;
    const live = (this.claims.get(key) ?? []).filter((t) => t > this.now());
    this.claims.set(key, [...live, this.now() + CLAIM_TTL_MS]);
  }

  hasClaim(name: string, pool: string): boolean {
    return (this.claims.get(`${name} ${pool}`) ?? []).some((t) => t > this.now());
  }

  /** Takes one live claim for every pool, or none when any is missing. */
  takeClaims(name: string, pools: string[]): boolean {
    if (!pools.every((p) => this.hasClaim(name, p))) return false;
    for (const p of pools) {
      const key = `${name} ${p}`;
      const live = (this.claims.get(key) ?? []).filter((t) => t > this.now());
      live.shift();
      if (live.length) this.claims.set(key, live);
      else this.claims.delete(key);
    }
    return true;
  }
}
