/**
 * Listing live allocations: a subnet's in address order (shard by shard), or one
 * owner's through the owner index. Both fill a page with a shrinking `Limit`
 * (expired leases are filtered out), so they keep their own loops.
 */
import { QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { bitLength } from '../net/address.js';
import type { IpamContext } from '../store/context.js';
import { ownerAllocationsScope, subnetAllocationsScope } from '../store/cursorScopes.js';
import { keys, PREFIX } from '../store/keys.js';
import { type Cursor, decodeCursor, encodeCursor, type Page } from '../store/paging.js';
import { type Geometry, geometryOf, positionOf } from '../subnets/geometry.js';
import { liveFilter } from '../subnets/holding.js';
import { loadSubnet } from '../subnets/subnets.js';
import { type AllocationItem, type AllocationView, viewFromItem } from './items.js';

/** A subnet's live allocations in address order, or only `owner`'s. */
export async function listSubnetAllocations(
  ctx: IpamContext,
  subnetId: string,
  query: { owner?: string; limit: number; cursor?: string },
): Promise<Page<AllocationView>> {
  const subnet = await loadSubnet(ctx, subnetId);
  if (query.owner !== undefined) return listByOwner(ctx, query.owner, query, `${subnet.id}#`);
  const g = geometryOf(subnet.cidr);
  const scope = subnetAllocationsScope(
    subnet.id,
    g.shardCount,
    bitLength(subnet.cidr.version) / 4,
    (value) => shardOf(g, value),
  );
  const cursor = decodeCursor(scope, query.cursor);
  let shard = cursor === undefined ? 0 : Number(cursor.shard);
  let startKey: Cursor | undefined = cursor?.sk
    ? { pk: keys.shardPartition(subnet.id, shard), sk: cursor.sk }
    : undefined;
  const items: AllocationView[] = [];
  const live = liveFilter(ctx.now());
  for (; shard < g.shardCount; shard++) {
    do {
      const page: QueryCommandOutput = await ctx.doc.send(
        new QueryCommand({
          TableName: ctx.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ip)',
          FilterExpression: live.FilterExpression,
          ExpressionAttributeValues: {
            ':pk': keys.shardPartition(subnet.id, shard),
            ':ip': PREFIX.allocation,
            ...live.ExpressionAttributeValues,
          },
          Limit: query.limit - items.length,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []).map((item) => viewFromItem(item as AllocationItem)));
      startKey = page.LastEvaluatedKey as Cursor | undefined;
      if (items.length >= query.limit) {
        const next =
          startKey !== undefined
            ? { shard: String(shard), sk: startKey.sk ?? '' }
            : shard + 1 < g.shardCount
              ? { shard: String(shard + 1), sk: '' }
              : undefined;
        return { items, nextCursor: encodeCursor(scope, next) };
      }
    } while (startKey !== undefined);
  }
  return { items, nextCursor: null };
}

/** The shard of an address inside the subnet, undefined outside it. */
function shardOf(g: Geometry, value: bigint): number | undefined {
  if (value < g.network || value >= g.network + g.size) return undefined;
  return positionOf(g, value).shard;
}

/** Lists one owner's live allocations (across subnets, or within those whose id starts the sort key). */
export async function listByOwner(
  ctx: IpamContext,
  owner: string,
  query: { limit: number; cursor?: string },
  sortPrefix = '',
): Promise<Page<AllocationView>> {
  const scope = ownerAllocationsScope(owner, sortPrefix);
  let startKey: Cursor | undefined = decodeCursor(scope, query.cursor);
  const items: AllocationView[] = [];
  const live = liveFilter(ctx.now());
  do {
    const page: QueryCommandOutput = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression:
          sortPrefix === '' ? 'gsi1pk = :pk' : 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)',
        FilterExpression: live.FilterExpression,
        ExpressionAttributeValues: {
          ':pk': keys.owner(owner),
          ...live.ExpressionAttributeValues,
          ...(sortPrefix === '' ? {} : { ':prefix': sortPrefix }),
        },
        Limit: query.limit - items.length,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []).map((item) => viewFromItem(item as AllocationItem)));
    startKey = page.LastEvaluatedKey as Cursor | undefined;
  } while (startKey !== undefined && items.length < query.limit);
  return { items, nextCursor: encodeCursor(scope, startKey) };
}
