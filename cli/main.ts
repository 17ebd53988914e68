/** Entry point: parse, run, print one line per error, exit with a documented code. */
import { CommanderError } from 'commander';
import { ApiError, CliError, ExitCode } from './errors.js';
import { buildProgram } from './program.js';

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? ExitCode.OK : Number(process.exitCode);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version "fail" with exit code 0; every other parse error is usage.
      return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    if (error instanceof ApiError) {
      process.stderr.write(`error: ${error.code}: ${error.apiMessage}\n`);
      const details = Object.keys(error.details).length > 0 ? JSON.stringify(error.details) : '';
      if (details) process.stderr.write(`details: ${details}\n`);
      return error.exitCode;
    }
    if (error instanceof CliError) {
      process.stderr.write(`error: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(
      `internal error (a bug in the ipam CLI): ${(error as Error)?.stack ?? error}\n`,
    );
    return ExitCode.OTHER;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
