// The firewall port: what the bridge driver wants from the packet filter, as data. The driver
// (and the reconciler) describe the desired state; an implementation (NftFirewall, in
// src/sys/nftables) makes the kernel match it. docs/firewall.md explains the rules.

/** One bridge network as the firewall sees it. */
export interface FirewallNetwork {
  /** The network's id (hex); keys port mappings to their network. Never written into nft text. */
  id: string;
  /** The Linux bridge of the network (an interface name). */
  bridge: string;
  /** Canonical CIDRs (network address, host bits zero). */
  subnetsV4: string[];
  subnetsV6: string[];
  /** Containers on this bridge may talk to each other (Docker's enable_icc). */
  icc: boolean;
  /** Masquerade IPv4 traffic from the subnets that leaves through a non-weft interface. */
  masquerade: boolean;
  /** The same for IPv6 (NAT66), off by default in Docker. */
  masqueradeV6: boolean;
  /** No traffic between the bridge and anything outside it (Docker's --internal). */
  internal: boolean;
  /**
   * Default host IP for IPv4 mappings that name none (Docker's host_binding_ipv4). Unset or
   * '0.0.0.0' = every local address.
   */
  hostBindingIpv4?: string;
}

/**
 * One published port: `hostIp:hostPort/proto` on the host is DNATed to `containerIp:containerPort`.
 * (Named apart from model/network.ts PortMapping, which is the user's request with ranges; the
 * driver expands a range into one FirewallPortMapping per port.)
 */
export interface FirewallPortMapping {
  networkId: string;
  proto: 'tcp' | 'udp' | 'sctp';
  family: 4 | 6;
  /** '' (or 0.0.0.0 / ::) = every local address of that family. */
  hostIp?: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

/** The name the bridge driver imports. */
export type PortMapping = FirewallPortMapping;

export interface FirewallState {
  networks: FirewallNetwork[];
  ports: FirewallPortMapping[];
}

export interface Firewall {
  /** Makes the kernel match the whole state in ONE transaction (start-up, reconcile, after a flush). */
  sync(state: FirewallState): Promise<void>;
  /** Incremental changes: each is ONE transaction that only adds or deletes set/map elements. */
  addNetwork(n: FirewallNetwork): Promise<void>;
  /** Also removes any port mapping of the network that is still published. */
  removeNetwork(n: FirewallNetwork): Promise<void>;
  /** A network must be known (sync or addNetwork) before its ports are added. */
  addPorts(p: FirewallPortMapping[]): Promise<void>;
  /** Also deletes the conntrack entries of those mappings; mappings already gone count as removed. */
  removePorts(p: FirewallPortMapping[]): Promise<void>;
  /** True when weft's tables, chains, sets or its DOCKER-USER rule differ from `state`. */
  drifted(state: FirewallState): Promise<boolean>;
  /** Element by element (for `weft check`): set/map elements the kernel holds that `state` does not
   *  name, and those `state` names that the kernel lacks. */
  elementDiff?(state: FirewallState): Promise<{ extra: { set: string; element: string }[]; missing: { set: string; element: string }[] }>;
  /** Removes weft's tables (weft-user included) and its DOCKER-USER rules: uninstall and tests. */
  teardown(): Promise<void>;
}

export const FirewallToken = Symbol.for('weft.Firewall');
