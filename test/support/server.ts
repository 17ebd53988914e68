/** Starts the real local server (`local/start.ts`) as a child process on a free port. */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

export interface RunningServer {
  readonly url: string;
  /** The embedded DynamoDB Local's endpoint, when the server started one. */
  readonly dynamoEndpoint: string | undefined;
  readonly tableName: string;
  readonly process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL to the server (needs `detached`): none of its clean-up runs; then DynamoDB Local stops. */
  crash(): Promise<void>;
}

export interface ServerOptions {
  /** Use this DynamoDB; by default the suite's shared DynamoDB Local. */
  readonly endpoint?: string | null;
  readonly tableName?: string;
  readonly env?: Record<string, string>;
  /** Own process group, so `crash()` can kill the server and its DynamoDB Local at once. */
  readonly detached?: boolean;
  /**
   * History and events (the table's stream and the poller); off unless asked for
   * (IPAM_HISTORY=off): on the suite's shared DynamoDB Local the stream records of one
   * table slow the stream writes of the others (test/support/dynamo.ts), and a test
   * about something else need not pay for the poller's work.
   */
  readonly history?: boolean;
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const tableName = options.tableName ?? `ipam-http-${randomBytes(6).toString('hex')}`;
  const endpoint = options.endpoint === undefined ? inject('dynamoEndpoint') : options.endpoint;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: '0',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    ...(endpoint === null ? {} : { IPAM_DYNAMODB_ENDPOINT: endpoint, IPAM_TABLE_NAME: tableName }),
    IPAM_HISTORY: options.history === true ? 'on' : 'off',
    ...options.env,
  };
  if (endpoint === null) {
    delete env.IPAM_DYNAMODB_ENDPOINT;
    delete env.IPAM_TABLE_NAME;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 90_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    dynamoEndpoint: /DynamoDB Local on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1],
    tableName,
    process: child,
    async crash() {
      // The server dies at once; its DynamoDB Local (the stand-in for DynamoDB, which
      // does not crash with the service) then shuts down normally.
      process.kill(child.pid!, 'SIGKILL');
      await exited.catch(() => undefined);
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        return; // nothing left in the group
      }
      for (let i = 0; i < 200; i++) {
        try {
          process.kill(-child.pid!, 0);
        } catch {
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test code reads arbitrary JSON
  readonly body: any;
  readonly text: string;
}

export async function api(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['Content-Type'] ??= 'application/json';
  }
  const response = await fetch(`${url}${path}`, init);
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}
