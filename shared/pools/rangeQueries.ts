/**
 * Sort-key range reads the pool code shares: the free/used partitions and the space
 * index are both keyed by first address, so "what overlaps this range" is a range
 * query plus the one item that starts before it.
 */
import { paginateQuery, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { IpamContext } from '../store/context.js';

/** Every item of partition `pk` with a sort key in [low, high], paged through. */
export async function queryRange(
  ctx: IpamContext,
  pk: string,
  low: string,
  high: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for await (const page of paginateQuery(
    { client: ctx.doc },
    {
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
      ExpressionAttributeValues: { ':pk': pk, ':low': low, ':high': high },
      ConsistentRead: true,
    },
  )) {
    items.push(...(page.Items ?? []));
  }
  return items;
}

/**
 * Items keyed by their first address that may overlap the range [first, last]:
 * those starting inside it, and the last one (with a key ≥ floor) starting before.
 */
export async function queryStartingIn(
  ctx: IpamContext,
  pk: string,
  floor: string,
  first: string,
  last: string,
): Promise<Record<string, unknown>[]> {
  const before = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
      // Exclusive of `first`, which the range query below returns.
      ExpressionAttributeValues: { ':pk': pk, ':low': floor, ':high': first },
      ScanIndexForward: false,
      Limit: 2,
      ConsistentRead: true,
    }),
  );
  const previous = (before.Items ?? []).find((item) => String(item.sk) < first);
  return [
    ...(previous === undefined ? [] : [previous]),
    ...(await queryRange(ctx, pk, first, last)),
  ];
}
