/** A fresh table on the shared DynamoDB Local for each test file (or test). */
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { ensureTable, tableDefinition } from '../../local/tables.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import { TTL_ATTRIBUTE } from '../../shared/store/table.js';

export interface TestDb {
  readonly ctx: IpamContext;
  readonly client: DynamoDBClient;
  readonly endpoint: string;
  /** Moves the context's clock (to expire leases without waiting). */
  advance(ms: number): void;
}

export async function createTestDb(): Promise<TestDb> {
  const endpoint = inject('dynamoEndpoint');
  const client = createDynamoClient({ endpoint, region: 'local' });
  const tableName = `ipam-test-${randomBytes(6).toString('hex')}`;
  await ensureTable(client, tableDefinition(tableName), TTL_ATTRIBUTE);
  let offset = 0;
  const ctx: IpamContext = {
    doc: createDocumentClient(client),
    tableName,
    now: () => Date.now() + offset,
  };
  return {
    ctx,
    client,
    endpoint,
    advance(ms: number) {
      offset += ms;
    },
  };
}

/** Every item of one `type` ('allocation', 'pending', …) of a subnet, read straight from the table. */
export async function storedItems(
  ctx: IpamContext,
  type: string,
  subnetId: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await ctx.doc.send(
      new ScanCommand({
        TableName: ctx.tableName,
        FilterExpression: '#type = :type AND subnetId = :subnet',
        ExpressionAttributeNames: { '#type': 'type' },
        ExpressionAttributeValues: { ':type': type, ':subnet': subnetId },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/** The addresses a subnet's allocation items hold, sorted. */
export async function storedIps(ctx: IpamContext, subnetId: string): Promise<string[]> {
  return (await storedItems(ctx, 'allocation', subnetId)).map((item) => String(item.ip)).sort();
}
