// The host id kept in <state-dir>/host-id, and the membership records' decoding.

import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOST_ID_FILE, loadOrCreateHostId } from '../../../src/cluster/host-id.js';
import { decodeHost, decodeHostInfo, hostInfoOf, stateOf } from '../../../src/cluster/host-records.js';
import { createMembership, resolveHostId } from '../../../src/cluster/setup.js';
import { ErrorCodes } from '../../../src/model/errors.js';
import { ProcessRunner } from '../../../src/sys/exec.js';
import { openLocalStore } from '../../../src/store/local-store.js';
import { pino } from 'pino';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-hostid-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadOrCreateHostId', () => {
  it('creates the id once (in a missing state dir too) and returns the same one after', async () => {
    const stateDir = join(dir, 'state');
    const id = await loadOrCreateHostId(stateDir);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(await readFile(join(stateDir, HOST_ID_FILE), 'utf8')).toBe(`${id}\n`);
    expect(await loadOrCreateHostId(stateDir)).toBe(id);
    expect(await readdir(stateDir)).toEqual([HOST_ID_FILE]); // no temp file left
  });

  it('keeps an id an operator wrote (surrounding blanks ignored)', async () => {
    await writeFile(join(dir, HOST_ID_FILE), '  node-7.example \n');
    expect(await loadOrCreateHostId(dir)).toBe('node-7.example');
  });

  it('refuses a damaged file instead of becoming a new host, and a relative state dir', async () => {
    await writeFile(join(dir, HOST_ID_FILE), 'not/an id');
    await expect(loadOrCreateHostId(dir)).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION, message: expect.stringContaining(join(dir, HOST_ID_FILE)) });
    await expect(loadOrCreateHostId('relative/dir')).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION });
  });

  it('says which file it could not write', async () => {
    if (process.getuid?.() === 0) return; // root writes anywhere: the permission cannot fail here
    await chmod(dir, 0o500);
    await expect(loadOrCreateHostId(dir)).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION, message: expect.stringContaining('cannot write the host id file') });
  });
});

describe('membership records', () => {
  const rec = { id: 'h1', hostname: 'a', advertiseAddr: '192.0.2.1', version: '1', startedAt: '2026-01-01T00:00:00Z' };
  const info = { ...rec, firstSeen: '2026-01-01T00:00:00Z', lastSeen: '2026-01-01T00:01:00Z' };

  it('decodes what weft writes and refuses anything else with STORE_SCHEMA', () => {
    expect(decodeHost('hosts/h1', rec)).toEqual(rec);
    expect(decodeHostInfo('host-info/h1', info)).toEqual(info);
    for (const [key, v] of [
      ['hosts/h1', null],
      ['hosts/h1', { ...rec, hostname: 3 }],
      ['hosts/h2', rec],
      ['host-info/h1', rec],
      ['host-info/h1', { ...info, gone: { reason: 'bored' } }],
    ] as const) {
      const decode = key.startsWith('hosts/') ? decodeHost : decodeHostInfo;
      expect(() => decode(key, v), `${key} ${JSON.stringify(v)}`).toThrow(expect.objectContaining({ code: ErrorCodes.STORE_SCHEMA }));
    }
  });

  it('derives the state: lease key = up; else a gone mark = gone; else lost', () => {
    const gone = { ...info, gone: { at: 'x', reason: 'probe' as const, by: 'h2' } };
    expect(stateOf(rec, info)).toBe('up');
    expect(stateOf(rec, gone)).toBe('up'); // back before its own refresh cleared the mark
    expect(stateOf(undefined, info)).toBe('lost');
    expect(stateOf(undefined, gone)).toBe('gone');
    expect(stateOf(undefined, undefined)).toBeUndefined();
    expect(hostInfoOf(rec, gone)).not.toHaveProperty('gone');
    expect(hostInfoOf(undefined, gone)).toMatchObject({ state: 'gone', gone: { reason: 'probe' }, lastSeen: info.lastSeen });
  });
});

describe('weftd set-up helpers', () => {
  it('resolveHostId: --host-id wins, else the state dir file; createMembership registers this host', async () => {
    expect(await resolveHostId({ stateDir: dir, hostId: 'given' })).toBe('given');
    const id = await resolveHostId({ stateDir: dir });
    expect(await resolveHostId({ stateDir: dir })).toBe(id);
    const store = await openLocalStore({ path: join(dir, 'store') });
    try {
      const m = createMembership({ hostTtl: 2, hostDeadAfter: 5, advertiseAddr: '192.0.2.7' }, id, {
        store,
        runner: new ProcessRunner(),
        version: '9.9.9',
        logger: pino({ level: 'silent' }),
        hostname: 'box',
      });
      await m.start();
      expect(await m.hosts()).toMatchObject([{ id, hostname: 'box', advertiseAddr: '192.0.2.7', version: '9.9.9', state: 'up' }]);
      await m.stop();
      expect(await m.hosts()).toMatchObject([{ id, state: 'lost' }]);
    } finally {
      await store.close();
    }
  });
});
