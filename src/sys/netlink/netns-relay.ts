// rtnetlink sockets inside other network namespaces through weft's netns relay
// (native/netns-relay.c): one long-lived helper process that enters a namespace ITSELF for each
// socket(2) and relays datagrams over its stdin/stdout. weftd never changes its own namespace
// (design.md), and an attach spawns no process (issue 8): the relay is started once, at first use,
// and again at the next use if it died.
//
// Each session looks like the `netlink` package's RawNetlinkSocket (message events, send, close,
// address, ref/unref), so the package's NetlinkSocket and RtNetlinkSocket run over it unchanged
// and NetlinkSandbox / NetlinkLinkOps need not know where their socket lives.
//
// Frames (both ways): [u32 len][u32 session][u8 type][len bytes], little-endian; the C file has
// the full description.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';
import type * as Netlink from 'netlink';
import { ErrorCodes, WeftError } from '../../model/errors.js';
import type { SandboxRef } from '../../model/network.js';
import { loadNetlink } from './netlink-link-ops.js';

type NetlinkModule = typeof Netlink;
type RtSocket = Netlink.RtNetlinkSocket;

const T_OPEN = 1;
const T_SEND = 2;
const T_CLOSE = 3;
const T_NSFD = 4;
const T_OPENED = 0x81;
const T_ERROR = 0x82;
const T_RECV = 0x83;
const HDR = 9;
/** The relay's limit (MAX_PAYLOAD in netns-relay.c). */
const MAX_PAYLOAD = 1 << 20;
const MAX_PATH = 4095;

/** dist/native/weft-netns-relay seen from dist/src/sys/netlink (the daemon) or src/sys/netlink (tests). */
const CANDIDATES = ['../../../native/weft-netns-relay', '../../../dist/native/weft-netns-relay'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));

/** The built relay, or why there is none (scripts/build-native.mjs builds it when a C compiler exists). */
export function findNetnsRelay(): { file?: string; reason?: string } {
  const file = CANDIDATES.find((f) => existsSync(f));
  return file ? { file } : { reason: `the netns relay is not built (looked for ${CANDIDATES.join(', ')}; scripts/build-native.mjs builds it with cc)` };
}

/** What the relay needs from a logger (pino's Logger fits). */
export interface RelayLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface NetnsRelayOptions {
  /** Called once per relay process started: weftd counts it in weft_process_spawns_total. */
  onSpawn?: () => void;
  logger?: RelayLogger;
  nl?: NetlinkModule;
}

type SendCallback = (error?: Error) => void;

/** One session: a RawNetlinkSocket look-alike whose datagrams go through the relay. */
class RelayRawSocket extends EventEmitter {
  port = 0;
  state: 'opening' | 'open' | 'closed' = 'opening';
  failure?: WeftError;
  owner?: { failPending(err: Error): void };
  /** What the netlink package asked for (it refs the socket while a request waits). */
  private wantRef = true;
  readonly ready: Promise<void>;
  private settle!: (err?: WeftError) => void;

  constructor(
    private readonly relay: NetnsRelay,
    readonly id: number,
    readonly where: string,
  ) {
    super();
    this.ready = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err ? reject(err) : resolve());
    });
    this.ready.catch(() => undefined); // observed by open(); a bare openNow() sees it on requests
  }

  /** The package hands over one buffer or a list of them (its message formatter makes a list). */
  send(msg: Uint8Array | Uint8Array[], _options: unknown, callback?: SendCallback): void {
    const err =
      this.state === 'closed'
        ? (this.failure ?? new WeftError(ErrorCodes.COMMAND_FAILED, `netlink socket in ${this.where} is closed`))
        : this.relay.write(this.id, T_SEND, Array.isArray(msg) ? msg : [msg]);
    if (err) queueMicrotask(() => (callback ? callback(err) : this.emit('error', err)));
    else callback?.();
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.relay.forget(this, true);
    this.emit('close');
  }

  address(): { port: number; groups: number } {
    return { port: this.port, groups: 0 };
  }

  ref(): void {
    this.wantRef = true;
    this.syncRef();
  }

  unref(): void {
    this.wantRef = false;
    this.syncRef();
  }

  /** Waiting for OPENED keeps the event loop alive too (a script with nothing else to wait on). */
  syncRef(): void {
    this.relay.setRef(this, this.wantRef || this.state === 'opening');
  }

  opened(port: number): void {
    if (this.state !== 'opening') return;
    this.port = port;
    this.state = 'open';
    this.syncRef();
    this.settle();
  }

  /** The session is over (open refused, socket error, relay gone): every waiting request fails. */
  fail(err: WeftError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.failure = err;
    this.relay.forget(this, false);
    this.settle(err);
    this.owner?.failPending(err);
  }
}

