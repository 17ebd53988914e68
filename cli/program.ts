/** The `ipam` command tree (commander). */
import { Command, Option } from 'commander';
import { registerAlloc } from './commands/alloc.js';
import { registerAudit } from './commands/audit.js';
import { registerConsole } from './commands/console.js';
import { registerImportExport } from './commands/importExport.js';
import { registerPool } from './commands/pool.js';
import { registerSubnet } from './commands/subnet.js';
import { DEFAULT_ENDPOINT } from './context.js';
import { EXIT_CODE_HELP } from './errors.js';

export function buildProgram(): Command {
  const program = new Command('ipam')
    .description('Command line for the ipam service: subnets, allocations, pools, audits, import')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addOption(
      new Option('--endpoint <url>', 'API endpoint').env('IPAM_ENDPOINT').default(DEFAULT_ENDPOINT),
    )
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['table', 'json'])
        .default('table'),
    )
    .option('-q, --quiet', 'print only ids (or addresses)')
    .addOption(
      new Option('--region <region>', 'AWS region for SigV4 (default: from the endpoint URL)'),
    )
    .option('--profile <profile>', 'AWS profile for SigV4 (implies --sign)')
    .option('--sign', 'sign requests with SigV4 (default: for https execute-api endpoints)')
    .option('--no-sign', 'never sign')
    .addOption(new Option('--retries <n>', 'retries of 503s and network errors').default('4'))
    .option(
      '--idempotency-key <key>',
      "Idempotency-Key of this invocation's POST (default: a new UUID)",
    )
    .addHelpText(
      'after',
      `
Subnets and pools are named by id, CIDR (add --space when the CIDR is in several
spaces) or unique name.

${EXIT_CODE_HELP}

Examples:
  ipam subnet create 10.0.0.0/24 --name web
  ipam alloc web --owner vm-1
  ipam alloc 10.0.0.0/24 --count 3 --strategy sequential -o json
  ipam release web 10.0.0.7 --owner vm-1
  ipam import netbox-prefixes.csv --space prod          # dry run; add --apply
  ipam console                                          # the web console on 127.0.0.1:8001
  IPAM_ENDPOINT=https://abc.execute-api.eu-west-1.amazonaws.com/prod ipam subnet list`,
    );
  registerSubnet(program);
  registerAlloc(program);
  registerPool(program);
  registerAudit(program);
  registerImportExport(program);
  registerConsole(program);
  return program;
}
