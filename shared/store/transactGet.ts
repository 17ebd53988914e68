/**
 * Several items as of one instant: one TransactGetItems (at most 100 keys). Its own
 * file, as the batch reads and writes are, so that only what snapshots bundles it.
 */
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { TransactGetCommand } from '@aws-sdk/lib-dynamodb';
import type { BatchTable } from './batch.js';

export interface Snapshot {
  /** In the order of the keys; undefined where a key names no item. */
  readonly items: (Record<string, unknown> | undefined)[];
  readonly consumed: ConsumedCapacity[] | undefined;
}

export async function transactGet(
  table: BatchTable,
  wanted: readonly Record<string, unknown>[],
): Promise<Snapshot> {
  const result = await table.doc.send(
    new TransactGetCommand({
      TransactItems: wanted.map((key) => ({ Get: { TableName: table.tableName, Key: key } })),
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  return {
    items: wanted.map((_, index) => result.Responses?.[index]?.Item),
    consumed: result.ConsumedCapacity,
  };
}
