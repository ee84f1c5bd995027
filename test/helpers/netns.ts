// Throw-away network namespaces for tests: unique names per run, commands inside them, veth pairs
// between them, and a registry that deletes what a test made in afterEach/afterAll, also when the
// test failed. Every command is an argv array with a timeout.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cleanAfterAll, cleanAfterEach, CleanupStack, tryAll } from './cleanup-stack.js';
import { run, runOk, type RunOptions, type RunResult } from './process.js';

/** Prefix of every namespace and link the test helpers name (weft's own links start with `wf`). */
export const TEST_PREFIX = 'wt-';
/** The kernel's limit for interface names (IFNAMSIZ - 1); we keep namespace names within it too. */
export const MAX_NAME = 15;
const NETNS_DIR = '/run/netns';
const IP_TIMEOUT_MS = 10_000;

/** A fresh name such as `wt-k3x9q2`: the prefix plus 6 random base-36 characters (9 in all). */
export function uniqueName(prefix = TEST_PREFIX): string {
  const bytes = randomBytes(6);
  let suffix = '';
  for (const b of bytes) suffix += (b % 36).toString(36);
  const name = `${prefix}${suffix}`;
  assertName(name);
  return name;
}

/**
 * Names go into argv for `ip` and into /run/netns paths, so only a conservative alphabet is
 * accepted: it cannot start with '-', contain '/', or exceed the interface-name limit.
 */
export function assertName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(name) || name.length > MAX_NAME) {
    throw new Error(`bad namespace or link name ${JSON.stringify(name)}: use [A-Za-z0-9_.-], at most ${MAX_NAME} characters, not starting with '-' or '.'`);
  }
}

export function netnsPath(name: string): string {
  assertName(name);
  return `${NETNS_DIR}/${name}`;
}

export function netnsExists(name: string): boolean {
  return existsSync(netnsPath(name));
}

/** Creates a named namespace with `lo` up. Prefer `NetnsScope.create`, which also cleans up. */
export async function createNetns(name = uniqueName()): Promise<Netns> {
  assertName(name);
  await runOk(['ip', 'netns', 'add', name], { timeoutMs: IP_TIMEOUT_MS });
  try {
    await runOk(['ip', '-n', name, 'link', 'set', 'lo', 'up'], { timeoutMs: IP_TIMEOUT_MS });
  } catch (e) {
    await deleteNetns(name);
    throw e;
  }
  return new Netns(name);
}

/** Deletes a namespace; one that is already gone counts as deleted. */
export async function deleteNetns(name: string): Promise<void> {
  assertName(name);
  if (!netnsExists(name)) return;
  const r = await run(['ip', 'netns', 'delete', name], { timeoutMs: IP_TIMEOUT_MS });
  if (r.code !== 0 && netnsExists(name)) {
    throw new Error(`ip netns delete ${name} failed (code ${r.code}): ${r.stderr.trim()}`);
  }
}

/**
 * Runs argv inside the namespace with `ip netns exec` (which also gives the command a /sys that
 * shows the namespace's own interfaces). Resolves whatever the exit code.
 */
export function netnsExec(name: string, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  assertName(name);
  return run(['ip', 'netns', 'exec', name, ...argv], { timeoutMs: IP_TIMEOUT_MS, ...opts });
}

/** `ip -n NAME ARGS...`; a non-zero exit is an error. */
export function netnsIp(name: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  assertName(name);
  return runOk(['ip', '-n', name, ...args], { timeoutMs: IP_TIMEOUT_MS, ...opts });
}

/** A handle on one named namespace. */
export class Netns {
  constructor(readonly name: string) {
    assertName(name);
  }

  get path(): string {
    return netnsPath(this.name);
  }

  /** Runs argv inside; resolves whatever the exit code (see `execOk`). */
  exec(argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return netnsExec(this.name, argv, opts);
  }

