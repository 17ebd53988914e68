/**
 * The one DynamoDB table: string keys `pk` and `sk`, one overloaded global index
 * `gsi1` (the list of subnets, and each owner's allocations), and the TTL attribute
 * of leases. The item layout and why it is safe: shared/README.md.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

export const KEY = { partition: 'pk', sort: 'sk' } as const;
export const LIST_INDEX = { name: 'gsi1', partition: 'gsi1pk', sort: 'gsi1sk' } as const;
/** Epoch seconds; DynamoDB's TTL deletes expired leases some time after they expire. */
export const TTL_ATTRIBUTE = 'ttl';

export const DEFAULT_TABLE_NAME = 'ipam';

/** The CreateTable input for local use; infra/ declares the same shape in CDK. */
export function tableDefinition(tableName: string): CreateTableCommandInput {
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
  };
}

/** Powertools Idempotency's own table (its default layout): key `id`, TTL `expiration`. */
export const IDEMPOTENCY_TABLE = { key: 'id', ttl: 'expiration' } as const;

export function idempotencyTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: IDEMPOTENCY_TABLE.key, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: IDEMPOTENCY_TABLE.key, KeyType: 'HASH' }],
  };
}
