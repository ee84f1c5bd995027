// Turns the repeated IPAM flags of `weft network create` into one IPAM entry per --subnet, with
// Docker CLI semantics (docker/cli `createIPAMConfig`): every --gateway, --ip-range and
// --aux-address is attached to the --subnet that contains it, and anything that fits no subnet,
// or a second gateway/range for the same subnet, is refused here, before a request is sent. Pure.
//
// Two differences from Docker, both stricter: an --ip-range must lie wholly inside its subnet
// (Docker checks only its first address), and a repeated --aux-address name is an error (Docker
// silently keeps the last one).

import type { IpamConfigBody } from '../api/types.js';
import { cidrContains, cidrWithin, parseCidr, parseIp, type ParsedCidr } from '../model/address.js';
import { ErrorCodes, WeftError } from '../model/errors.js';

export interface IpamFlags {
  subnets: readonly string[];
  gateways: readonly string[];
  ipRanges: readonly string[];
  /** Raw NAME=IP values. */
  auxAddresses: readonly string[];
}

const bad = (message: string) => new WeftError(ErrorCodes.BAD_REQUEST, message);

export function buildIpamConfig(flags: IpamFlags): IpamConfigBody[] {
  const subnets = flags.subnets.map((s) => parseCidr(s, '--subnet'));
  const gateways = flags.gateways.map((g) => parseIp(g, '--gateway'));
  const ranges = flags.ipRanges.map((r) => parseCidr(r, '--ip-range'));
  const aux = flags.auxAddresses.map(parseAux);

  if (subnets.length === 0) {
    const orphan = flags.gateways.length ? '--gateway' : flags.ipRanges.length ? '--ip-range' : flags.auxAddresses.length ? '--aux-address' : undefined;
    if (orphan) throw bad(`${orphan} needs a --subnet that contains it: add --subnet CIDR`);
    return [];
  }
  if (gateways.length > subnets.length) {
    throw bad(`${gateways.length} --gateway for ${subnets.length} --subnet: give at most one --gateway per --subnet`);
  }
  if (ranges.length > subnets.length) {
    throw bad(`${ranges.length} --ip-range for ${subnets.length} --subnet: give at most one --ip-range per --subnet`);
  }

  // Overlapping subnets would make "the subnet that contains it" ambiguous (Docker refuses them too).
  subnets.forEach((a, i) => {
    subnets.slice(0, i).forEach((b) => {
      if (cidrWithin(a, b) || cidrWithin(b, a)) {
        throw bad(`--subnet ${b.ip}/${b.prefix} and --subnet ${a.ip}/${a.prefix} overlap: give each subnet once, without overlaps`);
      }
    });
  });

  const entries: IpamConfigBody[] = subnets.map((_, i) => ({ subnet: flags.subnets[i]! }));
  const owner = (inside: (s: ParsedCidr) => boolean, what: string): IpamConfigBody => {
    const i = subnets.findIndex(inside);
    if (i < 0) throw bad(`${what} is in none of the subnets given (${flags.subnets.join(', ')})`);
    return entries[i]!;
  };

  ranges.forEach((r, i) => {
    const text = flags.ipRanges[i]!;
    const entry = owner((s) => cidrWithin(s, r), `--ip-range ${text}`);
    if (entry.ipRange !== undefined) {
      throw bad(`two --ip-range (${entry.ipRange}, ${text}) for subnet ${entry.subnet}: give at most one per subnet`);
    }
    entry.ipRange = text;
  });

  gateways.forEach((g, i) => {
    const text = flags.gateways[i]!;
    const entry = owner((s) => cidrContains(s, g), `--gateway ${text}`);
    if (entry.gateway !== undefined) {
      throw bad(`two --gateway (${entry.gateway}, ${text}) for subnet ${entry.subnet}: give at most one per subnet`);
    }
    entry.gateway = text;
  });

  const seen = new Set<string>();
  for (const a of aux) {
    if (seen.has(a.name)) throw bad(`--aux-address ${a.name} is given twice: each name once`);
    seen.add(a.name);
    const entry = owner((s) => cidrContains(s, a.addr), `--aux-address ${a.name}=${a.addr.ip}`);
    entry.auxAddresses = { ...entry.auxAddresses, [a.name]: a.addr.ip };
  }
  return entries;
}

function parseAux(text: string): { name: string; addr: ReturnType<typeof parseIp> } {
  const eq = text.indexOf('=');
  const name = eq < 0 ? '' : text.slice(0, eq);
  if (eq < 0 || name.trim() === '' || /\s/.test(name)) {
    throw new WeftError(ErrorCodes.BAD_REQUEST, `invalid --aux-address ${JSON.stringify(text)}: expected NAME=IP, e.g. router=10.1.0.254`);
  }
  return { name, addr: parseIp(text.slice(eq + 1), `--aux-address ${name}`) };
}
