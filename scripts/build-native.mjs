// Builds weft's optional native program, the netns relay (native/netns-relay.c ->
// dist/native/weft-netns-relay), with the system C compiler (libc headers only: Debian's `gcc` and
// `libc6-dev`). Optional on purpose: without a compiler, weftd configures container namespaces
// with `ip -n`/`nsenter` (one process per attach) instead of netlink through the relay; this
// prints why and exits 0. `npm run build` runs it after tsc.

import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = path.join(root, 'native/netns-relay.c');
const out = path.join(root, 'dist/native/weft-netns-relay');
const cc = process.env.CC ?? 'cc';

function skip(why) {
  rmSync(out, { force: true });
  process.stderr.write(`build-native: skipped (${why}); weftd will configure namespaces with ip/nsenter\n`);
  process.exit(0);
}

if (process.platform !== 'linux') skip('not Linux');
mkdirSync(path.dirname(out), { recursive: true });
// A leftover of the former in-process native call (netns.node) must not linger in dist/.
rmSync(path.join(root, 'dist/native/netns.node'), { force: true });
const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, src], { encoding: 'utf8' });
if (r.error) skip(`${cc}: ${r.error.message}`);
if (r.status !== 0) skip(`${cc} failed: ${r.stderr.trim()}`);
