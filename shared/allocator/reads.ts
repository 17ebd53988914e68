/** The allocator's reads: an allocation item, a block, and the blocks of a shard. */
import { GetCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import type { IpAddress } from '../net/address.js';
import type { IpamContext } from '../store/context.js';
import { keys, parseBlockSort } from '../store/keys.js';
import { type BlockState, blockFromItem, emptyBlock } from '../subnets/blocks.js';
import {
  type Geometry,
  geometryOf,
  type Position,
  positionOf,
  shardBlocks,
} from '../subnets/geometry.js';
import type { Subnet } from '../subnets/subnet.js';
import type { AllocationItem } from './items.js';

/** The context's clock in epoch seconds (lease expiries and TTLs are in seconds). */
export function nowSeconds(ctx: IpamContext): number {
  return Math.floor(ctx.now() / 1000);
}

/** The live allocation item of an address, or undefined (expired leases are not live). */
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
  if (item === undefined) return undefined;
  if (item.ttl !== undefined && item.ttl <= nowSeconds(ctx)) return undefined;
  return item;
}

/** One block as stored (eventually consistent: it only guides a pick). */
export async function readBlock(
  ctx: IpamContext,
  subnet: Subnet,
  pos: Position,
): Promise<BlockState> {
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: keys.block(subnet.id, pos.shard, pos.block) }),
  );
  return blockFromItem(pos.block, result.Item);
}

/**
 * Every block of a shard in address order, read by one range query (paged, each
 * page fetched only when the caller reaches it): blocks without an item are wholly free.
 */
export async function* blocksOfShard(
  ctx: IpamContext,
  subnetId: string,
  g: Geometry,
  shard: number,
): AsyncGenerator<BlockState> {
  const { first, last } = shardBlocks(g, shard);
  let next = first;
  const pages = paginateQuery(
    { client: ctx.doc },
    {
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
      ExpressionAttributeValues: {
        ':pk': keys.shardPartition(subnetId, shard),
        ':first': keys.blockSort(first),
        ':last': keys.blockSort(last),
      },
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      const block = parseBlockSort(String(item.sk));
      for (; next < block; next++) yield emptyBlock(next);
      yield blockFromItem(block, item);
      next = block + 1n;
    }
  }
  for (; next <= last; next++) yield emptyBlock(next);
}
