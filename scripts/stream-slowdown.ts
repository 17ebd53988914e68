/**
 * Measures why the test suite gives streams only to the tables that need them:
 * DynamoDB Local's writes to a table with a stream slow down with the stream records
 * the other tables hold (deleted or not), not with the table's own. The same writes
 * (1,200 two-item transactions from 8 callers) into one table four times, then into
 * four new tables in turn. Measured here: 9.0, 7.3, 6.9, 5.9 s into the one table;
 * 61, 76, 96, 108 s into the new ones; 4.7 s into a table without a stream.
 *
 *   npx tsx scripts/stream-slowdown.ts
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalDynamoDb } from '../local/dynamoDbLocal.js';
import { ensureTable, tableDefinition } from '../local/tables.js';
import { createDocumentClient, createDynamoClient } from '../shared/store/client.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const dynamo = await startLocalDynamoDb({});
const client = createDynamoClient({ endpoint: dynamo.endpoint, region: 'local' });
const doc = createDocumentClient(client);

async function load(tableName: string, label: string): Promise<void> {
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 8 }, async (_, caller) => {
      for (let i = 0; i < 150; i++) {
        const put = (pk: string) => ({
          Put: { TableName: tableName, Item: { pk, sk: `${label} ${i}`, v: 'x'.repeat(200) } },
        });
        await doc.send(
          new TransactWriteCommand({ TransactItems: [put(`a${caller}`), put(`b${caller}`)] }),
        );
      }
    }),
  );
  console.log(`${label}: ${Date.now() - started} ms`);
}

try {
  await ensureTable(client, tableDefinition('warm-up', { stream: false }), 'ttl');
  for (const round of [1, 2]) await load('warm-up', `no stream, warm-up ${round}`);
  await ensureTable(client, tableDefinition('same'), 'ttl');
  for (const round of [1, 2, 3, 4]) await load('same', `stream, the same table, round ${round}`);
  for (const round of [1, 2, 3, 4]) {
    await ensureTable(client, tableDefinition(`new-${round}`), 'ttl');
    await load(`new-${round}`, `stream, new table ${round} (then deleted)`);
    await client.send(new DeleteTableCommand({ TableName: `new-${round}` }));
  }
  await ensureTable(client, tableDefinition('plain', { stream: false }), 'ttl');
  await load('plain', 'no stream, after all that');
} finally {
  client.destroy();
  await dynamo.stop();
}
