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
}

export function createDynamoClient(settings: DynamoSettings = {}): DynamoDBClient {
  const config: DynamoDBClientConfig = {
    region: settings.region ?? process.env.AWS_REGION ?? 'us-east-1',
    // Our own code retries conditional-write races; the SDK retries throttling.
    maxAttempts: 4,
  };
  if (settings.endpoint !== undefined) {
    config.endpoint = settings.endpoint;
    // DynamoDB Local accepts any credentials; real AWS uses the default chain.
    config.credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  }
  return new DynamoDBClient(config);
}

export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
    unmarshallOptions: { wrapNumbers: false },
  });
}
