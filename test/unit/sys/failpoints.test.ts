import { describe, expect, it } from 'vitest';
import { FAILPOINTS, parseFailpoints } from '../../../src/sys/failpoints.js';
import { isWeftError } from '../../../src/model/errors.js';

describe('WEFT_FAILPOINTS parsing', () => {
  it('arms nothing when unset or blank', () => {
    expect(parseFailpoints(undefined)).toBeUndefined();
    expect(parseFailpoints('  ')).toBeUndefined();
  });

  it('reads names and @N hit counts', () => {
    const m = parseFailpoints('connect.after-store, disconnect.mid@3');
    expect([...m!.entries()]).toEqual([
      ['connect.after-store', 1],
      ['disconnect.mid', 3],
    ]);
  });

  it.each(['nope', 'connect.after-store@0', 'connect.after-store@x', '$(reboot)', 'disconnect.mid@1234567'])('refuses %j with WEFT_ERR_INVALID_OPTION', (spec) => {
    let err: unknown;
    try {
      parseFailpoints(spec);
    } catch (e) {
      err = e;
    }
    expect(isWeftError(err, 'WEFT_ERR_INVALID_OPTION')).toBe(true);
  });

  it('knows every failpoint the docs list', () => {
    expect(Object.keys(FAILPOINTS).sort()).toEqual([
      'connect.after-store',
      'connect.veth-created',
      'disconnect.mid',
      'docker-delete-endpoint.mid',
      'network-create.after-store',
      'network-delete.mid',
      'plugin.create-endpoint.before-reply',
      'plugin.join.before-reply',
    ]);
  });
});
