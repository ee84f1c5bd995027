// Injection tokens of cluster-wide services (the composition root in src/daemon binds them).

/** The cluster store: etcd with --store etcd://, else the same embedded store as StoreToken. */
export const ClusterStoreToken = Symbol.for('weft.ClusterStore');
/** This host's id (--host-id, or the one kept in the state dir). */
export const HostIdToken = Symbol.for('weft.HostId');
