// nftables for overlay networks (docs/overlay.md), in tables `weft-overlay` of the bridge and inet
// families, written whole in one `nft -f` transaction on every change (a few rules per network
// with local endpoints on this host):
// - the distributed gateway's guard (bridge family): every host's overlay bridge carries the same
//   gateway address and MAC, so nothing about the gateway may cross the VXLAN port, or hosts would
//   answer each other's ARP and learn the gateway MAC on the tunnel;
// - egress (inet family): containers leave through their own host, masqueraded; --internal
//   networks get no traffic in or out of their bridge;
// - published ports (inet family): DNAT on the endpoint's own host, as on bridge networks.
// Kept apart from the `weft` tables of src/sys/nftables: the bridge driver re-syncs those from
// bridge networks alone (start-up and its periodic drift repair), which would drop overlay entries.

import { isIPv4, isIPv6 } from 'node:net';
import { ErrorCodes, WeftError } from '../model/errors.js';
import type { CommandRunner } from './exec.js';
import { checkIfName, checkMac } from './link-ops.js';
import { DEFAULT_MARK } from './nftables/schema.js';

export const OVERLAY_TABLE = 'weft-overlay';

/** A published port of an overlay endpoint, DNATed on the endpoint's own host. */
export interface OverlayPort {
  proto: 'tcp' | 'udp' | 'sctp';
  family: 4 | 6;
  /** '' = every local address of that family. */
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

export interface GatewayGuard {
  /** The network's bridge on this host. */
  bridge: string;
  /** The VXLAN port of the network's bridge. */
  vxlan: string;
  subnetsV4: string[];
  subnetsV6: string[];
  internal: boolean;
  gatewayMac: string;
  gatewayV4?: string;
  gatewayV6?: string;
}

/** ff02::1:ffXX:XXXX, where neighbour solicitations for `ip` go. */
export function solicitedNode(ip: string): string {
  const groups = expandV6(ip);
  const last = groups.slice(6).map((g) => g.padStart(4, '0')).join('');
  return `ff02::1:ff${last.slice(2, 4)}:${last.slice(4, 8)}`;
}

function expandV6(ip: string): string[] {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  if (tail === undefined) return h;
  return [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
}

/** Creating then deleting makes the delete succeed whether or not the tables existed. */
const CLEAR =
  `table bridge ${OVERLAY_TABLE} {}\ndelete table bridge ${OVERLAY_TABLE}\n` + `table inet ${OVERLAY_TABLE} {}\ndelete table inet ${OVERLAY_TABLE}\n`;

function checkPort(p: OverlayPort): void {
  const okIp = (ip: string, fam: 4 | 6) => (fam === 4 ? isIPv4(ip) : isIPv6(ip));
  if (!['tcp', 'udp', 'sctp'].includes(p.proto)) throw new WeftError(ErrorCodes.INVALID_OPTION, `protocol ${p.proto} is not tcp, udp or sctp`);
  for (const n of [p.hostPort, p.containerPort]) {
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new WeftError(ErrorCodes.INVALID_OPTION, `port ${n} is not valid`);
  }
  if (!okIp(p.containerIp, p.family) || (p.hostIp !== '' && !okIp(p.hostIp, p.family))) {
    throw new WeftError(ErrorCodes.INVALID_ADDRESS, `published port ${p.hostIp}:${p.hostPort} -> ${p.containerIp}:${p.containerPort} mixes families or is not an address`);
  }
}

/** One DNAT rule per published port (jumped to for packets addressed to this host). */
function dnatRule(p: OverlayPort): string {
  checkPort(p);
  const nf = p.family === 4 ? 'ip' : 'ip6';
  const dst = p.hostIp === '' || p.hostIp === '0.0.0.0' || p.hostIp === '::' ? `meta nfproto ipv${p.family}` : `${nf} daddr ${p.hostIp}`;
  const to = p.family === 4 ? `${p.containerIp}:${p.containerPort}` : `[${p.containerIp}]:${p.containerPort}`;
  return `${dst} meta l4proto ${p.proto} th dport ${p.hostPort} dnat ${nf} to ${to}`;
}

export function renderOverlayFilter(guards: GatewayGuard[], ports: OverlayPort[] = []): string {
  const pre: string[] = [];
  const fwd: string[] = [];
  const out: string[] = [];
  const nat: string[] = [];
  const ifwd: string[] = [];
  // Accepts come after every isolation drop (an accept ends this chain for the packet). They set
  // weft's mark: where Docker runs, its iptables FORWARD chain (policy DROP) comes after this one,
  // and weft's one DOCKER-USER rule accepts marked packets (src/sys/nftables/docker-user.ts).
  const ifwdAccept: string[] = [];
  const accept = `meta mark set meta mark | 0x${DEFAULT_MARK.toString(16)} accept`;
  for (const g of guards) {
    checkIfName(g.vxlan, 'VXLAN device name');
    checkIfName(g.bridge, 'bridge name');
    for (const c of g.subnetsV4) if (!/^[0-9.]+\/\d+$/.test(c) || !isIPv4(c.split('/')[0]!)) throw new WeftError(ErrorCodes.INVALID_ADDRESS, `subnet ${c} is not IPv4`);
    for (const c of g.subnetsV6) if (!/^[0-9a-fA-F:]+\/\d+$/.test(c) || !isIPv6(c.split('/')[0]!)) throw new WeftError(ErrorCodes.INVALID_ADDRESS, `subnet ${c} is not IPv6`);
    const br = `"${g.bridge}"`;
    // Overlay networks are isolated from each other and from bridge networks (wf-*), also when
    // both have a bridge on this host (routing between them through the gateways would join them).
    ifwd.push(`oifname ${br} iifname "wfo*" iifname != ${br} drop`, `oifname ${br} iifname "wf-*" drop`);
    if (g.internal) {
      ifwd.push(`iifname ${br} oifname != ${br} drop`, `oifname ${br} iifname != ${br} drop`);
      ifwdAccept.push(`iifname ${br} oifname ${br} ${accept}`);
    } else {
      for (const c of g.subnetsV4) nat.push(`ip saddr ${c} oifname != ${br} masquerade`);
      ifwdAccept.push(`iifname ${br} ${accept}`, `oifname ${br} ct state established,related ${accept}`, `oifname ${br} ct status dnat ${accept}`);
    }
    checkMac(g.gatewayMac);
    if (g.gatewayV4 !== undefined && !isIPv4(g.gatewayV4)) throw new WeftError(ErrorCodes.INVALID_ADDRESS, `gateway ${g.gatewayV4} is not IPv4`);
    if (g.gatewayV6 !== undefined && !isIPv6(g.gatewayV6)) throw new WeftError(ErrorCodes.INVALID_ADDRESS, `gateway ${g.gatewayV6} is not IPv6`);
    const vx = `"${g.vxlan}"`;
    // Arriving from the tunnel: drop before the bridge learns the source MAC (prerouting runs first).
    pre.push(`iifname ${vx} ether saddr ${g.gatewayMac} drop`);
    if (g.gatewayV4) pre.push(`iifname ${vx} arp daddr ip ${g.gatewayV4} drop`);
    if (g.gatewayV6) pre.push(`iifname ${vx} ip6 daddr ${solicitedNode(g.gatewayV6)} icmpv6 type nd-neighbor-solicit drop`);
    // Leaving into the tunnel: a container asking for the gateway, or the gateway itself talking.
    if (g.gatewayV4) fwd.push(`oifname ${vx} arp daddr ip ${g.gatewayV4} drop`);
    if (g.gatewayV6) fwd.push(`oifname ${vx} ip6 daddr ${solicitedNode(g.gatewayV6)} icmpv6 type nd-neighbor-solicit drop`);
    fwd.push(`oifname ${vx} ether saddr ${g.gatewayMac} drop`);
    out.push(`oifname ${vx} ether saddr ${g.gatewayMac} drop`);
  }
  const chain = (name: string, hook: string, rules: string[]) =>
    `  chain ${name} {\n    type filter hook ${hook} priority -200; policy accept;\n${rules.map((r) => `    ${r}\n`).join('')}  }\n`;
  const natChain = `  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n${nat.map((r) => `    ${r}\n`).join('')}  }\n`;
  const fwdChain = `  chain forward {\n    type filter hook forward priority -5; policy accept;\n${[...ifwd, ...ifwdAccept].map((r) => `    ${r}\n`).join('')}  }\n`;
  const dnat = ports.map(dnatRule);
  const natHooks = ['prerouting', 'output']
    .map((h) => `  chain nat-${h} {\n    type nat hook ${h} priority -100; policy accept;\n    fib daddr type local jump published\n  }\n`)
    .join('');
  const publishedChain = `  chain published {\n${dnat.map((r) => `    ${r}\n`).join('')}  }\n`;
  return (
    CLEAR +
    `table bridge ${OVERLAY_TABLE} {\n${chain('prerouting', 'prerouting', pre)}${chain('forward', 'forward', fwd)}${chain('output', 'output', out)}}\n` +
    `table inet ${OVERLAY_TABLE} {\n${natChain}${fwdChain}${publishedChain}${natHooks}}\n`
  );
}

/** Replaces the table with the rules for `guards`; with none, removes the table. */
export async function syncOverlayFilter(runner: CommandRunner, guards: GatewayGuard[], ports: OverlayPort[] = []): Promise<void> {
  const text = guards.length ? renderOverlayFilter(guards, ports) : CLEAR;
  await runner.run(['nft', '-f', '-'], { input: text });
}