function errnoName(errno: number): string {
  const e = Object.entries(osConstants.errno).find(([, v]) => v === errno);
  return e ? e[0] : `errno ${errno}`;
}

export class NetnsRelay {
  private child?: ChildProcessWithoutNullStreams;
  private readonly sessions = new Map<number, RelayRawSocket>();
  private readonly referenced = new Set<RelayRawSocket>();
  private nextId = 1;
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private stderrTail = '';
  private readonly nl: NetlinkModule;
  private readonly RelayNetlinkSocket: new (raw: RelayRawSocket) => Netlink.NetlinkSocket;

  constructor(
    readonly file: string,
    private readonly opts: NetnsRelayOptions = {},
  ) {
    this.nl = opts.nl ?? loadNetlink();
    // NetlinkSocket keeps its waiting requests in a protected map: a subclass can fail them at
    // once when the relay dies, instead of letting each wait for its timeout.
    this.RelayNetlinkSocket = class extends this.nl.NetlinkSocket {
      constructor(raw: RelayRawSocket) {
        super(raw as unknown as Netlink.RawNetlinkSocket);
        raw.owner = this;
      }
      failPending(err: Error): void {
        for (const cb of this.requests.values()) cb(err);
      }
    };
  }

  /** The relay's PID while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** An rtnetlink socket living in the namespace at ref.path, once the relay has made it. */
  async open(ref: SandboxRef): Promise<RtSocket> {
    const sock = this.openNow(ref);
    try {
      await (sock.socket.socket as unknown as RelayRawSocket).ready;
    } catch (e) {
      sock.socket.close();
      throw e;
    }
    return sock;
  }

  /** The same, returned at once: requests can be sent right away (the relay handles frames in
   *  order); if the namespace cannot be entered, they fail with the open's error. For code that
   *  creates its sockets synchronously (NetlinkLinkOps' createRtNetlink). */
  openNow(ref: SandboxRef): RtSocket {
    const raw = new RelayRawSocket(this, this.newId(), ref.name ?? ref.path);
    const nlSocket = new this.RelayNetlinkSocket(raw);
    this.start(raw, T_OPEN, ref.path);
    return new this.nl.RtNetlinkSocket(nlSocket);
  }

  /**
   * A descriptor of the namespace at path, held by the relay, for IFLA_NET_NS_FD in requests on
   * this relay's sockets: the kernel resolves that attribute in the table of the process that
   * sends the request, which is the relay, not weftd. close() releases it.
   */
  async nsFd(ref: SandboxRef): Promise<{ fd: number; close(): void }> {
    const raw = new RelayRawSocket(this, this.newId(), ref.name ?? ref.path);
    this.start(raw, T_NSFD, ref.path);
    await raw.ready;
    return { fd: raw.port, close: () => raw.close() };
  }

  private newId(): number {
    let id = this.nextId;
    while (id === 0 || this.sessions.has(id)) id = (id + 1) >>> 0;
    this.nextId = (id + 1) >>> 0;
    return id;
  }

  private start(raw: RelayRawSocket, type: number, path: string): void {
    if (typeof path !== 'string' || path.length === 0 || Buffer.byteLength(path) > MAX_PATH || path.includes('\0')) {
      throw new WeftError(ErrorCodes.INVALID_OPTION, `namespace path ${JSON.stringify(path)} is not valid`);
    }
    this.sessions.set(raw.id, raw);
    raw.syncRef();
    const err = this.ensureStarted() ?? this.write(raw.id, type, [Buffer.from(path, 'utf8')]);
    if (err) raw.fail(err);
  }

  /** Ends the relay (its stdin closes; it exits). The next open starts a new one. */
  close(): void {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    this.failAll(new WeftError(ErrorCodes.COMMAND_FAILED, 'the netns relay was closed'));
    child.stdin.end();
  }

  /** @internal a frame to the relay; an error when there is no relay to write to. */
  write(session: number, type: number, payload: Uint8Array[] = []): WeftError | undefined {
    const child = this.child;
    if (!child) return new WeftError(ErrorCodes.COMMAND_FAILED, 'the netns relay is not running');
    const len = payload.reduce((n, b) => n + b.length, 0);
    if (len > MAX_PAYLOAD) return new WeftError(ErrorCodes.INVALID_OPTION, `netlink message of ${len} bytes is over the relay's limit`);
    const h = Buffer.allocUnsafe(HDR);
    h.writeUInt32LE(len, 0);
    h.writeUInt32LE(session, 4);
    h.writeUInt8(type, 8);
    // One write per frame: the relay reads whole frames, and one pipe write is one wake-up.
    child.stdin.write(Buffer.concat([h, ...payload], HDR + len));
    return undefined;
  }

