// Builds weft's optional native call (native/netns.c -> dist/native/netns.node) with the system C
// compiler against Node's own headers. Optional on purpose: without a compiler or headers, weftd
// configures container namespaces with `ip -n`/`nsenter` (one process per attach) instead of
// netlink; this prints why and exits 0. `npm run build` runs it after tsc.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = path.join(root, 'native/netns.c');
const out = path.join(root, 'dist/native/netns.node');
const headers = [path.resolve(path.dirname(process.execPath), '../include/node'), '/usr/include/node'].find((d) => existsSync(path.join(d, 'node_api.h')));
const cc = process.env.CC ?? 'cc';

function skip(why) {
  rmSync(out, { force: true });
  process.stderr.write(`build-native: skipped (${why}); weftd will configure namespaces with ip/nsenter\n`);
  process.exit(0);
}

if (process.platform !== 'linux') skip('not Linux');
if (!headers) skip("Node's headers (node_api.h) not found");
mkdirSync(path.dirname(out), { recursive: true });
const r = spawnSync(cc, ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', `-I${headers}`, '-o', out, src], { encoding: 'utf8' });
if (r.error) skip(`${cc}: ${r.error.message}`);
if (r.status !== 0) skip(`${cc} failed: ${r.stderr.trim()}`);
