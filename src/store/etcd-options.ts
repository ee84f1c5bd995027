// Options of the etcd store, checked before any connection is made: the key prefix, timeouts,
// and the TLS files (read here, so a wrong path is named in the error instead of surfacing later
// as a vague handshake failure).

import { readFileSync } from 'node:fs';
import { ErrorCodes, WeftError } from '../model/errors.js';
import { checkEndpointList } from './etcd-endpoints.js';

export interface EtcdTlsFiles {
  /** CA certificate(s) that signed etcd's server certificate (--etcd-cacert). Default: the system CAs. */
  cacert?: string;
  /** Client certificate, for etcd's --client-cert-auth (--etcd-cert); needs `key`. */
  cert?: string;
  /** Private key of the client certificate (--etcd-key); needs `cert`. */
  key?: string;
}

export interface EtcdStoreOptions {
  /** "host:port" of each member (IPv6 in brackets). */
  endpoints: string[];
  /** Every weft key lives below it: `${prefix}/${key}`. An absolute path such as /weft. */
  prefix: string;
  tls?: EtcdTlsFiles;
  /** How long opening may take to reach etcd (and find a quorum). Default 5,000 ms. */
  dialTimeoutMs?: number;
  /** Limit for every request; a request that takes longer fails with STORE_UNAVAILABLE. Default 5,000 ms. */
  requestTimeoutMs?: number;
  /** Called when a watch callback throws, or a watch has to stop (default: a process warning). */
  onWatchError?: (err: unknown, prefix: string) => void;
}

export const DEFAULT_DIAL_TIMEOUT_MS = 5_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

export interface CheckedEtcdOptions {
  endpoints: string[];
  prefix: string;
  dialTimeoutMs: number;
  requestTimeoutMs: number;
  credentials?: { rootCertificate?: Buffer; certChain?: Buffer; privateKey?: Buffer };
}

function invalid(message: string): WeftError {
  return new WeftError(ErrorCodes.INVALID_OPTION, message);
}

/**
 * The key prefix: "/" followed by one or more path segments of letters, digits, '_', '.', '-'
 * (as weftd's --etcd-prefix). One trailing "/" is dropped ("/weft/" and "/weft" are the same).
 */
export function normalizePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') throw invalid(`invalid etcd key prefix: expected a string like /weft, got ${typeof prefix}`);
  const p = prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(p) || p.split('/').some((seg) => seg === '.' || seg === '..')) {
    throw invalid(`invalid etcd key prefix ${JSON.stringify(prefix)}: expected an absolute key path like /weft (letters, digits, '_', '.', '-' between slashes)`);
  }
  return p;
}

function timeout(name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 100 || v > 600_000) {
    throw invalid(`invalid etcd ${name}: expected whole milliseconds from 100 to 600000, got ${JSON.stringify(v)}`);
  }
  return v;
}

function readPem(file: string, what: string, flag: string): Buffer {
  if (typeof file !== 'string' || file === '') throw invalid(`${flag}: the ${what} file path is empty`);
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw invalid(`cannot read the etcd ${what} ${file} (${flag}): ${reason}`);
  }
  if (!data.toString('latin1').includes('-----BEGIN ')) throw invalid(`the etcd ${what} ${file} (${flag}) is not a PEM file`);
  return data;
}

/** Checks every option and reads the TLS files; throws INVALID_OPTION naming what is wrong. */
export function checkEtcdOptions(opts: EtcdStoreOptions): CheckedEtcdOptions {
  if (opts === null || typeof opts !== 'object') throw invalid('etcd store options must be an object');
  const out: CheckedEtcdOptions = {
    endpoints: checkEndpointList(opts.endpoints),
    prefix: normalizePrefix(opts.prefix),
    dialTimeoutMs: timeout('dial timeout', opts.dialTimeoutMs, DEFAULT_DIAL_TIMEOUT_MS),
    requestTimeoutMs: timeout('request timeout', opts.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS),
  };
  const tls = opts.tls;
  if (tls && (tls.cacert !== undefined || tls.cert !== undefined || tls.key !== undefined)) {
    if ((tls.cert === undefined) !== (tls.key === undefined)) {
      throw invalid(`etcd client TLS needs both --etcd-cert and --etcd-key (got only ${tls.cert === undefined ? '--etcd-key' : '--etcd-cert'})`);
    }
    out.credentials = {};
    if (tls.cacert !== undefined) out.credentials.rootCertificate = readPem(tls.cacert, 'CA certificate', '--etcd-cacert');
    if (tls.cert !== undefined) out.credentials.certChain = readPem(tls.cert, 'client certificate', '--etcd-cert');
    if (tls.key !== undefined) out.credentials.privateKey = readPem(tls.key, 'client key', '--etcd-key');
  }
  return out;
}
