// weft's netns relay (native/netns-relay.c + src/sys/netlink/netns-relay.ts) on the real kernel:
// sockets it opens live in the namespace asked for (not in the test runner's), the package's
// RtNetlinkSocket runs over them unchanged, bad paths are refused with a code, a killed relay
// fails what was waiting at once and the next use starts a new one, and the relay never outlives
// its parent. The raw frames are checked too (the relay validates what weftd sends).

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { findNetnsRelay, NetnsRelay } from '../../src/sys/netlink/netns-relay.js';
import { netnsScopePerFile, type Netns } from '../helpers/netns.js';
import { isAlive, killPids, signal, waitForExit } from '../helpers/process.js';

const relayFile = findNetnsRelay().file;
const scope = netnsScopePerFile();
const pids: number[] = [];
const relays: NetnsRelay[] = [];
const tmp = mkdtempSync(path.join(tmpdir(), 'weft-relay-test-'));
afterEach(async () => {
  for (const r of relays.splice(0)) r.close();
  await killPids(pids.splice(0));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function newRelay(onSpawn?: () => void): NetnsRelay {
  const r = new NetnsRelay(relayFile!, onSpawn ? { onSpawn } : {});
  relays.push(r);
  return r;
}

const ref = (ns: Netns) => ({ name: ns.name, path: ns.path });

/** A bridge only this namespace has: finding it proves where the socket lives. */
async function nsWithMarker(link: string): Promise<Netns> {
  const ns = await scope.create();
  await ns.ip(['link', 'add', link, 'type', 'bridge']);
  return ns;
}

it('is built (npm run build)', () => {
  expect(relayFile).toBeDefined();
});

describe('NetnsRelay', () => {
  it('opens a socket inside the namespace asked for, and RtNetlinkSocket requests are answered there', async () => {
    const a = await nsWithMarker('wtrla');
    const b = await nsWithMarker('wtrlb');
    let spawns = 0;
    const relay = newRelay(() => spawns++);
    const sa = await relay.open(ref(a));
    const sb = await relay.open(ref(b));
    try {
      const namesA = (await sa.getLinks()).map((l) => l.attrs.ifname);
      const namesB = (await sb.getLinks()).map((l) => l.attrs.ifname);
      expect(namesA).toContain('wtrla');
      expect(namesA).not.toContain('wtrlb');
      expect(namesB).toContain('wtrlb');
      expect(namesB).not.toContain('wtrla');
      // A change made over the relay happens in that namespace.
      await sa.setLink({}, { ifname: 'wtrla', mtu: 1300 });
      expect(JSON.parse((await a.ip(['-j', 'link', 'show', 'wtrla'])).stdout)[0].mtu).toBe(1300);
      // A request the kernel refuses fails as any netlink request does (ENODEV here).
      await expect(sa.getLink({}, { ifname: 'wtnone0' })).rejects.toThrow(/ENODEV|No such device/);
    } finally {
      sa.socket.close();
      sb.socket.close();
    }
    // One process for everything, and it is not in either namespace (it went back home).
    expect(spawns).toBe(1);
    expect(readlinkSync(`/proc/${relay.pid}/ns/net`)).toBe(readlinkSync('/proc/self/ns/net'));
  });

  it('refuses a missing path, a file that is not a namespace, and a malformed path, with codes', async () => {
    const relay = newRelay();
    await expect(relay.open({ path: '/var/run/netns/wt-nothere0' })).rejects.toMatchObject({ code: 'WEFT_ERR_NETNS_NOT_FOUND', message: expect.stringMatching(/does not exist/) });
    const plain = path.join(tmp, 'plain');
    writeFileSync(plain, 'x');
    await expect(relay.open({ path: plain })).rejects.toMatchObject({ code: 'WEFT_ERR_NETNS_NOT_FOUND', message: expect.stringMatching(/not a network namespace/) });
    await expect(relay.open({ path: '/proc/self/ns/mnt' })).rejects.toMatchObject({ code: 'WEFT_ERR_NETNS_NOT_FOUND' });
    await expect(relay.nsFd({ path: plain })).rejects.toMatchObject({ code: 'WEFT_ERR_NETNS_NOT_FOUND' });
    await expect(relay.open({ path: 'bad\0path' })).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_OPTION' });
    await expect(relay.open({ path: '' })).rejects.toMatchObject({ code: 'WEFT_ERR_INVALID_OPTION' });
    // The relay is still there and works after refusals.
    const ns = await nsWithMarker('wtrlc');
    const s = await relay.open(ref(ns));
    expect((await s.getLink({}, { ifname: 'wtrlc' }))[0]?.attrs.ifname).toBe('wtrlc');
    s.socket.close();
  });

  it('fails a waiting request at once when the relay is killed, and the next open starts a new relay', async () => {
    const ns = await nsWithMarker('wtrld');
    let spawns = 0;
    const relay = newRelay(() => spawns++);
    const s = await relay.open(ref(ns));
    const first = relay.pid!;
    // Stopped, the relay cannot answer: the request waits; then it is killed.
    signal(first, 'SIGSTOP');
    const waiting = s.getLink({}, { ifname: 'wtrld' }, { timeout: 60_000 });
    const settled = waiting.then(
      () => 'answered',
      (e: unknown) => e,
    );
    signal(first, 'SIGKILL');
    const err = await settled;
    expect(err).toMatchObject({ code: 'WEFT_ERR_COMMAND_FAILED', message: expect.stringMatching(/netns relay \(pid \d+\) was killed by SIGKILL/) });
    expect(await waitForExit([first], 10_000)).toEqual([]);
    // The dead session stays failed.
    await expect(s.getLink({}, { ifname: 'wtrld' })).rejects.toMatchObject({ code: 'WEFT_ERR_COMMAND_FAILED' });
    s.socket.close();
    // Next use: a new relay.
    const again = await relay.open(ref(ns));
    expect(relay.pid).toBeDefined();
    expect(relay.pid).not.toBe(first);
    expect(spawns).toBe(2);
    expect((await again.getLink({}, { ifname: 'wtrld' }))[0]?.attrs.ifname).toBe('wtrld');
    again.socket.close();
  });

  it('exits when its stdin closes', async () => {
    const relay = newRelay();
    const ns = await scope.create();
    (await relay.open(ref(ns))).socket.close();
    const pid = relay.pid!;
    expect(isAlive(pid)).toBe(true);
    relay.close();
    expect(await waitForExit([pid], 10_000)).toEqual([]);
  });

  it('does not outlive its parent killed with SIGKILL', async () => {
    const ns = await scope.create();
    const mod = fileURLToPath(new URL('../../src/sys/netlink/netns-relay.ts', import.meta.url));
    const register = fileURLToPath(new URL('../helpers/ts-register.mjs', import.meta.url));
    // A parent that opens a session, prints the relay's PID and waits for ever.
    const script = `const { NetnsRelay, findNetnsRelay } = await import(${JSON.stringify(mod)});
      const r = new NetnsRelay(findNetnsRelay().file);
      const s = await r.open({ path: ${JSON.stringify(ns.path)} });
      process.stdout.write(String(r.pid) + '\\n');
      setInterval(() => s, 1000);`;
    const parent = spawn(process.execPath, ['--import', register, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    pids.push(parent.pid!);
    const relayPid = await new Promise<number>((resolve, reject) => {
      let out = '';
      let errText = '';
      parent.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
      parent.stderr.on('data', (c: Buffer) => (errText += c.toString()));
      parent.on('exit', (code) => reject(new Error(`parent exited (${code}): ${errText}`)));
    });
    pids.push(relayPid);
    expect(isAlive(relayPid)).toBe(true);
    signal(parent.pid!, 'SIGKILL');
    expect(await waitForExit([parent.pid!, relayPid], 10_000)).toEqual([]);
  });
});

/** The relay binary spoken to directly, frame by frame. */
class RawRelay {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  send(session: number, type: number, payload: Buffer = Buffer.alloc(0), len = payload.length): void {
    const h = Buffer.alloc(9);
    h.writeUInt32LE(len, 0);
    h.writeUInt32LE(session, 4);
    h.writeUInt8(type, 8);
    this.child.stdin.write(Buffer.concat([h, payload]));
  }

  async next(): Promise<{ session: number; type: number; payload: Buffer }> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (this.buf.length >= 9 && this.buf.length >= 9 + this.buf.readUInt32LE(0)) {
        const len = this.buf.readUInt32LE(0);
        const f = { session: this.buf.readUInt32LE(4), type: this.buf.readUInt8(8), payload: this.buf.subarray(9, 9 + len) };
        this.buf = this.buf.subarray(9 + len);
        return f;
      }
      if (Date.now() > deadline) throw new Error('no frame from the relay');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 500);
      });
    }
  }
}

