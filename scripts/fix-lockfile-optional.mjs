#!/usr/bin/env node
// The npm registry reachable here serves only the packages it mirrors: lmdb's optional
// msgpackr-extract builds for other platforms (darwin, win32, linux-arm) answer 404, so `npm install`
// leaves them out of package-lock.json and `npm ci` then refuses the lock as out of sync. This adds
// the missing optional entries (never installed on linux-x64) so the lock is complete. Run it after
// any `npm install` that rewrites the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
let added = 0;
for (const [key, pkg] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const target = `node_modules/${dep}`;
    if (lock.packages[target] || !dep.startsWith('@msgpackr-extract/')) continue;
    const m = dep.match(/-(darwin|linux|win32)-(arm64|x64|arm)$/);
    if (!m) continue;
    lock.packages[target] = { version, cpu: [m[2]], license: 'MIT', optional: true, os: [m[1]] };
    added++;
    void key;
  }
}
const sorted = {};
for (const k of Object.keys(lock.packages).sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b)))) sorted[k] = lock.packages[k];
lock.packages = sorted;
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`fix-lockfile-optional: added ${added} optional platform entries`);
