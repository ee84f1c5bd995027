// Drives the netns lab (scripts/lab, docs/lab.md) from e2e tests: one named lab per test file, in
// a folder of its own under the temp dir, so files running in parallel never share one. Runs the
// built weft (`npm run build` first), as the lab does.

import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from './process.js';

export const LAB_SCRIPT = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'scripts/lab');

export interface LabDriver {
  /** `--name`: also the prefix of the lab's namespaces. */
  readonly name: string;
  /** `--dir`: the lab's folder; each host's sockets are in `<dir>/<host>/`. */
  readonly dir: string;
  /** `scripts/lab ARGS` for this lab (default timeout 120 s); resolves whatever the exit code. */
  lab(args: string[], timeoutMs?: number): Promise<RunResult>;
  /** Like lab(), but a non-zero exit is an error carrying stderr and stdout; resolves stdout. */
  labOk(args: string[], timeoutMs?: number): Promise<string>;
  /** `lab exec HOST -- CMD...` (weft, weftd and docker on PATH are that host's). */
  onHost(host: string, cmd: string[], timeoutMs?: number): Promise<RunResult>;
  onHostOk(host: string, cmd: string[], timeoutMs?: number): Promise<string>;
  /** GET on a host's weftd API socket (a file in the lab dir, reachable from here); 200 JSON or an error. */
  api<T>(host: string, urlPath: string): Promise<T>;
}

export function labDriver(name: string): LabDriver {
  const dir = path.join(tmpdir(), `weft-lab-test-${name}`);
  const lab = (args: string[], timeoutMs = 120_000): Promise<RunResult> => run([LAB_SCRIPT, '--name', name, '--dir', dir, ...args], { timeoutMs });
  const labOk = async (args: string[], timeoutMs?: number): Promise<string> => {
    const r = await lab(args, timeoutMs);
    if (r.code !== 0) throw new Error(`lab ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  return {
    name,
    dir,
    lab,
    labOk,
    onHost: (host, cmd, timeoutMs) => lab(['exec', host, '--', ...cmd], timeoutMs),
    onHostOk: (host, cmd, timeoutMs) => labOk(['exec', host, '--', ...cmd], timeoutMs),
    api: <T>(host: string, urlPath: string) =>
      new Promise<T>((resolve, reject) => {
        const req = request({ socketPath: path.join(dir, host, 'weft.sock'), path: urlPath }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as T) : reject(new Error(`${urlPath}: ${res.statusCode} ${body}`))));
        });
        req.on('error', reject);
        req.end();
      }),
  };
}
