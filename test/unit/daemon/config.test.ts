import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, parseConfigFile, resolveConfig } from '../../../src/daemon/config.js';
import { parseGroupFile, resolveGid } from '../../../src/daemon/groups.js';

describe('daemon configuration', () => {
  it('uses the defaults of design.md when nothing is set', () => {
    expect(resolveConfig({}, {}, {})).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG.socket).toBe('/run/weft/weft.sock');
    expect(DEFAULT_CONFIG.stateDir).toBe('/var/lib/weft');
    expect(DEFAULT_CONFIG.pluginDir).toBe('/run/docker/plugins');
  });

  it('takes flags over environment over file', () => {
    const file = parseConfigFile(JSON.stringify({ 'state-dir': '/file', socket: '/file.sock', 'log-level': 'warn' }), 'f.json');
    const env = { WEFT_STATE_DIR: '/env', WEFT_SOCKET: '/env.sock' };
    const c = resolveConfig({ stateDir: '/flag' }, env, file);
    expect(c.stateDir).toBe('/flag');
    expect(c.socket).toBe('/env.sock');
    expect(c.logLevel).toBe('warn');
  });

  it('reads several default pools from one environment variable', () => {
    const c = resolveConfig({}, { WEFT_DEFAULT_ADDRESS_POOL: 'base=10.10.0.0/16,size=24;base=10.20.0.0/16,size=24' }, {});
    expect(c.defaultAddressPools).toEqual(['base=10.10.0.0/16,size=24', 'base=10.20.0.0/16,size=24']);
  });

  it('accepts camelCase keys in the file too', () => {
    expect(resolveConfig({}, {}, parseConfigFile('{"pluginDir": "/p"}', 'f')).pluginDir).toBe('/p');
  });

  it.each([
    [{ logLevel: 'loud' }, /log-level/],
    [{ store: 'consul://x' }, /store/],
    [{ stateDir: 'relative' }, /absolute/],
    [{ advertiseAddr: 'not-an-ip' }, /advertise-addr/],
    [{ socketGroup: 'bad group' }, /socket-group/],
    [{ vxlanTxChecksum: 'on' }, /vxlan-tx-checksum.*use auto or off/],
  ])('refuses %j', (flags, msg) => {
    expect(() => resolveConfig(flags, {}, {})).toThrow(msg);
  });

  it('refuses a config file that is not a JSON object or has unknown keys', () => {
    expect(() => parseConfigFile('{', 'f')).toThrow(/not valid JSON/);
    expect(() => parseConfigFile('[]', 'f')).toThrow(/JSON object/);
    expect(() => parseConfigFile('{"colour": 1}', 'f')).toThrow(/unknown setting "colour"/);
  });

  it('takes --vxlan-tx-checksum auto (the default) or off, from a flag, the environment or the file', () => {
    expect(resolveConfig({}, {}, {}).vxlanTxChecksum).toBe('auto');
    expect(resolveConfig({}, { WEFT_VXLAN_TX_CHECKSUM: 'off' }, {}).vxlanTxChecksum).toBe('off');
    expect(resolveConfig({}, {}, parseConfigFile('{"vxlan-tx-checksum": "off"}', 'f')).vxlanTxChecksum).toBe('off');
  });

  it('reads --docker-sync as auto, on or off from flags (true/false), environment and file, and --docker-socket as a path', () => {
    expect(resolveConfig({}, {}, {})).toMatchObject({ dockerSync: 'auto', dockerSocket: '/var/run/docker.sock' });
    expect(resolveConfig({ dockerSync: true }, {}, {}).dockerSync).toBe('on');
    expect(resolveConfig({ dockerSync: false }, { WEFT_DOCKER_SYNC: 'on' }, {}).dockerSync).toBe('off');
    expect(resolveConfig({}, { WEFT_DOCKER_SYNC: 'off' }, {}).dockerSync).toBe('off');
    expect(resolveConfig({}, {}, parseConfigFile('{"docker-sync": false, "docker-socket": "/run/d.sock"}', 'f'))).toMatchObject({ dockerSync: 'off', dockerSocket: '/run/d.sock' });
    expect(resolveConfig({}, { WEFT_DOCKER_SOCKET: '/x/docker.sock' }, {}).dockerSocket).toBe('/x/docker.sock');
    expect(() => resolveConfig({ dockerSync: 'sometimes' }, {}, {})).toThrow(/docker-sync.*use auto, on or off/);
    expect(() => resolveConfig({ dockerSocket: 'docker.sock' }, {}, {})).toThrow(/must be an absolute path/);
  });

  it('accepts etcd endpoints lists', () => {
    expect(resolveConfig({ store: 'etcd://127.0.0.1:2379,127.0.0.2:2379' }, {}, {}).store).toBe('etcd://127.0.0.1:2379,127.0.0.2:2379');
  });

  it('maps group names to gids from /etc/group', () => {
    expect(parseGroupFile('root:x:0:\ndocker:x:998:alice\n').get('docker')).toBe(998);
    expect(resolveGid('123')).toBe(123);
    expect(resolveGid('root')).toBe(0);
    expect(() => resolveGid('no-such-group-here')).toThrow(/no group named/);
  });
});
