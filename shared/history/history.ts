/** The reads behind the history routes: never a 404, newest first. */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../errors.js';
import type { IpAddress } from '../net/address.js';
import { isId } from '../net/ids.js';
import type { IpamContext } from '../store/context.js';
import { decodeCursor, encodeCursor, type ListScope, type Page } from '../store/paging.js';
import { entryView, type HistoryEntryView, type HistoryItem } from './entry.js';
import { historyKeys } from './keys.js';

export interface HistoryQuery {
  readonly limit: number;
  readonly cursor?: string;
}

/** An address's entries in a subnet (also after its release and the subnet's deletion). */
export function addressHistory(
  ctx: IpamContext,
  subnetId: string,
  ip: IpAddress,
  query: HistoryQuery,
): Promise<Page<HistoryEntryView>> {
  requireSubnetId(subnetId);
  return readHistoryPage(ctx, historyKeys.addressPartitionOf(subnetId, ip), query);
}

/** A subnet's own entries: created, updated, deleted. */
export function subnetHistory(
  ctx: IpamContext,
  subnetId: string,
  query: HistoryQuery,
): Promise<Page<HistoryEntryView>> {
  requireSubnetId(subnetId);
  return readHistoryPage(ctx, historyKeys.subnetPartition(subnetId), query);
}

/**
 * History answers for any subnet id that could have existed (deleted subnets keep
 * theirs), so an unknown id is an empty page; text that no subnet id ever had is a
 * mistake to name, not an empty history.
 */
function requireSubnetId(subnetId: string): void {
  if (!isId('sub', subnetId))
    throw new ValidationError(
      `"${subnetId.slice(0, 64)}" is not a subnet id: they look like sub_ and 22 letters, digits, - or _`,
      { field: 'subnetId' },
    );
}

/** One page of a history partition, newest first. */
async function readHistoryPage(
  ctx: IpamContext,
  partition: string,
  query: { limit: number; cursor?: string },
): Promise<Page<HistoryEntryView>> {
  const scope = historyScope(partition);
  const start = decodeCursor(scope, query.cursor);
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
        ? encodeCursor(scope, { pk: last.pk, sk: last.sk })
        : null,
  };
}

/** The cursor scope of one history partition: its own entries only. */
function historyScope(partition: string): ListScope {
  return {
    name: ['history', partition],
    keys: ['pk', 'sk'],
    contains: (key) => key.pk === partition,
  };
}
