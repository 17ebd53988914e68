/**
 * `strategy: random`: each address uniform among the free pool addresses and
 * independent of earlier answers (API.md). For every address of a request a shard
 * is drawn weighted by its free addresses (the counters, less what the request
 * already took there), then an address uniformly among the shard's free ones:
 *
 * - a shard of ≤ 64 blocks is read whole (one query) or picked from a fresh view
 *   of it; either way uniformly among all it shows free;
 * - a huge shard (IPv4 /8–/11, IPv6) is sampled while enough of it is free: an
 *   address drawn uniformly from its pools, its block read, kept if free (rejection
 *   sampling keeps the draw uniform); when little is free, or the samples keep
 *   missing, the shard's stored blocks are read whole (one paged query over the
 *   blocks ever written) and the draw is made among all it shows free.
 *
 * A view only saves reads: nothing steers a pick towards the last one's block.
 */
import { randomBelow, randomInRanges } from '../net/random.js';
import { offsetState } from '../subnets/blocks.js';
import {
  type Geometry,
  type Position,
  positionOf,
  shardBlocks,
  shardRange,
} from '../subnets/geometry.js';
import { type AddressRange, clipPools, poolSize } from '../subnets/rules.js';
import type { Candidate } from './candidate.js';
import { drawFree } from './freeSpace.js';
import { nowSeconds } from './reads.js';
import type { CachedSubnet, KnownBlock, SubnetViews } from './views.js';

/** Blocks per shard up to which a pick reads the whole shard (one query, ≤ 64 items). */
const WHOLE_SHARD_READ_LIMIT = 64n;
/**
 * A huge shard is sampled while at least 1 in this many of its pool addresses is
 * free (a sample then costs ≤ 16 block reads on average, far less than reading a
 * huge shard whole, which may be megabytes).
 */
const SAMPLE_FREE_RATIO = 16n;
/**
 * Rounds of samples (one block read per address still wanted) before a huge shard
 * is read whole: at 1/16 free, 4.5 % of picks get there; at 1/2 free, 4e-15.
 */
const SAMPLE_ROUNDS = 48;
/** Free addresses in a shard below which a cached view of it is read again. */
const SHARD_NEARLY_FULL = 16n;

/**
 * Up to `count` free pool addresses, a uniformly random subset as far as the
 * counters and reads show. `free` is each shard's free count by the counters;
 * `leased` the shards that may hold expired leases, which the counters count as
 * taken (tried last, for what the counted free addresses cannot give). With cached counters (`fresh` false) it stops at the first shard that
 * has fewer free addresses than they promised, so the caller rereads them first.
 */
export async function pickRandom(
  views: SubnetViews,
  entry: CachedSubnet,
  g: Geometry,
  free: readonly bigint[],
  leased: readonly number[],
  count: number,
  skip: ReadonlySet<bigint>,
  fresh: boolean,
  consistent: boolean,
): Promise<Candidate[]> {
  const weights = [...free];
  const chosen: Candidate[] = [];
  const taken = new Set(skip);
  const take = (found: readonly Candidate[]) => {
    for (const candidate of found) {
      chosen.push(candidate);
      taken.add(candidate.value);
    }
  };
  while (chosen.length < count) {
    const assigned = drawShards(weights, count - chosen.length);
    if (assigned.size === 0) break;
    // Shards hold disjoint addresses, so they are read and drawn from at once.
    const results = await Promise.all(
      [...assigned].map(async ([shard, wanted]) => {
        const found = await pickInShard(views, entry, g, shard, wanted, taken, {
          counterFree: free[shard] ?? 0n,
          consistent,
        });
        return { shard, wanted, found };
      }),
    );
    let short = false;
    for (const { shard, wanted, found } of results) {
      take(found);
      if (found.length < wanted) {
        // As read just now, the shard has nothing more: draw the rest elsewhere.
        weights[shard] = 0n;
        short = true;
      }
    }
    if (short && !fresh) return chosen;
  }
  for (const shard of leased) {
    if (chosen.length === count) break;
    take(
      await pickInShard(views, entry, g, shard, count - chosen.length, taken, {
        counterFree: 0n,
        consistent,
      }),
    );
  }
  return chosen;
}

/**
 * How many of `count` addresses go to each shard: each drawn weighted by the
 * shards' free addresses, less those already assigned (what a uniformly random
 * set of addresses would put in each shard). Decrements `weights`.
 */
