/** A fresh table on the shared DynamoDB Local for each test file (or test). */
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import type { IpamContext } from '../../shared/context.js';
import { createDocumentClient, createDynamoClient, ensureTable } from '../../shared/dynamo.js';
import { TTL_ATTRIBUTE, tableDefinition } from '../../shared/table.js';

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
