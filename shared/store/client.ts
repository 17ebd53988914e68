/**
 * DynamoDB clients. The document client marshals plain JS values; numbers stay
 * numbers (our counters are far below 2^53) and sets of offsets are `Set<number>`.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface DynamoSettings {
  /** e.g. http://127.0.0.1:8000 for DynamoDB Local; the AWS default when omitted. */
  readonly endpoint?: string;
  readonly region?: string;
  /**
   * Milliseconds to wait for a response before the SDK gives up on the attempt with a
   * `TimeoutError` (and retries it). Defaults: {@link DEFAULT_TIMEOUTS}.
   */
  readonly requestTimeoutMs?: number;
  /** Milliseconds to wait for a connection. Defaults: {@link DEFAULT_TIMEOUTS}. */
  readonly connectionTimeoutMs?: number;
}

/**
 * DynamoDB answers in milliseconds, so a request that has not answered in 3 s is lost:
 * without a time-out a dead connection hangs the request until Lambda kills it, and
 * the write it carried may or may not have landed. DynamoDB Local on a busy machine
 * can take seconds, so a local endpoint gets more room before a retry.
 */
export const DEFAULT_TIMEOUTS = {
  aws: { requestTimeoutMs: 3000, connectionTimeoutMs: 1000 },
  local: { requestTimeoutMs: 30_000, connectionTimeoutMs: 5000 },
} as const;

/**
 * A DynamoDB client with the SDK's standard retry strategy and request time-outs.
 *
 * @param settings - endpoint, region and time-outs; all optional
 * @returns the client
 */
export function createDynamoClient(settings: DynamoSettings = {}): DynamoDBClient {
  const defaults = settings.endpoint === undefined ? DEFAULT_TIMEOUTS.aws : DEFAULT_TIMEOUTS.local;
  const config: DynamoDBClientConfig = {
    region: settings.region ?? process.env.AWS_REGION ?? 'us-east-1',
    // Our own code retries conditional-write races; the SDK retries throttling.
    maxAttempts: 4,
    requestHandler: {
      requestTimeout: settings.requestTimeoutMs ?? defaults.requestTimeoutMs,
      connectionTimeout: settings.connectionTimeoutMs ?? defaults.connectionTimeoutMs,
      // Without this the handler only logs a warning when requestTimeout passes.
      throwOnRequestTimeout: true,
    },
  };
  if (settings.endpoint !== undefined) {
    config.endpoint = settings.endpoint;
    // DynamoDB Local accepts any credentials; real AWS uses the default chain.
    config.credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  }
  return new DynamoDBClient(config);
}

/**
 * The document client over `client`: undefined attributes dropped, numbers as numbers.
 *
 * @param client - from {@link createDynamoClient}
 * @returns the document client
 */
export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
    unmarshallOptions: { wrapNumbers: false },
  });
}
