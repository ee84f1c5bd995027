// scripts/bench/run --soak [--scale N]: the long reliability run (issue 7). Runs the crash-safety
// churn (test/e2e/churn.test.ts: every failpoint, then random SIGKILLs of weftd over Docker and CLI
// operations) and the concurrency test at WEFT_CHURN_SCALE=N (default 10: 1,000 Docker and 4,000
// CLI operations, 2,000 parallel API requests, 100 parallel docker runs), keeps the full output in
// results/soak-<time>.log and prints a summary. Exit status: the test run's.

import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT, assertBuilt } from './weftd.mjs';

const FILES = ['test/e2e/churn.test.ts', 'test/e2e/concurrency.test.ts'];

export async function runSoak({ out, scale = 10 }) {
  if (!(scale > 0)) throw Object.assign(new Error(`--scale ${scale} is not a positive number`), { usage: true });
  assertBuilt();
  mkdirSync(out, { recursive: true });
  const started = new Date();
  const logPath = path.join(out, `soak-${started.toISOString().replace(/[:.]/g, '-')}.log`);
  const log = createWriteStream(logPath);
  process.stdout.write(`soak: churn and concurrency at ${scale}x; output in ${logPath}\n`);
  const vitest = path.join(ROOT, 'node_modules', '.bin', 'vitest');
  const child = spawn(vitest, ['run', ...FILES], {
    cwd: ROOT,
    env: { ...process.env, WEFT_CHURN_SCALE: String(scale), NO_COLOR: '1', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const take = (b) => {
    text += b.toString('utf8');
    log.write(b);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const code = await new Promise((resolve) => child.on('close', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
  await new Promise((resolve) => log.end(resolve));

  // eslint-disable-next-line no-control-regex
  text = text.replace(/\x1b\[[0-9;]*m/g, '');
  const summary = /CHURN-SUMMARY (\{.*\})/.exec(text);
  const tests = /Tests\s+(.*)/.exec(text)?.[1]?.trim();
  const minutes = ((Date.now() - started.getTime()) / 60_000).toFixed(1);
  process.stdout.write(`\nsoak (${scale}x) ${code === 0 ? 'passed' : 'FAILED'} in ${minutes} min; tests: ${tests ?? 'no summary'}\n`);
  if (summary) {
    const s = JSON.parse(summary[1]);
    process.stdout.write(
      `churn: ${s.cliOps} CLI and ${s.dockerOps} Docker operations, ${s.kills} SIGKILLs of weftd, ` +
        `${s.pingsWhileDown} pings between containers while weftd was down, churn ${s.seconds} s; ` +
        `weft check clean, no duplicate address, every acknowledged operation present\n`,
    );
  } else {
    process.stdout.write('churn: no summary line (the random churn did not finish; see the log)\n');
  }
  for (const line of text.split('\n').filter((l) => /✓|×|FAIL/.test(l))) process.stdout.write(`${line}\n`);
  return code;
}
