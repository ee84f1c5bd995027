import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, WeftError } from '../../../src/model/errors.js';
import { checkEtcdOptions, normalizePrefix } from '../../../src/store/etcd-options.js';
import { prefixRangeEnd } from '../../../src/store/etcd-store.js';

function errorOf(fn: () => unknown): WeftError {
  try {
    fn();
  } catch (e) {
    if (e instanceof WeftError) return e;
    throw e;
  }
  throw new Error('expected a WeftError');
}

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('etcd store options', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'weft-etcd-opts-'));
    await writeFile(path.join(dir, 'ca.pem'), PEM);
    await writeFile(path.join(dir, 'cert.pem'), PEM);
    await writeFile(path.join(dir, 'key.pem'), '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n');
    await writeFile(path.join(dir, 'garbage.pem'), 'hello');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('prefix', () => {
    it.each([
      ['/weft', '/weft'],
      ['/weft/', '/weft'],
      ['/a/b-c/d_e.f', '/a/b-c/d_e.f'],
    ])('%s -> %s', (input, want) => expect(normalizePrefix(input)).toBe(want));

    it.each(['', '/', 'weft', '//weft', '/weft//x', '/we ft', '/weft/..', '/./x', '/weft//'])('%j is refused, and named', (bad) => {
      const e = errorOf(() => normalizePrefix(bad));
      expect(e.code).toBe(ErrorCodes.INVALID_OPTION);
      expect(e.message).toContain(JSON.stringify(bad));
    });
  });

  it('fills in the default timeouts and checks given ones', () => {
    expect(checkEtcdOptions({ endpoints: ['127.0.0.1:2379'], prefix: '/weft' })).toEqual({
      endpoints: ['127.0.0.1:2379'],
      prefix: '/weft',
      dialTimeoutMs: 5_000,
      requestTimeoutMs: 5_000,
    });
    expect(errorOf(() => checkEtcdOptions({ endpoints: ['h'], prefix: '/w', requestTimeoutMs: 0 })).code).toBe(ErrorCodes.INVALID_OPTION);
    expect(errorOf(() => checkEtcdOptions({ endpoints: ['h'], prefix: '/w', dialTimeoutMs: 1.5 })).code).toBe(ErrorCodes.INVALID_OPTION);
    expect(errorOf(() => checkEtcdOptions({ endpoints: [], prefix: '/w' })).code).toBe(ErrorCodes.INVALID_OPTION);
  });

  it('reads the TLS files', () => {
    const o = checkEtcdOptions({
      endpoints: ['h:1'],
      prefix: '/w',
      tls: { cacert: path.join(dir, 'ca.pem'), cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') },
    });
    expect(o.credentials?.rootCertificate?.toString()).toBe(PEM);
    expect(o.credentials?.certChain?.toString()).toBe(PEM);
    expect(o.credentials?.privateKey?.toString()).toContain('PRIVATE KEY');
    expect(checkEtcdOptions({ endpoints: ['h:1'], prefix: '/w', tls: { cacert: path.join(dir, 'ca.pem') } }).credentials).toEqual({
      rootCertificate: Buffer.from(PEM),
    });
  });

  it('names a TLS file that is missing or not PEM, and the flag it came from', () => {
    const missing = path.join(dir, 'nope.pem');
    const e1 = errorOf(() => checkEtcdOptions({ endpoints: ['h:1'], prefix: '/w', tls: { cacert: missing } }));
    expect(e1.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(e1.message).toContain(missing);
    expect(e1.message).toContain('--etcd-cacert');
    const garbage = path.join(dir, 'garbage.pem');
    const e2 = errorOf(() => checkEtcdOptions({ endpoints: ['h:1'], prefix: '/w', tls: { cert: garbage, key: path.join(dir, 'key.pem') } }));
    expect(e2.message).toContain(garbage);
    expect(e2.message).toContain('not a PEM file');
    const e3 = errorOf(() => checkEtcdOptions({ endpoints: ['h:1'], prefix: '/w', tls: { key: path.join(dir, 'key.pem') } }));
    expect(e3.message).toContain('both --etcd-cert and --etcd-key');
  });
});

describe('prefixRangeEnd', () => {
  it('is the prefix with its last byte below 0xff bumped', () => {
    expect(prefixRangeEnd(Buffer.from('/weft/'))).toEqual(Buffer.from('/weft0'));
    expect(prefixRangeEnd(Buffer.from([0x61, 0xff, 0xff]))).toEqual(Buffer.from([0x62]));
    expect(prefixRangeEnd(Buffer.from([0xff]))).toEqual(Buffer.from([0]));
  });
});
