/**
 * Creates the service's tables where nothing else does: DynamoDB Local for
 * `npm start`, the tests and the bench. infra/ declares the same shapes in CDK.
 */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { IDEMPOTENCY_TABLE, KEY, LIST_INDEX, TTL_ATTRIBUTE } from '../shared/store/table.js';

/**
 * The CreateTable input for local use; infra/ declares the same shape in CDK.
 * `stream: false` (IPAM_HISTORY=off, most test tables) leaves the change stream out.
 */
export function tableDefinition(
  tableName: string,
  options: { stream?: boolean } = {},
): CreateTableCommandInput {
  const stringAttribute = (AttributeName: string) => ({
    AttributeName,
    AttributeType: 'S' as const,
  });
  const index = (spec: typeof LIST_INDEX) => ({
    IndexName: spec.name,
    KeySchema: [
      { AttributeName: spec.partition, KeyType: 'HASH' as const },
      { AttributeName: spec.sort, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  });
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [KEY.partition, KEY.sort, LIST_INDEX.partition, LIST_INDEX.sort].map(
      stringAttribute,
    ),
    KeySchema: [
      { AttributeName: KEY.partition, KeyType: 'HASH' },
      { AttributeName: KEY.sort, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [index(LIST_INDEX)],
    // The change stream is history's outbox (shared/history); infra/ enables the same.
    ...(options.stream === false
      ? {}
      : { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }),
  };
}

export function idempotencyTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: IDEMPOTENCY_TABLE.key, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: IDEMPOTENCY_TABLE.key, KeyType: 'HASH' }],
  };
}

/** Creates a table with TTL on unless it exists. For local use and tests. */
export async function ensureTable(
  client: DynamoDBClient,
  definition: CreateTableCommandInput,
  ttlAttribute: string,
): Promise<void> {
  try {
    const { Table } = await client.send(
      new DescribeTableCommand({ TableName: definition.TableName }),
    );
    // A table kept in IPAM_DATA_DIR from before the stream existed gets it now.
    if (definition.StreamSpecification !== undefined && Table?.StreamSpecification === undefined) {
      await client.send(
        new UpdateTableCommand({
          TableName: definition.TableName,
          StreamSpecification: definition.StreamSpecification,
        }),
      );
    }
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

/** The service's table (with its change stream unless `stream: false`) and Powertools Idempotency's table. */
export async function ensureTables(
  client: DynamoDBClient,
  tableName: string,
  idempotencyTableName: string,
  options: { stream?: boolean } = {},
): Promise<void> {
  await ensureTable(client, tableDefinition(tableName, options), TTL_ATTRIBUTE);
  await ensureTable(
    client,
    idempotencyTableDefinition(idempotencyTableName),
    IDEMPOTENCY_TABLE.ttl,
  );
}
