/** `ipam console [--port N]`: the web console on 127.0.0.1, its API calls signed and proxied. */
import { type Command, Option } from 'commander';
import { integer } from '../args.js';
import { startConsoleProxy } from '../consoleProxy.js';
import { type GlobalOptions, signingOf } from '../context.js';
import { UsageError } from '../errors.js';

/** kubectl proxy's port, for the same kind of tool. */
const DEFAULT_PORT = 8001;

export function registerConsole(program: Command): void {
  program
    .command('console')
    .description(
      'serve the web console on 127.0.0.1 and proxy its API calls to --endpoint, signed with SigV4 from your AWS credentials (like kubectl proxy)',
    )
    .addOption(
      new Option('--port <n>', 'port on 127.0.0.1 (0: any free port)')
        .argParser(integer(0, 65_535))
        .default(DEFAULT_PORT),
    )
    .addHelpText(
      'after',
      `
Signing follows the global options: on for https execute-api endpoints, or with --sign /
--profile; the credentials come from the standard AWS chain.

Examples:
  ipam console                                   # the local server at http://127.0.0.1:3000
  ipam console --endpoint https://abc.execute-api.eu-west-1.amazonaws.com/prod --port 8080`,
    )
    .action(async (_opts: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions & { port: number }>();
      let endpoint: URL;
      try {
        endpoint = new URL(options.endpoint);
      } catch {
        throw new UsageError(`--endpoint ${JSON.stringify(options.endpoint)} is not a URL`);
      }
      if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') {
        throw new UsageError(`--endpoint must be http:// or https://, not ${endpoint.protocol}`);
      }
      const signing = signingOf(options);
      if (signing !== undefined) await signing.credentials(); // no credentials: say so now
      let proxy: Awaited<ReturnType<typeof startConsoleProxy>>;
      try {
        proxy = await startConsoleProxy({ endpoint: endpoint.href, port: options.port, signing });
      } catch (error) {
        throw new UsageError(
          `cannot listen on 127.0.0.1:${options.port} (${(error as NodeJS.ErrnoException).code ?? error}); choose another --port`,
        );
      }
      process.stdout.write(
        `ipam console on ${proxy.url}\n  API: ${endpoint.href} (${signing === undefined ? 'unsigned' : `signed with SigV4, region ${signing.region}`})\n  Open the URL in a browser; Ctrl-C stops it.\n`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await proxy.close();
    });
}
