// VXLAN devices and their forwarding tables (overlay networks, docs/overlay.md), through iproute2:
// `ip link add ... type vxlan`, `bridge fdb` and `ip neigh`, reads as JSON, writes as one
// `-batch` per change set (one spawn however many peers). Arguments are argv arrays; every value
// that goes into a batch line is validated first, so a batch line cannot carry a second command.

import { isIP } from 'node:net';
import { ErrorCodes, WeftError } from '../model/errors.js';
import { checkAlias, checkIfName, checkMac, checkMtu, normalizeMac } from './link-ops.js';
import type { CommandRunner } from './exec.js';

export interface VxlanSpec {
  name: string;
  vni: number;
  /** UDP destination port (cluster-wide, 4789 by default). */
  port: number;
  /** Underlay source address (this host's VTEP, --advertise-addr). */
  local: string;
  mtu: number;
  /** Bridge the VXLAN device is a port of. */
  master: string;
  /** weft's ownership mark (`weft:<network id>`). */
  alias: string;
}

/** A static forwarding entry of the VXLAN device: frames for `mac` go to VTEP `dst`.
 *  mac 00:00:00:00:00:00 is head-end replication: broadcast, multicast and unknown unicast. */
export interface FdbEntry {
  mac: string;
  dst: string;
}

/** A neighbour entry on the VXLAN device (answered locally by the device's ARP/ND proxy). */
export interface NeighEntry {
  ip: string;
  mac: string;
}

export const FLOOD_MAC = '00:00:00:00:00:00';

function checkIp(ip: string, what: string): void {
  if (isIP(ip) === 0) throw new WeftError(ErrorCodes.INVALID_ADDRESS, `${what} ${JSON.stringify(ip)} is not an IP address`);
}

export function checkVni(vni: number): void {
  if (!Number.isInteger(vni) || vni < 1 || vni > 16_777_215) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `VXLAN id ${vni} is not valid: a whole number from 1 to 16777215`);
  }
}

export function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `UDP port ${port} is not valid: a whole number from 1 to 65535`);
  }
}

/** `ip -j -d link show` details of one VXLAN device, or undefined when it does not exist. */
export async function getVxlan(runner: CommandRunner, name: string): Promise<{ vni?: number; port?: number; local?: string; alias?: string; kind?: string } | undefined> {
  checkIfName(name);
  const r = await runner.run(['ip', '-j', '-d', 'link', 'show', 'dev', name], { check: false });
  if (r.code !== 0) return undefined;
  const row = (JSON.parse(r.stdout || '[]') as Array<{ ifalias?: string; linkinfo?: { info_kind?: string; info_data?: { id?: number; port?: number; local?: string } } }>)[0];
  if (!row) return undefined;
  const d = row.linkinfo?.info_data;
  return {
    ...(row.linkinfo?.info_kind ? { kind: row.linkinfo.info_kind } : {}),
    ...(d?.id !== undefined ? { vni: d.id } : {}),
    ...(d?.port !== undefined ? { port: d.port } : {}),
    ...(d?.local !== undefined ? { local: d.local } : {}),
    ...(row.ifalias ? { alias: row.ifalias } : {}),
  };
}

/**
 * Creates the VXLAN device if missing (learning off: peers are programmed, never learned; proxy
 * on: ARP and neighbour solicitations are answered from the programmed neighbour table, so they
 * never cross hosts), enslaves it to the bridge, sets MTU, alias and up. A device of that name
 * with another VNI, port or local address is re-created; one that weft did not mark is refused.
 */
