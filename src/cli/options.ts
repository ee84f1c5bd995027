// Syntax checks for command-line values, done before any request is sent so a typo costs no
// round trip and never reaches the daemon. Pure. The daemon validates everything again.

import { ipFamily } from '../model/address.js';
import { ErrorCodes, WeftError } from '../model/errors.js';
import { isValidNetworkName } from '../model/network.js';

/** `-o KEY=VALUE` (repeatable) -> options map. The value may be empty or contain '='. */
export function parseKeyValues(values: readonly string[], flag = '--opt'): Record<string, string> {
  // A Map, then fromEntries: assigning out['__proto__'] would set the prototype and lose the key.
  const out = new Map<string, string>();
  for (const v of values) {
    const eq = v.indexOf('=');
    const key = eq < 0 ? '' : v.slice(0, eq);
    if (eq < 0 || key === '' || /\s/.test(key)) {
      throw new WeftError(ErrorCodes.INVALID_OPTION, `invalid ${flag} ${JSON.stringify(v)}: expected KEY=VALUE, e.g. com.docker.network.bridge.name=wfbr0`);
    }
    if (out.has(key)) throw new WeftError(ErrorCodes.INVALID_OPTION, `${flag} ${key} is given twice: give each key once`);
    out.set(key, v.slice(eq + 1));
  }
  return Object.fromEntries(out);
}

/** A network is named by its name or by its id (or an id prefix); both fit Docker's name rule. */
export function checkNetworkRef(ref: string): string {
  if (!isValidNetworkName(ref)) {
    throw new WeftError(
      ErrorCodes.INVALID_NAME,
      `invalid network name ${JSON.stringify(ref)}: use 1-64 characters from [a-zA-Z0-9_.-], starting with a letter or digit`,
    );
  }
  return ref;
}

/** NETNS: a named namespace (`ip netns` name) or an absolute path (/var/run/netns/x, /proc/PID/ns/net). */
export function checkNetns(ref: string): string {
  const named = /^[A-Za-z0-9_.-]{1,255}$/.test(ref) && ref !== '.' && ref !== '..';
  const path = ref.startsWith('/') && !ref.includes('\0') && ref.length <= 4096;
  if (!named && !path) {
    throw new WeftError(
      ErrorCodes.INVALID_NAME,
      `invalid network namespace ${JSON.stringify(ref)}: give a name from \`ip netns list\` or an absolute path such as /proc/PID/ns/net`,
    );
  }
  return ref;
}

/** --ip (family 4) / --ip6 (family 6): a bare address of that family. */
export function checkIp(value: string, family: 4 | 6, flag: string): string {
  // A zone (fe80::1%eth0) names a link on the host; it means nothing for an address to assign.
  if (ipFamily(value) !== family || value.includes('%')) {
    const example = family === 4 ? '10.1.0.10' : 'fd00:1::10';
    throw new WeftError(ErrorCodes.INVALID_ADDRESS, `invalid ${flag} ${JSON.stringify(value)}: expected an IPv${family} address such as ${example}`);
  }
  return value;
}

/**
 * --publish, Docker's syntax: `[[HOST_IP:][HOST_PORT]:]CONTAINER_PORT[/PROTO]`, ports or ranges
 * (8000-8010), an IPv6 host address in brackets ([::1]:8080:80), PROTO tcp (default), udp or sctp.
 */
export function checkPublishSpec(spec: string): string {
  const fail = (why: string): never => {
    throw new WeftError(
      ErrorCodes.INVALID_OPTION,
      `invalid --publish ${JSON.stringify(spec)}: ${why}; expected [[HOST_IP:][HOST_PORT]:]CONTAINER_PORT[/tcp|udp|sctp], e.g. 8080:80 or 127.0.0.1:5353:53/udp`,
    );
  };
  let rest = spec;
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const proto = rest.slice(slash + 1);
    if (!['tcp', 'udp', 'sctp'].includes(proto)) fail(`unknown protocol ${JSON.stringify(proto)}`);
    rest = rest.slice(0, slash);
  }
  let hostIp: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']:');
    if (close < 0) fail('a bracketed host address must be followed by ":"');
    hostIp = rest.slice(1, close);
    if (ipFamily(hostIp) !== 6) fail(`${JSON.stringify(hostIp)} in brackets is not an IPv6 address`);
    rest = rest.slice(close + 2);
    if (!rest.includes(':')) fail('a host address needs HOST_PORT:CONTAINER_PORT (HOST_PORT may be empty)');
  }
  const parts = rest.split(':');
  if (parts.length > 3 || (hostIp !== undefined && parts.length !== 2)) fail('too many ":" (put an IPv6 host address in brackets)');
  if (parts.length === 3) {
    hostIp = parts.shift()!;
    if (ipFamily(hostIp) !== 4) fail(`${JSON.stringify(hostIp)} is not an IPv4 address (put an IPv6 one in brackets)`);
  }
  const container = portRange(parts.pop()!, 'container port', fail);
  const hostText = parts.pop();
  if (hostText === undefined || hostText === '') return spec;
  const host = portRange(hostText, 'host port', fail);
  // Docker's rule: a container range needs a host range of the same length; a single container
  // port may take a host range (one free port of it is picked).
  if (container.length > 1 && host.length !== container.length) fail('the host port range must be as long as the container port range');
  return spec;
}

function portRange(text: string, what: string, fail: (why: string) => never): { length: number } {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return fail(`${what} ${JSON.stringify(text)} is not a port or a range such as 8000-8010`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi > 65535 || lo > hi) return fail(`${what} ${JSON.stringify(text)} is outside 1-65535 or runs backwards`);
  return { length: hi - lo + 1 };
}
