// The sysctls weft's firewall relies on, per network. The driver applies them once the bridge
// exists (the per-interface keys need it), through the Sysctl port (src/sys/sysctl.ts), so they
// land in the namespace that port works in (weftd's own; a test's named namespace).
//
// Not here on purpose: net.bridge.bridge-nf-call-iptables. weft's rules work with br_netfilter
// on and off (schema.ts), and the sysctl changes every bridge of the namespace, not only weft's.

import type { FirewallNetwork } from '../firewall.js';
import type { Sysctl } from '../sysctl.js';
import { checkNetwork } from './validate.js';

export interface SysctlSetting {
  /** Slash-separated (net/ipv4/conf/br.0/route_localnet), so a '.' in an interface name is unambiguous. */
  key: string;
  value: string;
  why: string;
}

export function firewallSysctls(network: FirewallNetwork): SysctlSetting[] {
  const n = checkNetwork(network);
  const out: SysctlSetting[] = [];
  if (n.v4.length > 0 && !n.internal) {
    out.push({ key: 'net/ipv4/ip_forward', value: '1', why: 'route between the bridge and other interfaces' });
  }
  if (n.v4.length > 0) {
    // DNAT from 127.0.0.1 to a container leaves with a 127.0.0.1 source until masquerade rewrites
    // it; without route_localnet the kernel refuses to route it (and the reply) on the bridge.
    // weft's localnet-guard chain drops anything from the bridge to 127/8, which this would otherwise allow.
    out.push({ key: `net/ipv4/conf/${n.bridge}/route_localnet`, value: '1', why: 'published ports reachable on 127.0.0.1' });
  }
  if (n.v6.length > 0 && !n.internal) {
    // Note: with forwarding on, the kernel ignores router advertisements unless accept_ra=2.
    out.push({ key: 'net/ipv6/conf/all/forwarding', value: '1', why: 'route IPv6 between the bridge and other interfaces' });
  }
  return out;
}

/** Writes the sysctls through the Sysctl port (dotted names: an interface with a '.' in its
 *  name stays one segment there, as sysctlPath reads the interface between conf. and the key). */
export async function applySysctls(sysctl: Sysctl, sysctls: SysctlSetting[]): Promise<void> {
  for (const s of sysctls) await sysctl.set(s.key.split('/').join('.'), s.value);
}
