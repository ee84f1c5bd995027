// What Iproute2LinkOps asks `ip` to do, as batch lines and argv arrays. Pure: inputs are already
// validated (link-ops.ts), and the tests compare these with expected text.

import { normalizeMac, type BridgeOptions, type LinkInfo, type MacvlanOptions, type VethOptions } from '../link-ops.js';
import type { BatchLine } from './batch.js';

const mtuWords = (mtu?: number): string[] => (mtu === undefined ? [] : ['mtu', String(mtu)]);
const hairpinWords = (hairpin?: boolean): string[] => (hairpin === undefined ? [] : ['type', 'bridge_slave', 'hairpin', hairpin ? 'on' : 'off']);

/** A new bridge: created with MTU and MAC, then marked and set up (the kernel ignores an alias
 *  given at creation, so it needs its own step). */
export function bridgeCreateLines(name: string, opts: BridgeOptions): BatchLine[] {
  return [
    ['link', 'add', 'name', name, ...mtuWords(opts.mtu), ...(opts.mac ? ['address', opts.mac] : []), 'type', 'bridge'],
    ['link', 'set', 'dev', name, ...(opts.alias ? ['alias', opts.alias] : []), 'up'],
  ];
}

/** An existing bridge: only what differs from `cur`; undefined when nothing does. */
export function bridgeUpdateLine(name: string, opts: BridgeOptions, cur: LinkInfo): BatchLine | undefined {
  const words = [
    ...(opts.mtu !== undefined && opts.mtu !== cur.mtu ? mtuWords(opts.mtu) : []),
    ...(opts.mac !== undefined && normalizeMac(opts.mac) !== cur.mac ? ['address', opts.mac] : []),
    ...(opts.alias !== undefined && opts.alias !== cur.alias ? ['alias', opts.alias] : []),
    ...(cur.up ? [] : ['up']),
  ];
  return words.length === 0 ? undefined : ['link', 'set', 'dev', name, ...words];
}

/**
 * A new veth pair, in one batch: both ends with the MTU, the host end on its bridge from birth
 * (IFLA_MASTER at creation), the peer with its MAC and left down (Docker, or the sandbox attach,
 * moves it and brings it up), then the host end marked, set up and given its hairpin mode.
 */
export function vethCreateLines(hostName: string, peerName: string, opts: VethOptions): BatchLine[] {
  return [
    [
      'link', 'add', 'name', hostName, ...mtuWords(opts.mtu), ...(opts.master ? ['master', opts.master] : []),
      'type', 'veth', 'peer', 'name', peerName, ...mtuWords(opts.mtu), ...(opts.peerMac ? ['address', opts.peerMac] : []),
      ...(opts.peerNetns ? ['netns', opts.peerNetns.name ?? opts.peerNetns.path] : []),
    ],
    ['link', 'set', 'dev', hostName, ...(opts.alias ? ['alias', opts.alias] : []), 'up', ...hairpinWords(opts.hairpin)],
  ];
}

/** An existing pair brought to `opts`. The peer is only touched while it is still in this
 *  namespace (`peerCur` given): once moved into a sandbox it belongs to the sandbox. */
export function vethUpdateLines(hostName: string, opts: VethOptions, hostCur: LinkInfo, peerCur?: LinkInfo): BatchLine[] {
  const lines: BatchLine[] = [];
  const hostWords = [
    ...(opts.mtu !== undefined && opts.mtu !== hostCur.mtu ? mtuWords(opts.mtu) : []),
    ...(opts.master !== undefined && opts.master !== hostCur.master ? ['master', opts.master] : []),
    ...(opts.alias !== undefined && opts.alias !== hostCur.alias ? ['alias', opts.alias] : []),
    ...(hostCur.up ? [] : ['up']),
    // The current hairpin mode is not in LinkInfo; setting it again is harmless.
    ...hairpinWords(opts.hairpin),
  ];
  if (hostWords.length > 0) lines.push(['link', 'set', 'dev', hostName, ...hostWords]);
  if (peerCur) {
    const peerWords = [
      ...(opts.mtu !== undefined && opts.mtu !== peerCur.mtu ? mtuWords(opts.mtu) : []),
      ...(opts.peerMac !== undefined && normalizeMac(opts.peerMac) !== peerCur.mac ? ['address', opts.peerMac] : []),
    ];
    if (peerWords.length > 0) lines.push(['link', 'set', 'dev', peerCur.name, ...peerWords]);
  }
  return lines;
}

/** `addr replace` is idempotent for an address that is already there (add would say EEXIST). */
export function addressReplaceArgs(link: string, cidr: string, family: 4 | 6, noDad: boolean): string[] {
  return ['addr', 'replace', cidr, 'dev', link, ...(noDad && family === 6 ? ['nodad'] : [])];
}

export function addressDeleteArgs(link: string, cidr: string): string[] {
  return ['addr', 'del', cidr, 'dev', link];
}

/** A macvlan on `parent`, created where it will live (`netns` at creation, no move), with its MAC
 *  and mode; marked and, for the host shim, set up in the same batch. */
export function macvlanCreateLines(name: string, parent: string, opts: MacvlanOptions): BatchLine[] {
  const lines: BatchLine[] = [
    [
      'link', 'add', 'link', parent, 'name', name, ...mtuWords(opts.mtu), ...(opts.mac ? ['address', opts.mac] : []),
      ...(opts.netns ? ['netns', opts.netns.name ?? opts.netns.path] : []),
      'type', 'macvlan', 'mode', opts.mode,
    ],
  ];
  // After `netns` the link is no longer here: alias and up are set by the sandbox attach instead.
  if (!opts.netns && (opts.alias || opts.up)) {
    lines.push(['link', 'set', 'dev', name, ...(opts.alias ? ['alias', opts.alias] : []), ...(opts.up ? ['up'] : [])]);
  }
  return lines;
}

/** An 802.1q sub-interface, marked and up (the kernel ignores an alias given at creation). */
export function vlanCreateLines(name: string, parent: string, id: number, opts: { alias?: string; mtu?: number }): BatchLine[] {
  return [
    ['link', 'add', 'link', parent, 'name', name, ...mtuWords(opts.mtu), 'type', 'vlan', 'id', String(id)],
    ['link', 'set', 'dev', name, ...(opts.alias ? ['alias', opts.alias] : []), 'up'],
  ];
}

export function routeReplaceArgs(destination: string, dev: string, src?: string): string[] {
  return ['route', 'replace', destination, 'dev', dev, ...(src ? ['src', src] : [])];
}

export function routeDeleteArgs(destination: string, dev: string): string[] {
  return ['route', 'del', destination, 'dev', dev];
}
