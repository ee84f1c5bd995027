// What a macvlan network needs from the kernel, decided from the options, the links as they are
// now and the other macvlan networks: the checks that must pass (parent usable, passthru alone on
// its parent, no subnet overlap inside one L2 domain) and the steps that create the lower device.
// Pure, so every decision is unit-tested; macvlan-driver.ts applies the result.

import { cidrWithin, parseCidr } from '../../src/model/address.js';
import { ErrorCodes, WeftError } from '../../src/model/errors.js';
import type { LinkInfo, MacvlanMode } from '../../src/sys/link-ops.js';
import { ownerOfAlias } from '../../src/sys/links.js';
import type { MacvlanOptions } from './options.js';
import { internalLowerOf } from './names.js';

/** What the driver remembers per network (drivers/macvlan/networks/<id> in the store). */
export interface MacvlanRecord {
  networkId: string;
  name: string;
  /** L2 domain: the parent (a VLAN sub-interface is a domain of its own), or internal-<id>. */
  domain: string;
  /** The device the endpoints' macvlans hang off. */
  lower: string;
  mode: MacvlanMode;
  /** Every v4 and v6 subnet of the network (for the overlap check). */
  subnets: string[];
  /** The parent is an 802.1q sub-interface weft created (or shares with the networks that did):
   *  deleted with the last network that owns it. Absent for a parent weft found existing. */
  vlan?: { name: string; base: string; id: number };
  /** --internal without a parent: the weft-owned bridge that is the lower device. */
  internalBridge?: string;
  /** host_access=true: the shim on the host, its /32 and the routes through it. */
  shim?: { name: string; address: string; routes: string[]; allocated?: { poolId: string; ip: string } };
}

export type PlanStep =
  | { op: 'create-vlan'; name: string; base: string; id: number }
  | { op: 'create-bridge'; name: string };

export interface NetworkPlan {
  lower: string;
  steps: PlanStep[];
  /** The record's vlan field: set when weft created (or co-owns) the VLAN link. */
  vlan?: MacvlanRecord['vlan'];
  internalBridge?: string;
}

/** Current kernel state the plan depends on. */
export interface LinksNow {
  /** The parent as named (eth1, or eth1.30). */
  parent?: LinkInfo;
  /** The VLAN's base device (eth1), read when the VLAN parent does not exist yet. */
  base?: LinkInfo;
}

const ETHERNET_MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * The kernel takes a macvlan only on an Ethernet device that is not the loopback (it answers
 * "Invalid argument" otherwise, and only at the first connect, when the first macvlan is made).
 * LinkInfo carries no ARPHRD type: an Ethernet device is one with a 6-byte hardware address,
 * and the loopback's is all zeros.
 */
function checkLinkType(link: LinkInfo, name: string, role: string, sharedWeftVlan: boolean): void {
  const mac = link.mac?.toLowerCase();
  if (name === 'lo' || mac === '00:00:00:00:00:00') {
    throw new WeftError(ErrorCodes.PARENT_UNUSABLE, `${role} ${name} is the loopback device: macvlan needs an Ethernet interface (see \`ip link\`)`);
  }
  if (!mac || !ETHERNET_MAC.test(mac)) {
    throw new WeftError(ErrorCodes.PARENT_UNUSABLE, `${role} ${name} is not an Ethernet interface (${link.kind ? `a ${link.kind} link` : 'a link'} without an Ethernet address): macvlan needs one (eth1, a veth, a bond, a bridge...)`);
  }
  // A link weft made belongs to one of its networks or endpoints (a bridge network's bridge, an
  // endpoint's veth, another macvlan network's shim or internal bridge): deleting its owner would
  // pull the ground from under this network. The one exception is a VLAN link another weft
  // macvlan network made for the same parent: co-owned, deleted with the last of them.
  const owner = ownerOfAlias(link.alias);
  if (owner !== undefined && !sharedWeftVlan) {
    throw new WeftError(ErrorCodes.PARENT_UNUSABLE, `${role} ${name} is a link weft made for object ${owner.slice(0, 12)}: it goes away with its owner; give an interface of the host`);
  }
}

