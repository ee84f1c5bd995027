// A container image without any registry: a root file system made of Debian's statically linked
// /bin/busybox (package busybox-static) plus one symlink per applet, imported with `docker import`.
// Every `docker run` in the tests uses this image and `--pull never`.

import { chmod, copyFile, mkdir, mkdtemp, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DockerdHandle } from './dockerd.js';
import { runOk } from './process.js';

export const BUSYBOX_IMAGE = 'weft-test/busybox:latest';
export const BUSYBOX_BINARY = '/bin/busybox';

/** Arguments every test container run should start with: never pull, always our image. */
export const RUN_DEFAULTS = ['--pull', 'never'] as const;

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\n';
// busybox udhcpc calls this script to apply a lease (deconfig/bound/renew).
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done ;;
esac
exit 0
`;

let tarball: Promise<Buffer> | undefined;

/**
 * The rootfs tarball, built once per test process and kept in memory (about 2 MB), so that no
 * file outlives the test run even when the worker is killed.
 */
export function busyboxTarball(): Promise<Buffer> {
  tarball ??= buildTarball().catch((e: unknown) => {
    tarball = undefined;
    throw e;
  });
  return tarball;
}

/** Imports the busybox image into the handle's dockerd (idempotent) and returns its tag. */
export async function importBusybox(handle: DockerdHandle, tag = BUSYBOX_IMAGE): Promise<string> {
  const tar = await busyboxTarball();
  await handle.dockerOk(['import', '--change', 'CMD ["sh"]', '-', tag], { input: tar, timeoutMs: 120_000 });
  return tag;
}

async function buildTarball(): Promise<Buffer> {
  await assertStatic(BUSYBOX_BINARY);
  const dir = await mkdtemp(join(tmpdir(), 'wt-busybox-'));
  try {
    const root = join(dir, 'rootfs');
    for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'root', 'run', 'var/run', 'var/www', 'usr/share/udhcpc']) {
      await mkdir(join(root, d), { recursive: true });
    }
    await mkdir(join(root, 'tmp'));
    await chmod(join(root, 'tmp'), 0o1777);
    await copyFile(BUSYBOX_BINARY, join(root, 'bin/busybox'));
    await chmod(join(root, 'bin/busybox'), 0o755);
    const list = await runOk([BUSYBOX_BINARY, '--list']);
    for (const applet of list.stdout.split('\n')) {
      if (!/^[A-Za-z0-9_.[\]-]+$/.test(applet) || applet === 'busybox') continue;
      await symlink('busybox', join(root, 'bin', applet));
    }
    await writeFile(join(root, 'etc/passwd'), PASSWD);
    await writeFile(join(root, 'etc/group'), GROUP);
    await writeFile(join(root, 'usr/share/udhcpc/default.script'), UDHCPC_SCRIPT, { mode: 0o755 });
    const out = join(dir, 'busybox.tar');
    await runOk(['tar', '--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', out, '.'], { timeoutMs: 60_000 });
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A dynamically linked busybox (Debian's `busybox` package instead of `busybox-static`) would not
 * run in an image that has no libc: refuse early with a clear message. An ELF program with a
 * PT_INTERP header needs a dynamic loader.
 */
async function assertStatic(path: string): Promise<void> {
  const fh = await open(path, 'r').catch(() => {
    throw new Error(`${path} not found: install busybox-static (scripts/install-test-deps.sh)`);
  });
  try {
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) throw new Error(`${path} is not a 64-bit ELF program`);
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    await fh.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      if (table.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) {
        throw new Error(`${path} is dynamically linked: install busybox-static (scripts/install-test-deps.sh)`);
      }
    }
  } finally {
    await fh.close();
  }
}
