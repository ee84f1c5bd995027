// Network sysctls, in the daemon's own namespace (files under /proc/sys, no process) or inside
// another namespace (`nsenter --net=PATH` + cat/tee: /proc/sys/net shows the net namespace of the
// process that reads it, so switching the net namespace is enough; the daemon itself never does).
//
// Names are dotted (net.ipv4.conf.br0.route_localnet) and validated before they become a path:
// only net.* keys, and an interface component (which may itself contain dots: br.0) must be a valid
// interface name or all/default. Values are short tokens without line breaks.

import { readFile, writeFile } from 'node:fs/promises';
import { ErrorCodes, WeftError } from '../model/errors.js';
import { isValidIfName, type SandboxRef } from '../model/network.js';
import { commandError, type CommandRunner } from './exec.js';
import { checkNetnsRef } from './link-ops.js';
import { NETNS_DIR, isValidNetnsName } from './netns.js';

export interface Sysctl {
  get(name: string): Promise<string>;
  set(name: string, value: string): Promise<void>;
}

export const SysctlToken = Symbol.for('weft.Sysctl');

const SEGMENT = /^[a-z0-9_]+$/;
/** Keys with an interface in the middle: net.ipv4.conf.IF.KEY, net.ipv6.neigh.IF.KEY ... */
const PER_INTERFACE = /^net\.(ipv4|ipv6)\.(conf|neigh)\.(.+)\.([a-z0-9_]+)$/;

/** /proc/sys path of a dotted sysctl name; throws INVALID_NAME for anything else. */
export function sysctlPath(name: string): string {
  const bad = (why: string) => new WeftError(ErrorCodes.INVALID_NAME, `sysctl ${JSON.stringify(name)} is not valid: ${why}`);
  if (typeof name !== 'string' || name.length > 200) throw bad('expected a dotted name like net.ipv4.ip_forward');
  const m = PER_INTERFACE.exec(name);
  if (m) {
    const [, family, table, iface, key] = m as unknown as [string, string, string, string, string];
    if (iface !== 'all' && iface !== 'default' && !isValidIfName(iface)) throw bad(`interface ${JSON.stringify(iface)} is not a valid interface name`);
    return `/proc/sys/net/${family}/${table}/${iface}/${key}`;
  }
  const parts = name.split('.');
  if (parts[0] !== 'net' || parts.length < 3 || !parts.every((p) => SEGMENT.test(p))) {
    throw bad('only net.* keys of lower-case letters, digits and _ are accepted');
  }
  return `/proc/sys/${parts.join('/')}`;
}

export function checkSysctlValue(name: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256 || !/^[A-Za-z0-9_.:\- \t]+$/.test(value)) {
    throw new WeftError(ErrorCodes.INVALID_OPTION, `value ${JSON.stringify(value)} for sysctl ${name} is not valid: a short token of letters, digits, spaces and _ . : -`);
  }
}

function sysctlError(name: string, action: 'read' | 'write', e: unknown): WeftError {
  const code = (e as { code?: string }).code;
  const hint = code === 'ENOENT' ? ' (no such key: is the interface there, is the module loaded?)' : '';
  return new WeftError(ErrorCodes.COMMAND_FAILED, `cannot ${action} sysctl ${name}: ${code ?? String(e)}${hint}`, { cause: e, details: { sysctl: name } });
}

/** The daemon's own namespace, through /proc/sys directly. */
export class ProcSysctl implements Sysctl {
  async get(name: string): Promise<string> {
    const path = sysctlPath(name);
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch (e) {
      throw sysctlError(name, 'read', e);
    }
  }

  async set(name: string, value: string): Promise<void> {
    const path = sysctlPath(name);
    checkSysctlValue(name, value);
    try {
      await writeFile(path, value);
    } catch (e) {
      throw sysctlError(name, 'write', e);
    }
  }
}

/** Another namespace, named or by path. */
export class NetnsSysctl implements Sysctl {
  constructor(
    private readonly runner: CommandRunner,
    private readonly ns: SandboxRef,
  ) {
    checkNetnsRef(ns);
  }

  async get(name: string): Promise<string> {
    const argv = ['nsenter', `--net=${this.ns.path}`, '--', 'cat', sysctlPath(name)];
    const r = await this.runner.run(argv, { check: false });
    if (r.code !== 0) throw commandError(argv, r, `cannot read sysctl ${name}`);
    return r.stdout.trim();
  }

  async set(name: string, value: string): Promise<void> {
    const path = sysctlPath(name);
    checkSysctlValue(name, value);
    // tee writes its input to the file in one write(2), which is what /proc/sys expects.
    const argv = ['nsenter', `--net=${this.ns.path}`, '--', 'tee', path];
    const r = await this.runner.run(argv, { input: value, check: false });
    if (r.code !== 0) throw commandError(argv, r, `cannot write sysctl ${name}=${value}`);
  }
}

/** The daemon's namespace by default; a named namespace for tests and the lab. */
export function createSysctl(runner: CommandRunner, opts: { netns?: string } = {}): Sysctl {
  if (opts.netns === undefined) return new ProcSysctl();
  if (!isValidNetnsName(opts.netns)) throw new WeftError(ErrorCodes.INVALID_NAME, `network namespace name ${JSON.stringify(opts.netns)} is not valid`);
  return new NetnsSysctl(runner, { name: opts.netns, path: `${NETNS_DIR}/${opts.netns}` });
}