function checkUsable(link: LinkInfo | undefined, name: string, role: string, sharedWeftVlan = false): void {
  if (!link) {
    throw new WeftError(ErrorCodes.PARENT_UNUSABLE, `${role} ${name} does not exist: give an existing interface as -o parent (see \`ip link\`)`);
  }
  checkLinkType(link, name, role, sharedWeftVlan);
  if (link.master) {
    throw new WeftError(
      ErrorCodes.PARENT_UNUSABLE,
      `${role} ${name} is a port of ${link.master}: its frames go to that bridge, never to macvlans; use ${link.master} itself or another interface`,
    );
  }
  if (!link.up) {
    throw new WeftError(ErrorCodes.PARENT_UNUSABLE, `${role} ${name} is down: bring it up first (ip link set ${name} up)`);
  }
}

/**
 * The lower device and the steps to make it. A VLAN parent (eth1.30) that exists is used as it is,
 * and co-owned when another weft network created it (its mark is weft's); one that is missing is
 * created on its base. --internal without a parent gets its own bridge.
 */
export function planNetwork(opts: MacvlanOptions, networkId: string, now: LinksNow): NetworkPlan {
  if (!opts.parent) {
    const name = internalLowerOf(networkId);
    return { lower: name, steps: [{ op: 'create-bridge', name }], internalBridge: name };
  }
  if (opts.vlan && !now.parent) {
    checkUsable(now.base, opts.vlan.base, `VLAN base interface of ${opts.parent},`);
    const vlan = { name: opts.parent, base: opts.vlan.base, id: opts.vlan.id };
    return { lower: opts.parent, steps: [{ op: 'create-vlan', ...vlan }], vlan };
  }
  const sharedVlan = !!opts.vlan && now.parent?.kind === 'vlan' && ownerOfAlias(now.parent.alias) !== undefined;
  checkUsable(now.parent, opts.parent, 'parent', sharedVlan);
  const parent = now.parent!;
  if (sharedVlan && opts.vlan) {
    // Created by another weft network: this one shares it, so the last of them deletes it.
    return { lower: opts.parent, steps: [], vlan: { name: opts.parent, base: opts.vlan.base, id: opts.vlan.id } };
  }
  return { lower: opts.parent, steps: [] };
}

const overlaps = (a: string, b: string): boolean => {
  const x = parseCidr(a);
  const y = parseCidr(b);
  return x.family === y.family && (cidrWithin(x, y) || cidrWithin(y, x));
};

/**
 * Checks a new network against the other macvlan networks: passthru owns its parent alone, and
 * subnets may not overlap inside one L2 domain (the same subnet on another parent or VLAN is fine:
 * those are different LANs). Throws PARENT_IN_USE or POOL_OVERLAP.
 */
export function checkAgainstOthers(mine: Pick<MacvlanRecord, 'networkId' | 'name' | 'domain' | 'mode' | 'subnets'>, others: MacvlanRecord[]): void {
  const sameDomain = others.filter((o) => o.networkId !== mine.networkId && o.domain === mine.domain);
  const passthru = sameDomain.find((o) => o.mode === 'passthru');
  if (passthru) {
    throw new WeftError(ErrorCodes.PARENT_IN_USE, `parent ${mine.domain} is taken by passthru network ${JSON.stringify(passthru.name)}: passthru gives its parent to one network alone`);
  }
  if (mine.mode === 'passthru' && sameDomain.length > 0) {
    throw new WeftError(
      ErrorCodes.PARENT_IN_USE,
      `passthru needs parent ${mine.domain} for itself, but network ${JSON.stringify(sameDomain[0]!.name)} uses it already`,
    );
  }
  for (const o of sameDomain) {
    for (const s of mine.subnets) {
      const hit = o.subnets.find((t) => overlaps(s, t));
      if (hit) {
        throw new WeftError(
          ErrorCodes.POOL_OVERLAP,
          `subnet ${s} overlaps ${hit} of macvlan network ${JSON.stringify(o.name)} on the same L2 domain (${mine.domain}); use another subnet, or another parent or VLAN`,
        );
      }
    }
  }
}

/** Networks still owning a VLAN link after `leaving` goes away. */
export function vlanOwnersAfter(vlanName: string, leaving: string, records: MacvlanRecord[]): MacvlanRecord[] {
  return records.filter((r) => r.networkId !== leaving && r.vlan?.name === vlanName);
}

/** Routes the host_access shim carries: the range containers get addresses from. */
export function shimRoutes(entries: { subnet: string; ipRange?: string }[]): string[] {
  return entries.map((e) => e.ipRange ?? e.subnet);
}
