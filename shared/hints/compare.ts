/**
 * Hints against blocks (stage 2's check): once the stream has drained, every block's
 * hint must say what the block says of each offset — taken or not, `x<o>`, `q<o>` —
 * where the blocks are exact (the lock, in the same transactions as the items).
 * A block or hint that is not there is an empty one.
 */
import type { IpamContext } from '../store/context.js';
import { keys, PREFIX, parseBlockSort, parseHintSort } from '../store/keys.js';
import { queryPages } from '../store/query.js';
import { type BlockState, blockFromItem } from '../subnets/blocks.js';

/** One offset on which a block and its hint disagree. */
export interface HintDifference {
  readonly shard: number;
  readonly block: bigint;
  readonly offset: number;
  readonly blockSays: string;
  readonly hintSays: string;
}

/** Every disagreement between the blocks and the hints of a subnet's `shardCount` shards. */
export async function compareHints(
  ctx: IpamContext,
  subnetId: string,
  shardCount: number,
): Promise<HintDifference[]> {
  const differences: HintDifference[] = [];
  for (let shard = 0; shard < shardCount; shard++) {
    const blocks = await statesOf(ctx, subnetId, shard, PREFIX.block);
    const hints = await statesOf(ctx, subnetId, shard, PREFIX.hint);
    for (const block of new Set([...blocks.keys(), ...hints.keys()])) {
      const b = blocks.get(block);
      const h = hints.get(block);
      for (let offset = 0; offset < 256; offset++) {
        const blockSays = describe(b, offset);
        const hintSays = describe(h, offset);
        if (blockSays !== hintSays) differences.push({ shard, block, offset, blockSays, hintSays });
      }
    }
  }
  return differences;
}

async function statesOf(
  ctx: IpamContext,
  subnetId: string,
  shard: number,
  prefix: string,
): Promise<Map<bigint, BlockState>> {
  const states = new Map<bigint, BlockState>();
  for await (const items of queryPages(ctx, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': keys.shardPartition(subnetId, shard), ':prefix': prefix },
    ConsistentRead: true,
  })) {
    for (const item of items) {
      const sk = String(item.sk);
      const block = prefix === PREFIX.hint ? parseHintSort(sk) : parseBlockSort(sk);
      states.set(block, blockFromItem(block, item));
    }
  }
  return states;
}

function describe(state: BlockState | undefined, offset: number): string {
  if (state === undefined || !state.used.has(offset)) return 'free';
  const x = state.leases.get(offset);
  const q = state.cooling.get(offset);
  return `held${x === undefined ? '' : ` x=${x}`}${q === undefined ? '' : ` q=${q}`}`;
}
