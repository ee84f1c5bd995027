#!/usr/bin/env node
// The `weft` executable (package.json bin). All logic lives in run.ts; this file only binds it to
// the real process.

import { run } from './run.js';

const code = await run(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
});
// exitCode, not exit(): let stdout drain when it is a pipe.
process.exitCode = code;
