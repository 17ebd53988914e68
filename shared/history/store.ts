/**
 * The processor's writes of history entries: the idempotent put (a redelivered
 * record finds its entry and writes nothing) and the published mark. The routes'
 * reads are in ./history.ts (so their Lambda bundles no write).
 */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { IpamContext } from '../store/context.js';
import type { HistoryItem } from './entry.js';

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
        // When it was written (this process's clock), for a second writer's wait.
        Item: { ...item, writtenAt: Date.now() },
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

/**
 * Waits, until `ms` after the entry was written, for its writer's published mark:
 * true once marked. Used when a record finds its entry written but not yet
 * published — its writer may be publishing at this very moment (a multi-step
 * request's entry is stored from two records), or may have died after its put
 * (then the wait is over soon, or at once).
 */
export async function awaitPublished(
  ctx: IpamContext,
  stored: HistoryItem,
  tally: CapacityTally,
  ms: number,
): Promise<boolean> {
  const key = { pk: stored.pk, sk: stored.sk };
  const deadline = (stored.writtenAt ?? 0) + ms;
  for (;;) {
    if ((await readEntry(ctx, key.pk, key.sk, tally))?.published === true) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
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
  const writtenAt = Number((raw.writtenAt as { N?: string } | undefined)?.N ?? 0);
  return { pk: pk.S ?? '', sk, published, writtenAt } as HistoryItem;
}
