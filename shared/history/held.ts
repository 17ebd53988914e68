/**
 * The entries of the items of multi-step requests (allocator/pending.ts), held back
 * until the request's outcome is known. Such a request writes its items in several
 * transactions and commits by deleting its pending record; a failure part-way (or a
 * crash, undone later by the audit) undoes it, and then the history must show
 * nothing of it (API.md: "a refused or failed request has none") — not its
 * ALLOCATED entries, nor whatever became of its items meanwhile (a lease that
 * expired before the audit's undo, a PATCH, a release).
 *
 * Every entry about such an item (`multiStep` on the item) is first written here,
 * keyed by the request's token, the item's address and the entry's own key, and
 * becomes a real entry once the request is known to have committed — its pending
 * record gone, and no undo note (keys.undoneRequestNote, which the undo writes
 * before it deletes anything) for it:
 * - when the entry's record is processed after the pending record is gone; or
 * - when the pending record's REMOVE is processed, for every entry held by then.
 * The record's side writes its held entry and then reads the pending record; the
 * REMOVE side follows the record's deletion and then reads the held entries. Both
 * reads are consistent, so at least one of the two sides sees the other's write;
 * the real entry's key is the one the record derived, so a second side finds it
 * written (idempotent). After a commit the items keep `multiStep`: their later
 * changes take the same path, finding the pending record gone and no undo note.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { IpamContext } from '../store/context.js';
import { keys } from '../store/keys.js';
import { queryPages } from '../store/query.js';
import { TTL_ATTRIBUTE } from '../store/table.js';
import type { HeldFor } from './derive.js';
import type { HistoryItem } from './entry.js';
import { historyKeys } from './keys.js';
import type { CapacityTally } from './store.js';

/** Two days, as the release notes: longer than the stream keeps a record (24 h). */
const HELD_SECONDS = 2 * 24 * 3600;

type Consumed = { ConsumedCapacity?: { CapacityUnits?: number } | undefined };

function heldKey(held: HeldFor, entry: HistoryItem): { pk: string; sk: string } {
  return {
    pk: historyKeys.heldPartition(held.token),
    sk: `${held.subnetId}#${held.allocationSort}#${entry.sk}`,
  };
}

/** Writes the entry aside (the same content on every delivery: an overwrite is harmless). */
export async function holdEntry(
  ctx: IpamContext,
  held: HeldFor,
  entry: HistoryItem,
  tally: CapacityTally,
): Promise<void> {
  const output = await ctx.doc.send(
    new PutCommand({
      TableName: ctx.tableName,
      Item: {
        ...heldKey(held, entry),
        type: 'heldEntry',
        entry,
        [TTL_ATTRIBUTE]: Math.floor(ctx.now() / 1000) + HELD_SECONDS,
      },
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  tally.write += (output as Consumed).ConsumedCapacity?.CapacityUnits ?? 0;
}

/** The held entries of one request in one subnet. */
export async function heldEntries(
  ctx: IpamContext,
  subnetId: string,
  token: string,
  tally: CapacityTally,
): Promise<HistoryItem[]> {
  const found: HistoryItem[] = [];
  const pages = queryPages(
    ctx,
    {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :subnet)',
      ExpressionAttributeValues: {
        ':pk': historyKeys.heldPartition(token),
        ':subnet': `${subnetId}#`,
      },
      ConsistentRead: true,
    },
    tally,
  );
  for await (const items of pages) {
    for (const item of items) found.push(item.entry as HistoryItem);
  }
  return found;
}

/** Whether the request's pending record is still there (it has not committed or been undone). */
export function stillPending(
  ctx: IpamContext,
  subnetId: string,
  token: string,
  tally: CapacityTally,
): Promise<boolean> {
  return exists(ctx, keys.pending(subnetId, token), tally);
}

/** Whether the request was undone (its undo wrote this note before deleting anything). */
export function wasUndone(
  ctx: IpamContext,
  subnetId: string,
  token: string,
  tally: CapacityTally,
): Promise<boolean> {
  return exists(ctx, keys.undoneRequestNote(subnetId, token), tally);
}

/** Whether an item is there, read consistently (both sides of ./held.ts rely on it). */
async function exists(
  ctx: IpamContext,
  key: { pk: string; sk: string },
  tally: CapacityTally,
): Promise<boolean> {
  const output = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: key,
      ConsistentRead: true,
      ProjectionExpression: 'pk',
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  tally.read += output.ConsumedCapacity?.CapacityUnits ?? 0;
  return output.Item !== undefined;
}