  /** @internal */
  forget(raw: RelayRawSocket, tellRelay: boolean): void {
    if (this.sessions.get(raw.id) !== raw) return;
    this.sessions.delete(raw.id);
    this.setRef(raw, false);
    if (tellRelay) this.write(raw.id, T_CLOSE);
  }

  /** @internal the relay keeps weftd's event loop alive only while a session waits for a reply. */
  setRef(raw: RelayRawSocket, on: boolean): void {
    if (on && this.sessions.has(raw.id)) this.referenced.add(raw);
    else this.referenced.delete(raw);
    this.applyRef();
  }

  private applyRef(): void {
    const out = this.child?.stdout as Socket | undefined;
    if (this.referenced.size > 0) out?.ref();
    else out?.unref();
  }

  private ensureStarted(): WeftError | undefined {
    if (this.child) return undefined;
    let child: ChildProcessWithoutNullStreams;
    try {
      // The PID lets the relay check that its parent is still this process (PR_SET_PDEATHSIG).
      child = spawn(this.file, [String(process.pid)], { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      return new WeftError(ErrorCodes.COMMAND_FAILED, `cannot start the netns relay ${this.file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    this.opts.onSpawn?.();
    this.child = child;
    this.pending = [];
    this.pendingLen = 0;
    this.stderrTail = '';
    child.stdout.on('data', (chunk: Buffer) => this.receive(child, chunk));
    child.stderr.on('data', (chunk: Buffer) => (this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-500)));
    child.stdin.on('error', () => undefined); // EPIPE when it died: 'exit' reports that
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      const err = new WeftError(ErrorCodes.COMMAND_FAILED, `the netns relay (pid ${child.pid ?? '?'}) ${why}${this.stderrTail ? `: ${this.stderrTail.trim()}` : ''}; the next attach starts a new one`);
      this.opts.logger?.warn({ pid: child.pid, reason: err.message }, 'netns relay gone');
      this.failAll(err);
    };
    child.on('error', (e) => gone(`failed: ${e.message}`));
    child.on('exit', (code, signal) => gone(signal ? `was killed by ${signal}` : `exited with code ${code}`));
    // Neither the process nor its pipes keep weftd alive (setRef refs stdout while a request waits).
    child.unref();
    (child.stdin as unknown as Socket).unref?.();
    (child.stderr as Socket).unref();
    this.applyRef();
    this.opts.logger?.info({ pid: child.pid, file: this.file }, 'netns relay started');
    return undefined;
  }

  private failAll(err: WeftError): void {
    for (const raw of [...this.sessions.values()]) raw.fail(err);
  }

  private receive(child: ChildProcessWithoutNullStreams, chunk: Buffer): void {
    if (this.child !== child) return;
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    if (this.pendingLen < HDR) return;
    let buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLen);
    let off = 0;
    while (buf.length - off >= HDR) {
      const len = buf.readUInt32LE(off);
      if (buf.length - off < HDR + len) break;
      const id = buf.readUInt32LE(off + 4);
      const type = buf.readUInt8(off + 8);
      // A copy: the netlink package keeps parsed messages that point into the buffer.
      const payload = Buffer.from(buf.subarray(off + HDR, off + HDR + len));
      off += HDR + len;
      this.dispatch(id, type, payload);
    }
    buf = buf.subarray(off);
    this.pending = buf.length ? [buf] : [];
    this.pendingLen = buf.length;
  }

  private dispatch(id: number, type: number, payload: Buffer): void {
    const raw = this.sessions.get(id);
    if (!raw) return; // a session closed meanwhile
    if (type === T_RECV) raw.emit('message', payload, { port: 0, groups: 0, truncated: false });
    else if (type === T_OPENED && payload.length >= 4) raw.opened(payload.readUInt32LE(0));
    else if (type === T_ERROR && payload.length >= 4) raw.fail(this.errorOf(raw, payload.readUInt32LE(0), payload.subarray(4).toString('utf8')));
  }

  private errorOf(raw: RelayRawSocket, errno: number, text: string): WeftError {
    const name = errnoName(errno);
    if (raw.state === 'opening' && (name === 'ENOENT' || name === 'EINVAL')) {
      const msg = name === 'ENOENT' ? `network namespace ${raw.where} does not exist` : `${raw.where} is not a network namespace weft can enter (${text})`;
      return new WeftError(ErrorCodes.NETNS_NOT_FOUND, msg, { details: { errno: name } });
    }
    const what = raw.state === 'opening' ? `opening a netlink socket in ${raw.where}` : `the netlink socket in ${raw.where}`;
    return new WeftError(ErrorCodes.COMMAND_FAILED, `${what} failed: ${text || name}`, { details: { errno: name } });
  }
}
