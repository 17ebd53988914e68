/**
 * `strategy: sequential`: the lowest free pool addresses (API.md). Shards are
 * walked in address order; in each, the stored blocks are read forward in small
 * pages from the first block that may have room, so a pick costs a block or two
 * however full the shard is below.
 *
 * Where the walk starts is a per-shard hint in this allocator's view: every block
 * before it was read full. It only moves forward when a read proves the blocks it
 * passes full; it is lowered at once by this allocator's own releases, it lapses
 * when the first lease among the skipped blocks expires, and otherwise after
 * `cacheMs` (a release by another container below it is seen by then: the same
 * bound as every other cached fact; `cacheMs: 0` walks from the pools' start
 * every time). The walk itself only ever offers what its read shows free.
 */
import { offsetState } from '../subnets/blocks.js';
import type { ShardCounter } from '../subnets/counters.js';
import { blockRange, type Geometry, positionOf, shardRange } from '../subnets/geometry.js';
import { clipPools } from '../subnets/rules.js';
import type { Candidate } from './candidate.js';
import { nowSeconds } from './reads.js';
import type { CachedSubnet, SubnetViews } from './views.js';

/**
 * The lowest `count` free pool addresses not in `skip` (fewer if the reads show
 * fewer). With cached counters (`fresh` false) it stops at the first shard that
 * has fewer free addresses than they promised, so the caller rereads them first.
 */
export async function pickSequential(
  views: SubnetViews,
  entry: CachedSubnet,
  g: Geometry,
  free: readonly bigint[],
  counters: readonly ShardCounter[],
  count: number,
  skip: ReadonlySet<bigint>,
  fresh: boolean,
  consistent: boolean,
): Promise<Candidate[]> {
  // Shards with free addresses by the counters, and full ones that count leases
  // (an expired lease is free): in address order.
  const shards = free
    .map((size, shard) => ({ size, shard }))
    .filter(({ size, shard }) => size > 0n || (counters[shard]?.l ?? 0) > 0)
    .map(({ shard }) => shard);
  const chosen: Candidate[] = [];
  for (const shard of shards) {
    let inShard = 0n;
    for await (const candidate of freeInOrder(views, entry, g, shard, consistent)) {
      if (skip.has(candidate.value)) continue;
      chosen.push(candidate);
      inShard++;
      if (chosen.length === count) return chosen;
    }
    if (!fresh && (free[shard] ?? 0n) > inShard) break;
  }
  return chosen;
}

/**
 * The free pool addresses of one shard in ascending order, read lazily from the
 * shard's hint on (or from its pools' first block). Records the hint anew: the
 * block of the first free address found, or past the pools if none is.
 */
async function* freeInOrder(
  views: SubnetViews,
  entry: CachedSubnet,
  g: Geometry,
  shard: number,
  consistent: boolean,
): AsyncGenerator<Candidate> {
  const range = shardRange(g, shard);
  const pools = clipPools(entry.subnet.pools, range.start, range.end);
  const firstPool = pools[0];
  const lastPool = pools[pools.length - 1];
  if (firstPool === undefined || lastPool === undefined) return;
  const now = nowSeconds(views.ctx);
  const hint = consistent ? undefined : views.hint(entry, shard);
  const firstBlock = positionOf(g, firstPool.start).block;
  const lastBlock = positionOf(g, lastPool.end).block;
  const from = hint !== undefined && hint.block > firstBlock ? hint.block : firstBlock;
  if (from > lastBlock) return;
  // The proof below `from` dates from the hint's read; leases there expire by `until`.
  const readAt = hint?.readAt ?? views.ctx.now();
  let until = hint?.until ?? Number.POSITIVE_INFINITY;
  let hinted = false;
  const found = (block: bigint) => {
    if (hinted) return;
    hinted = true;
    views.setHint(entry, shard, { block, readAt, until });
  };
  const stored = views.walkShard(entry, shard, { from, to: lastBlock }, consistent);
  let next = await stored.next();
  // Blocks before `from` were read full: the pools from there on.
  for (const pool of clipPools(pools, blockRange(g, from).start, range.end)) {
    let value = pool.start;
    while (value <= pool.end) {
      const block = positionOf(g, value).block;
      while (!next.done && next.value.block < block) next = await stored.next();
      if (!next.done && next.value.block === block) {
        const state = next.value;
        const { start: blockStart, end: blockEnd } = blockRange(g, block);
        for (; value <= pool.end && value <= blockEnd; value++) {
          const offset = Number(value - blockStart);
          const status = offsetState(state, offset, now);
          if (status === 'held') {
            const expiry = state.leases.get(offset);
            if (expiry !== undefined && expiry < until) until = expiry;
            continue;
          }
          found(block);
          yield { value, pos: positionOf(g, value), reclaim: status === 'expired' };
        }
        continue;
      }
      // No item: the block (and any up to the next stored one) is wholly free.
      const nextStart = next.done ? undefined : blockRange(g, next.value.block).start;
      for (; value <= pool.end && (nextStart === undefined || value < nextStart); value++) {
        const pos = positionOf(g, value);
        found(pos.block);
        yield { value, pos, reclaim: false };
      }
    }
  }
  // Every pool address from `from` on was held.
  if (!hinted) views.setHint(entry, shard, { block: lastBlock + 1n, readAt, until });
}
