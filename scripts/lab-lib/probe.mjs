#!/usr/bin/env node
// `node probe.mjs http://HOST:PORT/PATH [TIMEOUT_MS]`: one GET, run by the lab inside a node's
// network namespace (a Node process cannot switch namespaces itself). Prints the status and the
// body; exits 0 on a 2xx answer, 1 otherwise.

import { httpGet } from './http.mjs';

const [url, timeout] = process.argv.slice(2);
let u;
try {
  u = new URL(url ?? '');
  if (u.protocol !== 'http:') throw new Error('http only');
} catch {
  process.stderr.write(`probe: bad URL ${JSON.stringify(url)}\n`);
  process.exit(2);
}
const r = await httpGet({ host: u.hostname, port: Number(u.port || 80) }, `${u.pathname}${u.search}`, Number(timeout) || 2_000);
if (!r) {
  process.stdout.write('no answer\n');
  process.exit(1);
}
process.stdout.write(`${r.status} ${r.body.trim()}\n`);
process.exit(r.status >= 200 && r.status < 300 ? 0 : 1);
