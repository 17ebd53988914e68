/**
 * BatchWriteItem over any number of puts and deletes: chunked to DynamoDB's limit
 * (25 writes), with unprocessed items retried after a jittered back-off until
 * nothing is left (lib-dynamodb has no paginated BatchWrite).
 */
import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  type BatchWriteCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import type { BatchTable } from './batch.js';
import { backoffMs, sleep } from './retry.js';

/** One Put or Delete request of a BatchWriteItem. */
export type BatchWriteRequest = NonNullable<BatchWriteCommandInput['RequestItems']>[string][number];

/** Requests per BatchWriteItem: DynamoDB's limit. */
const WRITE_CHUNK = 25;

/** BatchWriteItem of any number of puts and deletes, unprocessed items retried. */
export async function batchWrite(
  table: BatchTable,
  requests: readonly BatchWriteRequest[],
): Promise<void> {
  for (let i = 0; i < requests.length; i += WRITE_CHUNK) {
    let chunk = requests.slice(i, i + WRITE_CHUNK);
    for (let attempt = 0; chunk.length > 0; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const result: BatchWriteCommandOutput = await table.doc.send(
        new BatchWriteCommand({ RequestItems: { [table.tableName]: chunk } }),
      );
      chunk = result.UnprocessedItems?.[table.tableName] ?? [];
    }
  }
}
