/**
 * Picking free pool addresses by strategy (random or sequential). A pick costs one
 * read of a shard's blocks (≤ 64 small items) or of one block, whatever the
 * subnet's size or fill; "full" is decided from the shard counters (≤ 64 tiny
 * items), never by scanning addresses. Randomness comes from shared/net/random.ts.
 */
import { AllocationContentionError, SubnetExhaustedError } from '../errors.js';
import { randomBelow, sampleWithoutReplacement } from '../net/random.js';
import { type BlockState, emptyBlock, freeOffsets } from '../subnets/blocks.js';
import { readCounters, type ShardCounter, sumCounters } from '../subnets/counters.js';
import {
  addressAt,
  blockRange,
  type Geometry,
  poolSizePerShard,
  positionOf,
  shardBlocks,
  shardRange,
} from '../subnets/geometry.js';
import { clipPools } from '../subnets/rules.js';
import { jsonCount } from '../subnets/subnet.js';
import type { Candidate } from './candidate.js';
import { nowSeconds } from './reads.js';
import type { CachedSubnet, SubnetViews } from './views.js';

export const Strategy = { RANDOM: 'random', SEQUENTIAL: 'sequential' } as const;
export type Strategy = (typeof Strategy)[keyof typeof Strategy];

/** Blocks per shard up to which a pick reads the whole shard (one query, ≤ 64 items). */
const WHOLE_SHARD_READ_LIMIT = 64n;
/** Blocks a random pick in a huge shard samples before it rereads the counters. */
const SAMPLES_PER_SHARD = 8;
/** Free addresses in a subnet below which cached counters are read again. */
const NEARLY_FULL = 64;
/** Free addresses in a shard below which a cached view of it is read again. */
const SHARD_NEARLY_FULL = 16;

/** Chooses `count` free pool addresses by strategy, or throws SubnetExhausted. */
export async function pick(
  views: SubnetViews,
  entry: CachedSubnet,
  g: Geometry,
  strategy: Strategy,
  count: number,
  skip: ReadonlySet<bigint>,
): Promise<Candidate[]> {
  const subnet = entry.subnet;
  const poolPerShard = poolSizePerShard(g, subnet.pools);
  let fresh = false;
  let consistent = false;
  for (;;) {
    if (entry.counters === undefined || views.ctx.now() - entry.countersAt > views.cacheMs) {
      entry.counters = await readCounters(views.ctx, subnet, consistent);
      entry.countersAt = views.ctx.now();
      fresh = true;
    }
    const counters = entry.counters;
    const freePerShard = counters.map((counter, shard) => {
      const free = (poolPerShard[shard] ?? 0n) - BigInt(counter.p);
      return free > 0n ? free : 0n;
    });
    // Nearly full: what others took since the cache was filled matters now. Read
    // the counters afresh (a full subnet is then answered without a write).
    if (
      !fresh &&
      freePerShard.reduce((sum, free) => sum + free, 0n) < BigInt(count + NEARLY_FULL)
    ) {
      entry.counters = undefined;
      continue;
    }
    const shards = orderShards(strategy, freePerShard, counters);
    const sticky = entry.sticky?.shard;
    if (
      strategy === Strategy.RANDOM &&
      sticky !== undefined &&
      (freePerShard[sticky] ?? 0n) > 0n &&
      views.hasFreshView(entry, sticky)
    ) {
      // Stay while this allocator's view of the shard is fresh (no read needed to
      // pick there); then draw the shard anew, weighted by free addresses, so the
      // writers spread over all shards.
      shards.splice(shards.indexOf(sticky), 1);
      shards.unshift(sticky);
    }
    const chosen: Candidate[] = [];
    for (const shard of shards) {
      const wanted = count - chosen.length;
      const taken = new Set([...skip, ...chosen.map((candidate) => candidate.value)]);
      // A shard with few free addresses changes fast under concurrent writers: read it.
      if ((freePerShard[shard] ?? 0n) < BigInt(SHARD_NEARLY_FULL)) entry.shardViews.delete(shard);
      const found = await pickInShard(views, entry, g, shard, strategy, wanted, taken);
      chosen.push(...found);
      if (chosen.length === count) return chosen;
      // Cached counters promised free addresses this shard does not have: read them
      // again before walking further shards on their word (a full subnet is then
      // answered in two requests).
      if (!fresh && (freePerShard[shard] ?? 0n) > BigInt(found.length)) break;
    }
    if (!fresh) {
      // The cached counters promised more than the blocks hold: reread them once.
      entry.counters = undefined;
      continue;
    }
    const counts = sumCounters(counters);
    const total = poolPerShard.reduce((sum, size) => sum + size, 0n);
    if (counts.inPools + BigInt(count) <= total && chosen.length < count) {
      // Free by the counters, but other writers hold the rest right now.
      throw new AllocationContentionError(
        `Free addresses in subnet ${subnet.id} are being taken by concurrent requests; retry shortly.`,
      );
    }
    if (!consistent) {
      // "Full" is decided on a strongly consistent read: a release a moment ago counts.
      consistent = true;
      entry.counters = undefined;
      continue;
    }
    throw new SubnetExhaustedError(jsonCount(total), jsonCount(counts.inPools), count);
  }
}

