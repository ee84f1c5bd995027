// weft's version, read from package.json once (dist/src/daemon -> ../../../package.json, and
// src/daemon -> ../../package.json under vitest).

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function readVersion(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'weft' && pkg.version) return pkg.version;
    }
  }
  return '0.0.0-unknown';
}

export const WEFT_VERSION = readVersion();
/** Version of the management API (src/api/types.ts); bumped on incompatible changes. */
export const API_VERSION = 'v1';
