// Parsing of the etcd endpoint list: `--store etcd://HOST:PORT[,HOST:PORT...]`. Pure.
//
// A HOST is an IPv4 address, an IPv6 address in brackets ([fd00::1]:2379), or a DNS name. The
// port defaults to 2379 (etcd's client port) when left out. The result is "host:port" strings as
// gRPC takes them (IPv6 keeps its brackets).

import { isIPv4, isIPv6 } from 'node:net';
import { ErrorCodes, WeftError } from '../model/errors.js';

export const ETCD_SCHEME = 'etcd://';
export const DEFAULT_ETCD_PORT = 2379;

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

function bad(what: string, why: string): WeftError {
  return new WeftError(ErrorCodes.INVALID_OPTION, `invalid etcd endpoint ${JSON.stringify(what)}: ${why}`);
}

function parsePort(text: string, whole: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw bad(whole, `port ${JSON.stringify(text)} is not a number`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw bad(whole, `port ${port} is out of range 1-65535`);
  return port;
}

/** One endpoint, "host:port" or "host" (port 2379); returns the normalized "host:port". */
export function parseEtcdEndpoint(text: string): string {
  if (typeof text !== 'string' || text.trim() === '') throw bad(String(text), 'empty');
  const s = text.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    throw bad(s, 'give HOST:PORT without a scheme (TLS is set with --etcd-cacert, --etcd-cert and --etcd-key)');
  }
  if (s.includes('/')) throw bad(s, 'an endpoint has no path (the key prefix goes in --etcd-prefix)');
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close === -1) throw bad(s, 'missing "]" after the IPv6 address');
    const host = s.slice(1, close);
    if (!isIPv6(host)) throw bad(s, `${JSON.stringify(host)} is not an IPv6 address`);
    const rest = s.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw bad(s, 'expected ":PORT" after "]"');
    const port = rest === '' ? DEFAULT_ETCD_PORT : parsePort(rest.slice(1), s);
    return `[${host}]:${port}`;
  }
  const colons = s.split(':').length - 1;
  if (colons > 1) {
    throw bad(s, isIPv6(s) ? `put an IPv6 address in brackets: [${s}]:${DEFAULT_ETCD_PORT}` : 'too many ":"');
  }
  const [host, portText] = s.split(':') as [string, string | undefined];
  const port = portText === undefined ? DEFAULT_ETCD_PORT : parsePort(portText, s);
  if (!isIPv4(host) && !(DNS_NAME.test(host) && !/^[0-9.]+$/.test(host))) {
    throw bad(s, `${JSON.stringify(host)} is neither an IP address nor a host name`);
  }
  return `${host}:${port}`;
}

/** `etcd://a:2379,b:2379` -> ["a:2379", "b:2379"]; refuses an empty list and duplicates. */
export function parseEtcdStoreUrl(url: string): string[] {
  if (typeof url !== 'string' || !url.startsWith(ETCD_SCHEME)) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `invalid store ${JSON.stringify(url)}: expected etcd://HOST:PORT[,HOST:PORT...]`);
  }
  const list = url.slice(ETCD_SCHEME.length);
  if (list.trim() === '') throw new WeftError(ErrorCodes.INVALID_OPTION, `invalid store ${JSON.stringify(url)}: no etcd endpoint given`);
  return checkEndpointList(list.split(','));
}

/** Parses and de-duplicates a list of endpoints (at least one). */
export function checkEndpointList(items: readonly string[]): string[] {
  if (!Array.isArray(items) || items.length === 0) throw new WeftError(ErrorCodes.INVALID_OPTION, 'no etcd endpoint given');
  const out: string[] = [];
  for (const item of items) {
    const ep = parseEtcdEndpoint(item);
    if (out.includes(ep)) throw bad(item, 'listed twice');
    out.push(ep);
  }
  return out;
}
