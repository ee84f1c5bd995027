// Kernel names of a macvlan network's objects: `wf` + a letter + the first 12 of an id, within
// IFNAMSIZ (15), stable across restarts.

/** An endpoint's macvlan: created in the host namespace for Docker to move (its SrcName), or
 *  directly in the sandbox for weft's own connect; renamed eth<N> there either way. */
export const endpointLinkOf = (endpointId: string): string => `wfv${endpointId.slice(0, 12)}`;

/** The weft-owned bridge that is the lower device of an --internal network without a parent
 *  (this kernel has no `dummy` links). */
export const internalLowerOf = (networkId: string): string => `wfl${networkId.slice(0, 12)}`;

/** The host_access shim: a bridge-mode macvlan on the parent, in the host namespace. */
export const shimOf = (networkId: string): string => `wfs${networkId.slice(0, 12)}`;

/** Docker's macvlan MAC scheme (libnetwork GenerateMACFromIP): 02:42 + the IPv4 address. */
export function macFromIpv4(ip: string): string {
  const octets = ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'));
  return ['02', '42', ...octets].join(':');
}

export function randomLocalMac(): string {
  const bytes = Array.from({ length: 5 }, () => Math.floor(Math.random() * 256));
  return ['02', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
