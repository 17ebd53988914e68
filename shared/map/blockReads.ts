/**
 * The block items of a run of consecutive blocks, read consistently in the fewest
 * requests: a range Query per shard the run touches (only the blocks that exist
 * come back, so a sparse IPv6 run costs what its used blocks weigh), or BatchGets
 * of 100 keys when that is fewer requests (a /17's 128 blocks lie in 64 shards).
 */

import { storedBlocks } from '../allocator/reads.js';
import { batchGet } from '../store/batch.js';
import type { IpamContext } from '../store/context.js';
import { keys, parseBlockSort } from '../store/keys.js';
import { type BlockState, blockFromItem } from '../subnets/blocks.js';
import { type Geometry, shardBlocks, shardOfBlock } from '../subnets/geometry.js';

const BATCH_KEYS = 100;

export async function readBlocks(
  ctx: IpamContext,
  subnetId: string,
  g: Geometry,
  first: bigint,
  last: bigint,
): Promise<BlockState[]> {
  const firstShard = shardOfBlock(g, first);
  const lastShard = shardOfBlock(g, last);
  const shards = lastShard - firstShard + 1;
  const batches = Math.ceil(Number(last - first + 1n) / BATCH_KEYS);
  if (batches < shards) {
    const wanted: Record<string, unknown>[] = [];
    for (let block = first; block <= last; block++) {
      wanted.push(keys.block(subnetId, shardOfBlock(g, block), block));
    }
    return (await batchGet(ctx, wanted)).map((item) =>
      blockFromItem(parseBlockSort(String(item.sk)), item),
    );
  }
  const perShard = await Promise.all(
    Array.from({ length: shards }, async (_, i) => {
      const shard = firstShard + i;
      const own = shardBlocks(g, shard);
      const range = {
        from: own.first > first ? own.first : first,
        to: own.last < last ? own.last : last,
      };
      const found: BlockState[] = [];
      for await (const block of storedBlocks(ctx, subnetId, shard, range, { consistent: true })) {
        found.push(block);
      }
      return found;
    }),
  );
  return perShard.flat();
}