export async function ensureVxlan(runner: CommandRunner, s: VxlanSpec): Promise<void> {
  checkIfName(s.name, 'VXLAN device name');
  checkIfName(s.master, 'bridge name');
  checkVni(s.vni);
  checkPort(s.port);
  checkIp(s.local, 'VTEP address');
  checkMtu(s.mtu);
  checkAlias(s.alias);
  const cur = await getVxlan(runner, s.name);
  if (cur && cur.alias !== s.alias) {
    throw new WeftError(ErrorCodes.NETWORK_EXISTS, `link ${s.name} exists and is not weft's VXLAN device for this network (alias ${JSON.stringify(cur.alias ?? '')})`);
  }
  if (cur && (cur.kind !== 'vxlan' || cur.vni !== s.vni || cur.port !== s.port || cur.local !== s.local)) {
    await runner.run(['ip', 'link', 'del', 'dev', s.name]);
  }
  if (!cur || cur.kind !== 'vxlan' || cur.vni !== s.vni || cur.port !== s.port || cur.local !== s.local) {
    await runner.run([
      'ip', 'link', 'add', s.name, 'type', 'vxlan', 'id', String(s.vni), 'dstport', String(s.port),
      'local', s.local, 'nolearning', 'proxy', 'ttl', '64',
    ]);
  }
  // addrgenmode none: a tunnel port needs no IPv6 link-local address of its own, whose router
  // solicitations and MLD reports would otherwise cross to every host.
  await runner.run(['ip', 'link', 'set', 'dev', s.name, 'mtu', String(s.mtu), 'alias', s.alias, 'master', s.master, 'addrgenmode', 'none', 'up']);
}

/** Static entries with a remote destination on `dev` (the ones weft programs). */
export async function listFdb(runner: CommandRunner, dev: string): Promise<FdbEntry[]> {
  checkIfName(dev);
  const r = await runner.run(['bridge', '-j', 'fdb', 'show', 'dev', dev]);
  const rows = JSON.parse(r.stdout || '[]') as Array<{ mac: string; dst?: string; flags?: string[] }>;
  return rows.filter((e) => e.dst !== undefined).map((e) => ({ mac: normalizeMac(e.mac), dst: e.dst! }));
}

/** Permanent neighbour entries on `dev`. */
export async function listNeigh(runner: CommandRunner, dev: string): Promise<NeighEntry[]> {
  checkIfName(dev);
  const r = await runner.run(['ip', '-j', 'neigh', 'show', 'dev', dev, 'nud', 'permanent']);
  const rows = JSON.parse(r.stdout || '[]') as Array<{ dst: string; lladdr?: string }>;
  return rows.filter((e) => e.lladdr !== undefined).map((e) => ({ ip: e.dst, mac: normalizeMac(e.lladdr!) }));
}

export interface TableChanges {
  addFdb: FdbEntry[];
  delFdb: FdbEntry[];
  addNeigh: NeighEntry[];
  delNeigh: NeighEntry[];
}

/** Applies FDB and neighbour changes on `dev` in (at most) two batch spawns. `-force` keeps a
 *  batch going past one bad line (an entry deleted meanwhile), so one stale line cannot block the
 *  others; the next anti-entropy pass sees whatever is still off. */
export async function applyTableChanges(runner: CommandRunner, dev: string, c: TableChanges): Promise<void> {
  checkIfName(dev);
  for (const e of [...c.addFdb, ...c.delFdb]) {
    checkMac(e.mac);
    checkIp(e.dst, 'VTEP address');
  }
  for (const e of [...c.addNeigh, ...c.delNeigh]) {
    checkMac(e.mac);
    checkIp(e.ip, 'neighbour address');
  }
  const fdb = [
    ...c.delFdb.map((e) => `fdb del ${e.mac} dev ${dev} dst ${e.dst} self`),
    // append, not replace: the all-zero MAC has one entry per VTEP.
    ...c.addFdb.map((e) => `fdb append ${e.mac} dev ${dev} dst ${e.dst} self permanent`),
  ];
  const neigh = [
    ...c.delNeigh.map((e) => `neigh del ${e.ip} dev ${dev}`),
    ...c.addNeigh.map((e) => `neigh replace ${e.ip} lladdr ${e.mac} dev ${dev} nud permanent`),
  ];
  if (fdb.length) await runner.run(['bridge', '-force', '-batch', '-'], { input: `${fdb.join('\n')}\n`, check: false });
  if (neigh.length) await runner.run(['ip', '-force', '-batch', '-'], { input: `${neigh.join('\n')}\n`, check: false });
}

/** MTU of the interface that holds `address` (the underlay), or undefined when none does. */
export async function underlayMtu(runner: CommandRunner, address: string): Promise<number | undefined> {
  checkIp(address, 'underlay address');
  const r = await runner.run(['ip', '-j', 'addr', 'show']);
  const rows = JSON.parse(r.stdout || '[]') as Array<{ mtu: number; addr_info?: Array<{ local: string }> }>;
  return rows.find((l) => l.addr_info?.some((a) => a.local === address))?.mtu;
}
