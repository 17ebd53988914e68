/**
 * The one DynamoDB table and its key layout. Every item has a string partition key
 * `pk` and sort key `sk`. Keys that many writers touch are spread over many
 * partition keys, so no item is written by every allocation of a subnet:
 *
 * | item            | pk                              | sk        | gsi1 (list)                        | gsi2 (owner)                 |
 * |-----------------|---------------------------------|-----------|------------------------------------|------------------------------|
 * | subnet          | SUBNET#<id>                     | META      | SUBNETS / <space>#<v>#<network>    |                              |
 * | usage shard     | SUBNET#<id>#SHARD#<k>           | SHARD     |                                    |                              |
 * | address block   | SUBNET#<id>#BLOCK#<index>       | BLOCK     |                                    |                              |
 * | allocation      | SUBNET#<id>#IP#<address>        | ALLOC     | SUBNET#<id>#SHARD#<k> / <address>  | OWNER#<owner> / <id>#<addr>  |
 * | pending bulk    | SUBNET#<id>#PENDING#<token>     | PENDING   |                                    |                              |
 * | space head      | SPACE#<space>                   | HEAD      |                                    |                              |
 * | space entry     | SPACE#<space>                   | NET#<v>#<network> |                            |                              |
 *
 * Addresses in keys are fixed-width hex (`addressKey`), so string order is address order.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

export const KEY = { partition: 'pk', sort: 'sk' } as const;
export const LIST_INDEX = { name: 'gsi1', partition: 'gsi1pk', sort: 'gsi1sk' } as const;
export const OWNER_INDEX = { name: 'gsi2', partition: 'gsi2pk', sort: 'gsi2sk' } as const;
/** Epoch seconds; DynamoDB's TTL deletes expired leases some time after they expire. */
export const TTL_ATTRIBUTE = 'ttl';

export const DEFAULT_TABLE_NAME = 'ipam';

/** The CreateTable input for local use; infra/ declares the same shape in CDK. */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  const stringAttribute = (AttributeName: string) => ({
    AttributeName,
    AttributeType: 'S' as const,
  });
  const index = (spec: typeof LIST_INDEX | typeof OWNER_INDEX) => ({
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
    AttributeDefinitions: [
      KEY.partition,
      KEY.sort,
      LIST_INDEX.partition,
      LIST_INDEX.sort,
      OWNER_INDEX.partition,
      OWNER_INDEX.sort,
    ].map(stringAttribute),
    KeySchema: [
      { AttributeName: KEY.partition, KeyType: 'HASH' },
      { AttributeName: KEY.sort, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [index(LIST_INDEX), index(OWNER_INDEX)],
  };
}
