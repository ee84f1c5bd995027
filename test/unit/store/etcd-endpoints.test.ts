import { describe, expect, it } from 'vitest';
import { ErrorCodes, WeftError } from '../../../src/model/errors.js';
import { parseEtcdEndpoint, parseEtcdStoreUrl } from '../../../src/store/etcd-endpoints.js';

function errorOf(fn: () => unknown): WeftError {
  try {
    fn();
  } catch (e) {
    if (e instanceof WeftError) return e;
    throw e;
  }
  throw new Error('expected a WeftError');
}

describe('parseEtcdEndpoint', () => {
  it.each([
    ['127.0.0.1:2379', '127.0.0.1:2379'],
    ['10.0.0.5', '10.0.0.5:2379'],
    ['etcd-1.example.org:12379', 'etcd-1.example.org:12379'],
    ['localhost', 'localhost:2379'],
    ['[::1]:2379', '[::1]:2379'],
    ['[fd00::5]', '[fd00::5]:2379'],
    [' 192.0.2.1:1 ', '192.0.2.1:1'],
  ])('%s -> %s', (input, want) => {
    expect(parseEtcdEndpoint(input)).toBe(want);
  });

  it.each([
    ['', 'empty'],
    ['::1', 'in brackets'],
    ['fd00::1:2379', 'in brackets'],
    ['[::1', 'missing "]"'],
    ['[10.0.0.1]:2379', 'not an IPv6'],
    ['[::1]2379', 'expected ":PORT"'],
    ['h:0', 'out of range'],
    ['h:65536', 'out of range'],
    ['h:port', 'not a number'],
    ['http://h:2379', 'without a scheme'],
    ['h:2379/weft', 'no path'],
    ['999.1.1.1:2379', 'neither an IP address nor a host name'],
    ['bad_name:2379', 'neither'],
    ['-h:1', 'neither'],
  ])('%j is refused (%s)', (input, why) => {
    const e = errorOf(() => parseEtcdEndpoint(input));
    expect(e.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(e.message).toContain(why);
  });
});

describe('parseEtcdStoreUrl', () => {
  it('splits the list and normalizes each endpoint', () => {
    expect(parseEtcdStoreUrl('etcd://10.0.0.1:2379,10.0.0.2,[fd00::3]:2380')).toEqual(['10.0.0.1:2379', '10.0.0.2:2379', '[fd00::3]:2380']);
  });

  it('refuses another scheme, an empty list, an empty item and duplicates', () => {
    for (const [url, why] of [
      ['http://h:2379', 'expected etcd://'],
      ['local', 'expected etcd://'],
      ['etcd://', 'no etcd endpoint'],
      ['etcd://a:1,,b:2', 'empty'],
      ['etcd://a:2379,a', 'listed twice'],
    ] as const) {
      const e = errorOf(() => parseEtcdStoreUrl(url));
      expect(e.code, url).toBe(ErrorCodes.INVALID_OPTION);
      expect(e.message, url).toContain(why);
    }
  });
});
