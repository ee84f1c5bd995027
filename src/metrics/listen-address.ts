// The address of `weftd --metrics-addr`. It must be an explicit IP (loopback is the expected
// choice): the metrics name networks and pools, so weft never listens on every interface by
// default or through a wildcard. Pure: config.ts validates with it.

import { isIP } from 'node:net';
import { ErrorCodes, WeftError } from '../model/errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses `127.0.0.1:9323` or `[::1]:9323`; refuses names, wildcards and bad ports. */
export function parseMetricsAddr(text: string): ListenAddress {
  const bad = (why: string) => new WeftError(ErrorCodes.INVALID_OPTION, `invalid metrics-addr ${JSON.stringify(text)}: ${why}`);
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) throw bad('expected IP:PORT, e.g. 127.0.0.1:9323 or [::1]:9323');
  const host = m[1]!;
  const port = Number(m[2]);
  if (isIP(host) === 0) throw bad(`${host} is not an IP address`);
  if (host === '0.0.0.0' || /^[0:]+$/.test(host)) throw bad('a wildcard address would publish the metrics on every interface: name one address');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad('port must be 1-65535');
  return { host, port };
}