/**
 * Up to `wanted` free pool addresses of one shard. Random picks in a small shard
 * use this allocator's view of the whole shard while it is fresh (at most
 * VIEW_USES picks or cacheMs old), else read the shard (one query, ≤ 64 items) and
 * choose uniformly among its free addresses; a huge shard (IPv6, big IPv4) is
 * sampled block by block. Sequential picks always read, in address order.
 */
async function pickInShard(
  views: SubnetViews,
  entry: CachedSubnet,
  g: Geometry,
  shard: number,
  strategy: Strategy,
  wanted: number,
  skip: ReadonlySet<bigint>,
): Promise<Candidate[]> {
  const subnet = entry.subnet;
  const now = nowSeconds(views.ctx);
  const range = shardRange(g, shard);
  const pools = clipPools(subnet.pools, range.start, range.end);
  if (pools.length === 0) return [];
  const candidateOf = (state: BlockState, offset: number): Candidate => {
    const value = addressAt(g, state.block, offset);
    return { value, pos: positionOf(g, value), reclaim: state.used.has(offset) };
  };
  if (strategy === Strategy.SEQUENTIAL) {
    const found: Candidate[] = [];
    for await (const state of views.readShard(entry, g, shard)) {
      for (const offset of freeOffsets(g, state, pools, now)) {
        const candidate = candidateOf(state, offset);
        if (skip.has(candidate.value)) continue;
        found.push(candidate);
        if (found.length === wanted) return found;
      }
    }
    return found;
  }
  const { first, last } = shardBlocks(g, shard);
  if (last - first + 1n <= WHOLE_SHARD_READ_LIMIT) {
    const view = entry.shardViews.get(shard);
    const fresh = view !== undefined && views.isFresh(view);
    if (!fresh) for await (const _ of views.readShard(entry, g, shard));
    entry.shardViews.get(shard)!.uses++;
    const free: Candidate[] = [];
    for (let block = first; block <= last; block++) {
      const state = entry.blocks.get(block)?.state ?? emptyBlock(block);
      for (const offset of freeOffsets(g, state, pools, now)) {
        const candidate = candidateOf(state, offset);
        if (!skip.has(candidate.value)) free.push(candidate);
      }
    }
    // A stale view may show too little: read before concluding the shard is full.
    if (fresh && free.length < wanted) {
      entry.shardViews.delete(shard);
      return pickInShard(views, entry, g, shard, strategy, wanted, skip);
    }
    return sampleWithoutReplacement(free, wanted);
  }
  // A huge shard: the sticky block while fresh, else uniform samples, one block read each.
  const found = new Map<bigint, Candidate>();
  const sticky = entry.sticky?.shard === shard ? entry.sticky.block : undefined;
  for (let sample = 0; sample <= SAMPLES_PER_SHARD && found.size < wanted; sample++) {
    const value =
      sample === 0 && sticky !== undefined ? addressAt(g, sticky, 0) : randomPoolAddress(pools);
    const pos = positionOf(g, value);
    let known = entry.blocks.get(pos.block);
    if (known === undefined || !views.isFresh(known)) {
      if (sample === 0 && sticky !== undefined) continue;
      known = await views.readBlock(entry, pos);
    }
    known.uses++;
    const { start, end } = blockRange(g, pos.block);
    const free = freeOffsets(g, known.state, clipPools(pools, start, end), now)
      .map((offset) => candidateOf(known.state, offset))
      .filter((candidate) => !skip.has(candidate.value) && !found.has(candidate.value));
    // A sampled address that is free is taken as drawn; otherwise any free one of its block.
    const sampled = !(sample === 0 && sticky !== undefined);
    const preferred = sampled ? free.filter((candidate) => candidate.value === value) : [];
    for (const candidate of [...preferred, ...sampleWithoutReplacement(free, wanted)]) {
      if (found.size === wanted) break;
      found.set(candidate.value, candidate);
    }
  }
  return [...found.values()];
}

/** Shards to try, in order: lowest first (sequential) or weighted by free addresses (random). */
function orderShards(
  strategy: Strategy,
  free: readonly bigint[],
  counters: readonly ShardCounter[],
): number[] {
  const withFree = free.map((size, shard) => ({ shard, size })).filter(({ size }) => size > 0n);
  // Shards whose counters count leases may hold expired (free) ones: try them last.
  const leased = counters
    .filter((counter, shard) => counter.l > 0 && (free[shard] ?? 0n) === 0n)
    .map((counter) => counter.shard);
  if (strategy === Strategy.SEQUENTIAL)
    return [...withFree.map(({ shard }) => shard), ...leased].sort((a, b) => a - b);
  const order: number[] = [];
  let remaining = withFree;
  while (remaining.length > 0) {
    const total = remaining.reduce((sum, { size }) => sum + size, 0n);
    let target = randomBelow(total);
    const index = remaining.findIndex(({ size }) => {
      if (target < size) return true;
      target -= size;
      return false;
    });
    order.push(remaining[index]!.shard);
    remaining = remaining.filter((_, i) => i !== index);
  }
  return [...order, ...leased];
}

function randomPoolAddress(pools: readonly { start: bigint; end: bigint }[]): bigint {
  const total = pools.reduce((sum, pool) => sum + (pool.end - pool.start + 1n), 0n);
  let target = randomBelow(total);
  for (const pool of pools) {
    const size = pool.end - pool.start + 1n;
    if (target < size) return pool.start + target;
    target -= size;
  }
  throw new Error('unreachable: target beyond the pools');
}
