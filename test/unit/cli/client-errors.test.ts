// The pure halves of the client: host parsing, socket-error mapping, response decoding, and how a
// failure becomes a stderr line and an exit code.
import { describe, expect, it } from 'vitest';
import { decodeResponse, mapSocketError, RemoteError } from '../../../src/cli/client.js';
import { describeFailure } from '../../../src/cli/errors.js';
import { DEFAULT_HOST, parseHost, resolveDaemonAddress } from '../../../src/cli/host.js';
import { ErrorCodes, WeftError } from '../../../src/model/errors.js';

const errno = (code: string, message = `connect ${code} /run/weft/weft.sock`): NodeJS.ErrnoException =>
  Object.assign(new Error(message), { code });

describe('daemon address', () => {
  it('uses --host, else WEFT_HOST, else the default socket', () => {
    expect(resolveDaemonAddress('unix:///tmp/a.sock', { WEFT_HOST: 'unix:///tmp/b.sock' })).toEqual({ url: 'unix:///tmp/a.sock', socketPath: '/tmp/a.sock' });
    expect(resolveDaemonAddress(undefined, { WEFT_HOST: 'unix:///tmp/b.sock' }).socketPath).toBe('/tmp/b.sock');
    expect(resolveDaemonAddress(undefined, { WEFT_HOST: '' })).toEqual({ url: DEFAULT_HOST, socketPath: '/run/weft/weft.sock' });
    expect(resolveDaemonAddress(undefined, {}).socketPath).toBe('/run/weft/weft.sock');
  });

  it.each(['tcp://127.0.0.1:2375', 'http://localhost', '/run/weft/weft.sock', 'unix://', 'npipe:////./pipe/weft'])('refuses %j with exit 2', (url) => {
    let err: unknown;
    try {
      parseHost(url);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeftError);
    expect((err as WeftError).message).toContain('unix://PATH');
    expect(describeFailure(err).exitCode).toBe(2);
  });

  it('names WEFT_HOST when the bad value came from the environment', () => {
    expect(() => resolveDaemonAddress(undefined, { WEFT_HOST: 'tcp://x:1' })).toThrow(/^WEFT_HOST "tcp:\/\/x:1" is not supported/);
  });
});

describe('mapSocketError', () => {
  const addr = { url: DEFAULT_HOST, socketPath: '/run/weft/weft.sock' };

  it.each(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK'])('%s: is weftd running?', (code) => {
    const e = mapSocketError(errno(code), addr);
    expect(e.code).toBe(ErrorCodes.DAEMON_UNREACHABLE);
    expect(e.message).toBe('cannot connect to weftd at unix:///run/weft/weft.sock: is weftd running? (start it with `weftd`)');
    expect(describeFailure(e)).toEqual({
      line: 'Error: cannot connect to weftd at unix:///run/weft/weft.sock: is weftd running? (start it with `weftd`) (WEFT_ERR_DAEMON_UNREACHABLE)',
      exitCode: 6,
    });
  });

  it.each(['EACCES', 'EPERM'])('%s: permission denied, with what to do', (code) => {
    const e = mapSocketError(errno(code), addr);
    expect(e.message).toBe("permission denied on /run/weft/weft.sock: run as root or as a member of the socket's group (weftd --socket-group)");
    expect(e.cause).toBeInstanceOf(Error);
    expect(describeFailure(e).exitCode).toBe(6);
  });

  it('keeps the system message for anything else', () => {
    expect(mapSocketError(errno('EMFILE', 'too many open files'), addr).message).toBe(
      'cannot connect to weftd at unix:///run/weft/weft.sock: too many open files',
    );
  });
});

describe('decodeResponse', () => {
  it('returns the parsed body of a 2xx answer, undefined when empty', () => {
    expect(decodeResponse(200, '{"a":1}')).toEqual({ a: 1 });
    expect(decodeResponse(201, '[]')).toEqual([]);
    expect(decodeResponse(204, '')).toBeUndefined();
  });

  it('refuses a 2xx body that is not JSON', () => {
    expect(() => decodeResponse(200, '<html>')).toThrow(/answered HTTP 200 with a body that is not JSON: "<html>"/);
  });

  it('turns a known error code into a WeftError of its kind', () => {
    let err: unknown;
    try {
      decodeResponse(409, JSON.stringify({ error: { code: 'WEFT_ERR_NETWORK_EXISTS', message: 'network net1 exists', details: { id: 'abc' } } }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeftError);
    expect((err as WeftError).kind).toBe('Conflict');
    expect((err as WeftError).details).toEqual({ id: 'abc' });
    expect(describeFailure(err)).toEqual({ line: 'Error: network net1 exists (WEFT_ERR_NETWORK_EXISTS)', exitCode: 5 });
  });

  it('keeps an unknown code (newer daemon) and exits 1', () => {
    let err: unknown;
    try {
      decodeResponse(418, JSON.stringify({ error: { code: 'WEFT_ERR_FROM_THE_FUTURE', message: 'something new' } }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RemoteError);
    expect(describeFailure(err)).toEqual({ line: 'Error: something new (WEFT_ERR_FROM_THE_FUTURE)', exitCode: 1 });
  });

  it.each([
    [502, 'Bad Gateway', /HTTP 502 without an error description: "Bad Gateway"/],
    [500, '', /HTTP 500 without an error description: \(empty body\)/],
    [400, '{"error":"just a string"}', /HTTP 400 without an error description/],
  ])('describes a %d answer without an ErrorBody', (status, body, re) => {
    expect(() => decodeResponse(status, body)).toThrow(re);
  });
});

describe('describeFailure', () => {
  it('maps every kind to its exit code', () => {
    const cases: [string, number][] = [
      [ErrorCodes.BAD_REQUEST, 2],
      [ErrorCodes.NETWORK_NOT_FOUND, 3],
      [ErrorCodes.NETWORK_IN_USE, 4],
      [ErrorCodes.NETWORK_EXISTS, 5],
      [ErrorCodes.POOL_EXHAUSTED, 6],
      [ErrorCodes.DRIVER_NOT_AVAILABLE, 7],
      [ErrorCodes.INTERNAL, 1],
    ];
    for (const [code, exit] of cases) {
      expect(describeFailure(new WeftError(code as never, 'm')).exitCode).toBe(exit);
    }
  });

  it('treats anything else as internal, exit 1', () => {
    expect(describeFailure(new Error('boom'))).toEqual({ line: 'Error: boom (WEFT_ERR_INTERNAL)', exitCode: 1 });
  });
});
