// Kernel names of a bridge network's objects. Every name starts with `wf` and fits IFNAMSIZ (15),
// derived from ids so that they are unique and stable across restarts.

/** The bridge weft creates for a network: wf-<first 12 of the network id>. */
export const bridgeNameOf = (networkId: string): string => `wf-${networkId.slice(0, 12)}`;

/** Host end of an endpoint's veth (stays on the bridge). */
export const hostVethOf = (endpointId: string): string => `wfh${endpointId.slice(0, 12)}`;

/** Container end: Docker's SrcName; moved into the sandbox and renamed eth<N> there. */
export const peerVethOf = (endpointId: string): string => `wfc${endpointId.slice(0, 12)}`;

/** Docker's MAC scheme for bridge endpoints: 02:42 + the IPv4 address, so the MAC is stable for an address. */
export function macFromIpv4(ip: string): string {
  const octets = ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'));
  return ['02', '42', ...octets].join(':');
}
