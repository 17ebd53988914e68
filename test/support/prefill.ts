/**
 * Test-only fill of a subnet's blocks without paying for the allocator: writes the
 * block items and counter deltas the allocator itself would write when taking the
 * given offsets (`u` per block, `n`/`p`/`ver` per shard; see planWrites in
 * shared/allocator/reservationPlan.ts). Not written: the `t<o>` request tokens
 * (only an undo reads them) and the allocation items of these addresses — no pick
 * reads them (a pick's Put concerns a free address, whose item is absent either
 * way), so tests that allocate by strategy see what a real fill would show them.
 * Nothing else may write the subnet meanwhile.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchWrite } from '../../shared/store/batchWrite.js';
import type { IpamContext } from '../../shared/store/context.js';
import { keys } from '../../shared/store/keys.js';
import { emptyBlock, freeOffsets } from '../../shared/subnets/blocks.js';
import { addressAt, type Geometry, shardOfBlock } from '../../shared/subnets/geometry.js';
import { inPools } from '../../shared/subnets/rules.js';
import type { Subnet } from '../../shared/subnets/subnet.js';

/** The pool offsets of a block, ascending. */
export function poolOffsetsOf(subnet: Subnet, g: Geometry, block: bigint): number[] {
  return freeOffsets(g, emptyBlock(block), subnet.pools, 0);
}

/** Marks `offsets` of each block as taken (blocks must hold no item yet), counters included. */
export async function prefillBlocks(
  ctx: IpamContext,
  subnet: Subnet,
  g: Geometry,
  taken: ReadonlyMap<bigint, readonly number[]>,
): Promise<void> {
  const perShard = new Map<number, { n: number; p: number }>();
  const puts = [...taken].map(([block, offsets]) => {
    const shard = shardOfBlock(g, block);
    const delta = perShard.get(shard) ?? { n: 0, p: 0 };
    delta.n += offsets.length;
    delta.p += offsets.filter((offset) =>
      inPools(subnet.pools, addressAt(g, block, offset)),
    ).length;
    perShard.set(shard, delta);
    return {
      PutRequest: { Item: { ...keys.block(subnet.id, shard, block), u: new Set(offsets) } },
    };
  });
  await batchWrite(ctx, puts);
  for (const [shard, delta] of perShard) {
    await ctx.doc.send(
      new UpdateCommand({
        TableName: ctx.tableName,
        Key: keys.counter(subnet.id, shard),
        UpdateExpression: 'ADD n :n, p :p, ver :one',
        ExpressionAttributeValues: { ':n': delta.n, ':p': delta.p, ':one': 1 },
      }),
    );
  }
}
