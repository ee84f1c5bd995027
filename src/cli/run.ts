// Builds the `weft` command tree and runs one invocation in-process: argv and I/O come in,
// an exit code comes out. main.ts wires it to the real process; tests call it directly.

import { Command, CommanderError } from 'commander';
import { registerCheck } from './commands/check.js';
import { registerHost } from './commands/host.js';
import { registerNetwork } from './commands/network.js';
import { clientVersion, registerVersion } from './commands/version.js';
import { CliContext, type CliIo } from './context.js';
import { describeFailure } from './errors.js';
import { DEFAULT_HOST } from './host.js';

/** Exit code of a usage error (unknown flag, missing argument): the BadRequest code. */
export const USAGE_EXIT_CODE = 2;

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('weft')
    .description('Manage weft networks through weftd')
    .option('-H, --host <unix://PATH>', `weftd socket (env WEFT_HOST; default ${DEFAULT_HOST})`)
    .version(clientVersion(), '-v, --version', 'print the CLI version')
    // Set before adding subcommands: commander copies both settings into each of them.
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout(s), writeErr: (s) => ctx.io.stderr(s) });
  registerNetwork(program, ctx);
  registerHost(program, ctx);
  registerVersion(program, ctx);
  registerCheck(program, ctx);
  return program;
}

/** Runs `weft <argv...>` (argv without node and script) and resolves with the exit code. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const ctx = new CliContext(io);
  try {
    await buildProgram(ctx).parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has already printed the help, the version or its usage error.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : USAGE_EXIT_CODE;
    }
    const f = describeFailure(e);
    io.stderr(`${f.line}\n`);
    return f.exitCode;
  }
}
