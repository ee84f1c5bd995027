// Kernel names and derived values of an overlay network's objects. Names start with `wf` and fit
// IFNAMSIZ (15); endpoint veths share the bridge driver's names (endpoint ids are unique).

export { hostVethOf, peerVethOf, macFromIpv4 } from '../bridge/names.js';

/** The network's bridge on a host: wfo<first 12 of the network id>. */
export const overlayBridgeOf = (networkId: string): string => `wfo${networkId.slice(0, 12)}`;

/** The network's VXLAN device on a host. */
export const vxlanDeviceOf = (networkId: string): string => `wfx${networkId.slice(0, 12)}`;

/** The distributed gateway's MAC: the same on every host, derived from the VNI (02:57:46 = "WF",
 *  locally administered, apart from endpoint MACs 02:42:<IPv4>). */
export function gatewayMacOf(vni: number): string {
  const b = [(vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff];
  return ['02', '57', '46', ...b.map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

/** VXLAN over IPv4 adds 50 bytes (outer Ethernet 14 is not counted in the MTU: IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14). */
export const VXLAN_OVERHEAD = 50;
