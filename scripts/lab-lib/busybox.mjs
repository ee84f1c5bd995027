// The `busybox` image of every lab Docker host, made without any registry: a root file system of
// Debian's statically linked /bin/busybox (package busybox-static) plus one symlink per applet,
// imported with `docker import`. Same recipe as the e2e tests' image (test/helpers/busybox-image.ts).

import { chmod, copyFile, mkdir, mkdtemp, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runOk } from './proc.mjs';

export const IMAGE = 'busybox';
const BUSYBOX = '/bin/busybox';
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

/** The rootfs tarball (about 2 MB), built in a temp dir under `workDir` and returned in memory. */
export async function busyboxTarball(workDir) {
  await assertStatic(BUSYBOX);
  const dir = await mkdtemp(path.join(workDir, 'busybox-'));
  try {
    const root = path.join(dir, 'rootfs');
    for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'root', 'run', 'var/run', 'var/www', 'usr/share/udhcpc']) {
      await mkdir(path.join(root, d), { recursive: true });
    }
    await mkdir(path.join(root, 'tmp'));
    await chmod(path.join(root, 'tmp'), 0o1777);
    await copyFile(BUSYBOX, path.join(root, 'bin/busybox'));
    await chmod(path.join(root, 'bin/busybox'), 0o755);
    const list = await runOk([BUSYBOX, '--list']);
    for (const applet of list.stdout.split('\n')) {
      if (!/^[A-Za-z0-9_.[\]-]+$/.test(applet) || applet === 'busybox') continue;
      await symlink('busybox', path.join(root, 'bin', applet));
    }
    await writeFile(path.join(root, 'etc/passwd'), PASSWD);
    await writeFile(path.join(root, 'etc/group'), GROUP);
    await writeFile(path.join(root, 'usr/share/udhcpc/default.script'), UDHCPC_SCRIPT, { mode: 0o755 });
    const out = path.join(dir, 'busybox.tar');
    await runOk(['tar', '--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', out, '.'], { timeoutMs: 60_000 });
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A dynamically linked busybox (Debian's `busybox`) would not run in an image without libc. */
async function assertStatic(file) {
  const fh = await open(file, 'r').catch(() => {
    throw new Error(`${file} not found: install busybox-static (apt-get install busybox-static)`);
  });
  try {
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) throw new Error(`${file} is not a 64-bit ELF program`);
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    await fh.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      if (table.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) {
        throw new Error(`${file} is dynamically linked: install busybox-static (apt-get install busybox-static)`);
      }
    }
  } finally {
    await fh.close();
  }
}
