/**
 * DynamoDB clients. The document client marshals plain JS values; numbers stay
 * numbers (our counters are far below 2^53) and sets of offsets are `Set<number>`.
 */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  IDEMPOTENCY_TABLE,
  idempotencyTableDefinition,
  TTL_ATTRIBUTE,
  tableDefinition,
} from './table.js';

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

/** Creates a table with TTL on unless it exists. For local use and tests. */
export async function ensureTable(
  client: DynamoDBClient,
  definition: CreateTableCommandInput,
  ttlAttribute: string,
): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: definition.TableName }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  try {
    await client.send(new CreateTableCommand(definition));
  } catch (error) {
    // Another process created it first.
    if ((error as { name?: string }).name !== 'ResourceInUseException') throw error;
  }
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: definition.TableName,
      TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true },
    }),
  );
}

/** The service's table and Powertools Idempotency's table. */
export async function ensureTables(
  client: DynamoDBClient,
  tableName: string,
  idempotencyTableName: string,
): Promise<void> {
  await ensureTable(client, tableDefinition(tableName), TTL_ATTRIBUTE);
  await ensureTable(
    client,
    idempotencyTableDefinition(idempotencyTableName),
    IDEMPOTENCY_TABLE.ttl,
  );
}
