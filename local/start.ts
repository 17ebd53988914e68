/**
 * `npm start`: DynamoDB Local (in memory, or on disk under IPAM_DATA_DIR), the
 * tables, the stream poller (history and events; IPAM_EVENTS=log prints each
 * event on stderr; IPAM_HISTORY=off runs without them), and the API on http://127.0.0.1:PORT (default 3000).
 *
 * IPAM_DYNAMODB_ENDPOINT=http://host:port uses that DynamoDB instead (tables are
 * created if missing); IPAM_TABLE_NAME without an endpoint uses real AWS with the
 * default credential chain (the tables must exist: deploy the CDK stack).
 */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { resolve } from 'node:path';
import { type LocalDynamoDb, startLocalDynamoDb } from './dynamoDbLocal.js';
import type { StreamPoller } from './streamPoller.js';

/** The DynamoDB Local this process started, so a failed start-up stops it too. */
let started: LocalDynamoDb | undefined;

async function main(): Promise<void> {
  // The SDK warns that releases after January 2027 need Node 22; the lock file pins ours.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const port = Number(process.env.PORT ?? 3000);
  // Settings are checked before anything starts.
  const history = historyWanted(process.env.IPAM_HISTORY);
  let dynamo: LocalDynamoDb | undefined;
  if (
    process.env.IPAM_DYNAMODB_ENDPOINT === undefined &&
    process.env.IPAM_TABLE_NAME === undefined
  ) {
    const dataDir =
      process.env.IPAM_DATA_DIR === undefined ? undefined : resolve(process.env.IPAM_DATA_DIR);
    if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
    dynamo = await startLocalDynamoDb(dataDir === undefined ? {} : { dataDir });
    started = dynamo;
    process.env.IPAM_DYNAMODB_ENDPOINT = dynamo.endpoint;
    console.error(
      `DynamoDB Local on ${dynamo.endpoint} (${dataDir === undefined ? 'in memory' : `data in ${dataDir}`})`,
    );
  }
  // Import after the environment is final: the handlers read it at module scope.
  const { prepareTables, routeResolver } = await import('./handlers.js');
  const endpoint = process.env.IPAM_DYNAMODB_ENDPOINT;
  let poller: StreamPoller | undefined;
  if (endpoint !== undefined) {
    await prepareTables({ stream: history });
    // Against AWS (no endpoint) the deployed stream processor writes history instead.
    if (history) poller = await startPoller(endpoint);
  }
  const { createLocalServer } = await import('./server.js');
  const server = createLocalServer(routeResolver);
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(
              `Port ${port} on 127.0.0.1 is in use: stop what holds it, or set PORT ` +
                '(PORT=0 takes a free port).',
            )
          : error,
      ),
    );
    server.listen(port, '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const url = `http://127.0.0.1:${actualPort}`;
  console.log(`ipam listening on ${url}`);
  console.log(
    `try: curl -s -X POST ${url}/subnets -H 'Content-Type: application/json' -d '{"cidr":"10.0.0.0/24"}'`,
  );
  installShutdown(server, dynamo, poller);
}

/**
 * IPAM_HISTORY=off: no change stream on a new table and no poller, so no history and
 * no events. For throwaway tables on a shared DynamoDB Local (the tests): its
 * writes to a table with a stream slow down with the other tables' stream records.
 */
function historyWanted(value: string | undefined): boolean {
  if (value === undefined || value === 'on') return true;
  if (value === 'off') return false;
  throw new Error(`IPAM_HISTORY must be "on" or "off", not "${value}".`);
}

async function startPoller(endpoint: string): Promise<StreamPoller> {
  const { ctx, client } = await import('../functions/runtime.js');
  const { publisherFromEnvironment } = await import('../shared/events/index.js');
  const { StreamPoller } = await import('./streamPoller.js');
  return new StreamPoller({
    ctx,
    client,
    endpoint,
    region: await client.config.region(),
    publisher: publisherFromEnvironment(),
  }).start();
}

function installShutdown(
  server: Server,
  dynamo: LocalDynamoDb | undefined,
  poller: StreamPoller | undefined,
): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: stopping`);
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
    await poller?.stop();
    await dynamo?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  // A JVM left behind would hold its port and memory until killed by hand.
  await started?.stop().catch(() => undefined);
  process.exit(1);
});
