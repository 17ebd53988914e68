/** The allocator's reads: an allocation item, a block, and the stored blocks of a shard. */
import { GetCommand, QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { IpAddress } from '../net/address.js';
import type { IpamContext } from '../store/context.js';
import { keys, parseBlockSort } from '../store/keys.js';
import { type BlockState, blockFromItem } from '../subnets/blocks.js';
import { geometryOf, type Position, positionOf } from '../subnets/geometry.js';
import { isLive } from '../subnets/holding.js';
import type { Subnet } from '../subnets/subnet.js';
import type { AllocationItem } from './items.js';

/** The context's clock in epoch seconds (lease expiries and TTLs are in seconds). */
export function nowSeconds(ctx: IpamContext): number {
  return Math.floor(ctx.now() / 1000);
}

/** The live allocation item of an address, or undefined (ended leases and tombstones are not live). */
export async function readAllocation(
  ctx: IpamContext,
  subnet: Subnet,
  ip: IpAddress,
): Promise<AllocationItem | undefined> {
  const pos = positionOf(geometryOf(subnet.cidr), ip.value);
  const result = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: keys.allocation(subnet.id, pos.shard, ip),
      ConsistentRead: true,
    }),
  );
  const item = result.Item as AllocationItem | undefined;
  return item !== undefined && isLive(item, ctx.now()) ? item : undefined;
}

/** One block as stored; eventually consistent unless `consistent` (it only guides a pick). */
export async function readBlock(
  ctx: IpamContext,
  subnet: Subnet,
  pos: Position,
  consistent = false,
): Promise<BlockState> {
  const result = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: keys.block(subnet.id, pos.shard, pos.block),
      ConsistentRead: consistent,
    }),
  );
  return blockFromItem(pos.block, result.Item);
}

/** How many block items a walk's first page asks for; each further page asks for twice the last. */
const FIRST_PAGE_ITEMS = 4;

/**
 * The stored blocks of a shard from block `from` to `to`, in address order, by one
 * range query (paged; a page is fetched only when the caller reaches it). Only
 * blocks that have an item come back: any other block is wholly free, so the cost
 * follows the blocks ever written, not the shard's size. `walk` starts with small
 * pages that double, for a caller that usually stops at the first block or two
 * (sequential picks); otherwise pages are DynamoDB's 1 MB.
 */
export async function* storedBlocks(
  ctx: IpamContext,
  subnetId: string,
  shard: number,
  range: { from: bigint; to: bigint },
  options: { consistent?: boolean; walk?: boolean } = {},
): AsyncGenerator<BlockState> {
  let limit = options.walk === true ? FIRST_PAGE_ITEMS : undefined;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page: QueryCommandOutput = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
        ExpressionAttributeValues: {
          ':pk': keys.shardPartition(subnetId, shard),
          ':first': keys.blockSort(range.from),
          ':last': keys.blockSort(range.to),
        },
        ConsistentRead: options.consistent === true,
        ExclusiveStartKey: startKey,
        ...(limit === undefined ? {} : { Limit: limit }),
      }),
    );
    for (const item of page.Items ?? []) {
      yield blockFromItem(parseBlockSort(String(item.sk)), item);
    }
    startKey = page.LastEvaluatedKey;
    if (limit !== undefined) limit *= 2;
  } while (startKey !== undefined);
}