function drawShards(weights: bigint[], count: number): Map<number, number> {
  const assigned = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const total = weights.reduce((sum, weight) => sum + weight, 0n);
    if (total === 0n) break;
    let target = randomBelow(total);
    const shard = weights.findIndex((weight) => {
      if (target < weight) return true;
      target -= weight;
      return false;
    });
    weights[shard] = (weights[shard] ?? 1n) - 1n;
    assigned.set(shard, (assigned.get(shard) ?? 0) + 1);
  }
  return assigned;
}

/** Up to `wanted` free pool addresses of one shard, a uniformly random subset. */
async function pickInShard(
  views: SubnetViews,
  entry: CachedSubnet,
  g: Geometry,
  shard: number,
  wanted: number,
  taken: ReadonlySet<bigint>,
  options: { counterFree: bigint; consistent: boolean },
): Promise<Candidate[]> {
  const range = shardRange(g, shard);
  const pools = clipPools(entry.subnet.pools, range.start, range.end);
  const firstPool = pools[0];
  const lastPool = pools[pools.length - 1];
  if (firstPool === undefined || lastPool === undefined) return [];
  const now = nowSeconds(views.ctx);
  const { first, last } = shardBlocks(g, shard);
  const found: Candidate[] = [];
  if (
    last - first + 1n > WHOLE_SHARD_READ_LIMIT &&
    options.counterFree * SAMPLE_FREE_RATIO >= poolSize(pools)
  ) {
    found.push(...(await sample(views, entry, g, pools, wanted, taken, options.consistent)));
    if (found.length === wanted) return found;
  }
  // The whole shard (the blocks its pools cover): a fresh view, or one query.
  const rest = new Set([...taken, ...found.map((candidate) => candidate.value)]);
  const span = {
    from: positionOf(g, firstPool.start).block,
    to: positionOf(g, lastPool.end).block,
  };
  // A shard with few free addresses changes fast under concurrent writers: read it.
  const cached =
    options.consistent || options.counterFree < SHARD_NEARLY_FULL
      ? undefined
      : views.freshShardView(entry, shard);
  let view = cached ?? (await views.readShard(entry, shard, span, options.consistent));
  view.uses++;
  let more = drawFree(g, view.blocks, pools, wanted - found.length, rest, now);
  if (cached !== undefined && more.length < wanted - found.length) {
    // A stale view may show too little: read before concluding the shard is full.
    view = await views.readShard(entry, shard, span, options.consistent);
    view.uses++;
    more = drawFree(g, view.blocks, pools, wanted - found.length, rest, now);
  }
  return [...found, ...more];
}

/**
 * Rejection sampling in a huge shard: each round draws the addresses still wanted
 * uniformly from the shard's pools, reads their blocks (unless freshly known; in
 * parallel) and keeps each drawn address that is free and not yet chosen — so each
 * kept address is uniform among the free ones left.
 */
async function sample(
  views: SubnetViews,
  entry: CachedSubnet,
  g: Geometry,
  pools: readonly AddressRange[],
  wanted: number,
  taken: ReadonlySet<bigint>,
  consistent: boolean,
): Promise<Candidate[]> {
  const now = nowSeconds(views.ctx);
  const found: Candidate[] = [];
  const chosen = new Set(taken);
  for (let round = 0; round < SAMPLE_ROUNDS && found.length < wanted; round++) {
    const draws = Array.from({ length: wanted - found.length }, () => randomInRanges(pools));
    const byBlock = new Map<bigint, Position>();
    for (const value of draws) {
      const pos = positionOf(g, value);
      byBlock.set(pos.block, pos);
    }
    const known = new Map<bigint, KnownBlock>();
    await Promise.all(
      [...byBlock.values()].map(async (pos) => {
        const fresh = consistent ? undefined : views.freshBlock(entry, pos.block);
        known.set(pos.block, fresh ?? (await views.readBlock(entry, pos, consistent)));
      }),
    );
    for (const block of known.values()) block.uses++;
    for (const value of draws) {
      const pos = positionOf(g, value);
      const state = known.get(pos.block)?.state;
      if (state === undefined || chosen.has(value)) continue;
      const status = offsetState(state, pos.offset, now);
      if (status === 'held') continue;
      chosen.add(value);
      found.push({ value, pos, reclaim: status === 'expired' });
    }
  }
  return found;
}
