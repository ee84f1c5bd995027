// `--publish` specs, Docker's syntax: [IP:][HOSTPORT[-END]:]CONTAINERPORT[-END][/PROTO], with an
// IPv6 host IP in brackets ([::1]:8080:80). Pure. Like the docker CLI, matching ranges
// (9000-9010:9000-9010) become one mapping per port, and a host range for one container port
// (8000-8010:80) stays one mapping whose host port is chosen from the range.

import { isIP } from 'node:net';
import { ipToBigInt } from './address.js';
import { ErrorCodes, WeftError } from './errors.js';
import type { PortMapping } from './network.js';

const bad = (spec: string, why: string): WeftError =>
  new WeftError(ErrorCodes.INVALID_OPTION, `invalid publish spec ${JSON.stringify(spec)}: ${why} (expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp|sctp])`);

function parseRange(text: string, spec: string): [number, number] {
  const m = text.match(/^(\d{1,5})(?:-(\d{1,5}))?$/);
  if (!m) throw bad(spec, `${JSON.stringify(text)} is not a port or a range`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi > 65535 || hi < lo) throw bad(spec, `ports must be 1-65535 and ranges ascending`);
  return [lo, hi];
}

/** IPv6 loopback in any spelling ("::1", "0:0:0:0:0:0:0:1"). */
const isIPv6Loopback = (ip: string): boolean => isIP(ip) === 6 && ipToBigInt(ip) === 1n;

/** Refuses a mapping no driver can honour, before any address or port is taken for it (the
 *  firewall refuses it too, but only after the endpoint was allocated): the kernel cannot DNAT
 *  IPv6 loopback traffic to another address. */
export function checkPublishable(m: PortMapping): void {
  if (isIPv6Loopback(m.hostIp)) {
    throw new WeftError(ErrorCodes.NOT_SUPPORTED, `cannot publish on [${m.hostIp}]:${m.hostPort}: the Linux kernel cannot DNAT IPv6 loopback traffic; publish on another address or on 127.0.0.1`);
  }
}

export function parsePublishSpec(spec: string): PortMapping[] {
  if (typeof spec !== 'string' || spec.length === 0 || spec.length > 128) throw bad(String(spec), 'empty or too long');
  let rest = spec;
  let proto: PortMapping['proto'] = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1);
    if (p !== 'tcp' && p !== 'udp' && p !== 'sctp') throw bad(spec, `unknown protocol ${JSON.stringify(p)}`);
    proto = p;
    rest = rest.slice(0, slash);
  }
  let hostIp = '';
  const v6 = rest.match(/^\[([^\]]+)\]:(.*)$/);
  if (v6) {
    hostIp = v6[1]!;
    rest = v6[2]!;
    if (isIP(hostIp) !== 6) throw bad(spec, `${JSON.stringify(hostIp)} is not an IPv6 address`);
  }
  const parts = rest.split(':');
  if (!v6 && parts.length === 3) {
    hostIp = parts.shift()!;
    if (hostIp !== '' && isIP(hostIp) !== 4) throw bad(spec, `${JSON.stringify(hostIp)} is not an IP address`);
  }
  if (parts.length > 2 || parts.length === 0) throw bad(spec, 'too many fields');
  const [container, containerEnd] = parseRange(parts[parts.length - 1]!, spec);
  let hostPort = 0;
  let hostPortEnd = 0;
  if (parts.length === 2 && parts[0] !== '') {
    [hostPort, hostPortEnd] = parseRange(parts[0]!, spec);
    if (hostPortEnd - hostPort !== containerEnd - container && containerEnd !== container) {
      throw bad(spec, 'host and container ranges differ in size');
    }
  } else if (containerEnd !== container) {
    throw bad(spec, 'a container port range needs a host port range');
  }
  if (containerEnd !== container) {
    checkPublishable({ proto, containerPort: container, hostPort, hostPortEnd: hostPort, hostIp });
    return Array.from({ length: containerEnd - container + 1 }, (_, i) => ({
      proto,
      containerPort: container + i,
      hostPort: hostPort + i,
      hostPortEnd: hostPort + i,
      hostIp,
    }));
  }
  const one: PortMapping = { proto, containerPort: container, hostPort, hostPortEnd: hostPortEnd || hostPort, hostIp };
  checkPublishable(one);
  return [one];
}