  /** Runs argv inside; a non-zero exit is an error carrying stderr. */
  async execOk(argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
    const r = await this.exec(argv, opts);
    if (r.code !== 0) {
      throw new Error(`in netns ${this.name}: ${argv.join(' ')} exited with ${r.code}: ${(r.stderr || r.stdout).trim()}`);
    }
    return r;
  }

  /** `ip -n NAME ARGS...`, failing on a non-zero exit. */
  ip(args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return netnsIp(this.name, args, opts);
  }

  /** `ip -j -n NAME ARGS...` parsed. */
  async ipJson<T = unknown>(args: readonly string[]): Promise<T> {
    const r = await runOk(['ip', '-j', '-n', this.name, ...args], { timeoutMs: IP_TIMEOUT_MS });
    return JSON.parse(r.stdout || '[]') as T;
  }

  /** Names of the links in the namespace. */
  async linkNames(): Promise<string[]> {
    const links = await this.ipJson<Array<{ ifname: string }>>(['link', 'show']);
    return links.map((l) => l.ifname);
  }
}

export interface VethEnd {
  ns: Netns;
  /** Interface name inside `ns`; default a fresh `wt-xxxxxx`. */
  name?: string;
  /** Address with prefix, e.g. `10.31.251.1/30`; the link is brought up either way. */
  cidr?: string;
}

/**
 * Creates a veth pair whose ends are born directly inside their namespaces (so the names never
 * collide with anything in the host namespace), assigns the optional addresses, sets both ends up.
 */
export async function createVethPair(a: VethEnd, b: VethEnd): Promise<{ a: string; b: string }> {
  const nameA = a.name ?? uniqueName();
  const nameB = b.name ?? uniqueName();
  assertName(nameA);
  assertName(nameB);
  await runOk(
    ['ip', 'link', 'add', nameA, 'netns', a.ns.name, 'type', 'veth', 'peer', 'name', nameB, 'netns', b.ns.name],
    { timeoutMs: IP_TIMEOUT_MS },
  );
  for (const [end, name] of [[a, nameA], [b, nameB]] as const) {
    if (end.cidr) await end.ns.ip(['addr', 'add', end.cidr, 'dev', name]);
    await end.ns.ip(['link', 'set', name, 'up']);
  }
  return { a: nameA, b: nameB };
}

/**
 * Remembers every namespace it created and deletes them all in `cleanup()`. Deleting a namespace
 * also destroys the links inside it, veth peers included, so links need no registry of their own.
 * What runs inside a namespace (weftd, a server) is registered with `defer` and ended first.
 */
export class NetnsScope {
  private readonly names = new Set<string>();
  private readonly deferred = new CleanupStack();

  async create(name?: string): Promise<Netns> {
    const ns = await createNetns(name);
    this.names.add(ns.name);
    return ns;
  }

  /** Takes over clean-up of a namespace made elsewhere. */
  adopt(name: string): Netns {
    const ns = new Netns(name);
    this.names.add(name);
    return ns;
  }

  /** A step for `cleanup()` to run before any namespace is deleted (newest first). */
  defer(step: () => Promise<unknown>): void {
    this.deferred.push(step);
  }

  get created(): readonly string[] {
    return [...this.names];
  }

  /**
   * Runs the deferred steps, then deletes every namespace of the scope; tries all of them and then
   * reports every failure (a namespace that could not be deleted stays in `created`).
   */
  async cleanup(): Promise<void> {
    const deleteAll = () =>
      tryAll(
        [...this.names].reverse().map((name) => async () => {
          await deleteNetns(name);
          this.names.delete(name);
        }),
        'netns',
      );
    await tryAll([() => this.deferred.run('netns scope'), deleteAll], 'netns scope');
  }
}

/** A scope cleaned up after every test of the calling file (call it at the top of a describe/file). */
export function netnsScopePerTest(): NetnsScope {
  return cleanAfterEach(new NetnsScope());
}

/** A scope cleaned up once, after the last test of the calling file or describe block. */
export function netnsScopePerFile(): NetnsScope {
  return cleanAfterAll(new NetnsScope());
}
