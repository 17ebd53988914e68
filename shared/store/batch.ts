/**
 * BatchGetItem over any number of keys: chunked to DynamoDB's limit (100 keys), with
 * what DynamoDB leaves unprocessed retried after a jittered back-off until nothing is
 * left. lib-dynamodb's `paginatedBatchGet` resends unprocessed keys at once, without
 * back-off; hence ours. (Reads and writes live in separate files so that a function
 * that only reads does not bundle, and need the grant for, a BatchWriteItem.)
 */
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { backoffMs, sleep } from './retry.js';

/** The table these helpers work on (an `IpamContext` is one). */
export interface BatchTable {
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
}

/** Keys per BatchGetItem: DynamoDB's limit. */
const GET_CHUNK = 100;

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
