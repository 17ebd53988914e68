/**
 * History entries in the table: the idempotent write (a redelivered record finds
 * its entry and writes nothing), the published mark, and the newest-first pages
 * the routes read.
 */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../errors.js';
import type { IpamContext } from '../store/context.js';
import { decodeCursor, encodeCursor, type Page } from '../store/paging.js';
import { entryView, type HistoryEntryView, type HistoryItem } from './entry.js';

/** Capacity the processor spent, for the report and the measurements. */
export interface CapacityTally {
  read: number;
  write: number;
}

export function newTally(): CapacityTally {
  return { read: 0, write: 0 };
}

type Consumed = { ConsumedCapacity?: { CapacityUnits?: number } | undefined };

function tallyWrite(tally: CapacityTally, output: Consumed): void {
  tally.write += output.ConsumedCapacity?.CapacityUnits ?? 0;
}

/**
 * Writes the entry unless it exists. Returns undefined when this call wrote it,
 * else the stored entry (written by an earlier delivery of the same record).
 */
export async function putEntry(
  ctx: IpamContext,
  item: HistoryItem,
  tally: CapacityTally,
): Promise<HistoryItem | undefined> {
  try {
    const output = await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    tallyWrite(tally, output);
    return undefined;
  } catch (error) {
    if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
    // A failed condition is still billed (1 WCU); the old item comes with the error.
    tally.write += 1;
    const old = (error as { Item?: Record<string, unknown> }).Item;
    if (old !== undefined && typeof old.pk === 'string') return unmarshalled(old);
    return readEntry(ctx, item.pk, item.sk, tally);
  }
}

/** Marks an entry's event as published. */
export async function markPublished(
  ctx: IpamContext,
  key: { pk: string; sk: string },
  tally: CapacityTally,
): Promise<void> {
  const output = await ctx.doc.send(
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: key,
      UpdateExpression: 'SET published = :yes',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':yes': true },
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  tallyWrite(tally, output);
}

async function readEntry(
  ctx: IpamContext,
  pk: string,
  sk: string,
  tally: CapacityTally,
): Promise<HistoryItem | undefined> {
  const output = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: { pk, sk },
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  tally.read += output.ConsumedCapacity?.CapacityUnits ?? 0;
  return output.Item as HistoryItem | undefined;
}

/**
 * The document client hands a failed condition's old item back in DynamoDB's JSON
 * (the error is not unmarshalled), so read it as such when it is.
 */
function unmarshalled(old: Record<string, unknown>): HistoryItem {
  const raw = old as Record<string, { S?: string; BOOL?: boolean } | unknown>;
  const pk = raw.pk as { S?: string } | string;
  if (typeof pk === 'string') return old as unknown as HistoryItem;
  const published = (raw.published as { BOOL?: boolean } | undefined)?.BOOL === true;
  const sk = (raw.sk as { S?: string } | undefined)?.S ?? '';
  return { pk: pk.S ?? '', sk, published } as HistoryItem;
}

/** One page of a history partition, newest first. */
export async function readHistoryPage(
  ctx: IpamContext,
  partition: string,
  query: { limit: number; cursor?: string },
): Promise<Page<HistoryEntryView>> {
  const start = decodeCursor(query.cursor, ['pk', 'sk']);
  if (start !== undefined && start.pk !== partition) {
    throw new ValidationError(
      'The cursor belongs to another history; pass nextCursor of this list exactly as received.',
      { field: 'cursor' },
    );
  }
  // One item more than asked: a full last page then ends with a null cursor.
  const output = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': partition },
      ScanIndexForward: false,
      Limit: query.limit + 1,
      ...(start === undefined ? {} : { ExclusiveStartKey: start }),
    }),
  );
  const items = (output.Items ?? []) as HistoryItem[];
  const page = items.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map(entryView),
    nextCursor:
      items.length > query.limit && last !== undefined
        ? encodeCursor({ pk: last.pk, sk: last.sk })
        : null,
  };
}