describe('weft-netns-relay frames', () => {
  function start(args: string[] = [String(process.pid)]): RawRelay {
    const child = spawn(relayFile!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    pids.push(child.pid!);
    return new RawRelay(child);
  }
  const EINVAL = 22;
  const EEXIST = 17;
  const EBADF = 9;

  it('answers OPEN with OPENED, refuses a reused session id and bad paths with ERROR, and a SEND on no session with the NLMSG_ERROR the kernel would send', async () => {
    const ns = await scope.create();
    const r = start();
    r.send(7, 1, Buffer.from(ns.path));
    expect(await r.next()).toMatchObject({ session: 7, type: 0x81 });
    r.send(7, 1, Buffer.from(ns.path));
    const dup = await r.next();
    expect(dup).toMatchObject({ session: 7, type: 0x82 });
    expect(dup.payload.readUInt32LE(0)).toBe(EEXIST);
    r.send(8, 1, Buffer.from('a\0b'));
    expect((await r.next()).payload.readUInt32LE(0)).toBe(EINVAL);
    r.send(9, 1, Buffer.from(tmp));
    expect((await r.next()).payload.readUInt32LE(0)).toBe(EINVAL); // a directory, not a namespace file
    // nlmsghdr: len 16, type RTM_GETLINK (18), flags REQUEST|ACK, seq 42, pid 0.
    const msg = Buffer.alloc(16);
    msg.writeUInt32LE(16, 0);
    msg.writeUInt16LE(18, 4);
    msg.writeUInt16LE(0x5, 6);
    msg.writeUInt32LE(42, 8);
    r.send(99, 2, msg);
    const refused = await r.next();
    expect(refused).toMatchObject({ session: 99, type: 0x83 });
    expect(refused.payload.readUInt16LE(4)).toBe(2); // NLMSG_ERROR
    expect(refused.payload.readUInt32LE(8)).toBe(42); // the request's seq
    expect(refused.payload.readInt32LE(16)).toBe(-EBADF);
    r.child.stdin.end();
    expect(await r.exited).toBe(0);
  });

  it('exits on a frame longer than its limit and on an unknown type, saying why', async () => {
    const a = start();
    let errA = '';
    a.child.stderr.on('data', (c: Buffer) => (errA += c.toString()));
    a.send(1, 2, Buffer.alloc(0), (1 << 20) + 1);
    expect(await a.exited).toBe(2);
    expect(errA).toMatch(/longer than the limit/);
    const b = start();
    b.send(1, 0x42);
    expect(await b.exited).toBe(2);
  });

  it('exits at once when started by a process that is not its parent any more', async () => {
    const r = start(['1']);
    expect(await r.exited).toBe(0);
  });
});
