/**
 * BatchGetItem and BatchWriteItem over any number of items: chunked to DynamoDB's
 * limits (100 keys, 25 writes), with what DynamoDB leaves unprocessed retried after a
 * jittered back-off until nothing is left. lib-dynamodb's `paginatedBatchGet` resends
 * unprocessed keys at once, without back-off, and there is no BatchWrite twin; hence ours.
 */
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  BatchWriteCommand,
  type BatchWriteCommandInput,
  type BatchWriteCommandOutput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { backoffMs, sleep } from './retry.js';

/** The table these helpers work on (an `IpamContext` is one). */
export interface BatchTable {
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
}

/** One Put or Delete request of a BatchWriteItem. */
export type BatchWriteRequest = NonNullable<BatchWriteCommandInput['RequestItems']>[string][number];

/** Keys per BatchGetItem and requests per BatchWriteItem: DynamoDB's limits. */
const GET_CHUNK = 100;
const WRITE_CHUNK = 25;

/**
 * Strongly consistent BatchGet of any number of keys, unprocessed keys retried.
 * Items come back in no particular order; keys that name no item are left out.
 */
export async function batchGet(
  table: BatchTable,
  wanted: readonly Record<string, unknown>[],
  projection?: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (let i = 0; i < wanted.length; i += GET_CHUNK) {
    type Request = Record<
      string,
      { Keys: Record<string, unknown>[]; ConsistentRead: boolean; ProjectionExpression?: string }
    >;
    let request: Request | undefined = {
      [table.tableName]: {
        Keys: wanted.slice(i, i + GET_CHUNK),
        ConsistentRead: true,
        ...(projection === undefined ? {} : { ProjectionExpression: projection }),
      },
    };
    for (let attempt = 0; request !== undefined; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const result: BatchGetCommandOutput = await table.doc.send(
        new BatchGetCommand({ RequestItems: request }),
      );
      items.push(...(result.Responses?.[table.tableName] ?? []));
      const rest = result.UnprocessedKeys?.[table.tableName];
      request = rest?.Keys?.length ? ({ [table.tableName]: rest } as Request) : undefined;
    }
  }
  return items;
}

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
