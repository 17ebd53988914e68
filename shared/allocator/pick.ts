/**
 * Picking free pool addresses by strategy: random (randomPick.ts) or sequential
 * (sequentialPick.ts). "Full" is decided from the shard counters (≤ 64 tiny
 * items), never by scanning addresses: a pick that finds fewer than the counters
 * promise reads them again, then once more strongly consistently (with strongly
 * consistent block reads), before it answers SubnetExhausted — or, when the
 * counters still show room that concurrent writers keep taking, AllocationContention.
 */
import { AllocationContentionError, SubnetExhaustedError } from '../errors.js';
import { readCounters, sumCounters } from '../subnets/counters.js';
import { type Geometry, poolSizePerShard } from '../subnets/geometry.js';
import { heldAside } from '../subnets/leases.js';
import { jsonCount } from '../subnets/subnet.js';
import type { Candidate } from './candidate.js';
import { pickRandom } from './randomPick.js';
import { pickSequential } from './sequentialPick.js';
import type { CachedSubnet, SubnetViews } from './views.js';

export const Strategy = { RANDOM: 'random', SEQUENTIAL: 'sequential' } as const;
export type Strategy = (typeof Strategy)[keyof typeof Strategy];

/** Free addresses in a subnet below which cached counters are read again. */
const NEARLY_FULL = 64;

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
      // The consistent pass decides "full": on the counters as of one instant.
      entry.counters = await readCounters(views.ctx, subnet, consistent ? 'atomic' : false);
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
    // Shards that count leases may hold expired ones, free though the counters count
    // them: tried last for what the counted free addresses cannot give — also in a
    // shard that is not full (3 wanted, 2 free by the counters, 1 expired lease).
    const leased = counters.filter((counter) => counter.l > 0).map((counter) => counter.shard);
    const chosen =
      strategy === Strategy.SEQUENTIAL
        ? await pickSequential(
            views,
            entry,
            g,
            freePerShard,
            counters,
            count,
            skip,
            fresh,
            consistent,
          )
        : await pickRandom(views, entry, g, freePerShard, leased, count, skip, fresh, consistent);
    if (chosen.length === count) return chosen;
    if (!fresh) {
      // The cached counters promised more than the blocks hold: reread them once.
      entry.counters = undefined;
      continue;
    }
    if (!consistent) {
      // Decide on strongly consistent reads: a release a moment ago counts, and a
      // stale block read cannot make free addresses look taken.
      consistent = true;
      entry.counters = undefined;
      continue;
    }
    const counts = sumCounters(counters);
    const total = poolPerShard.reduce((sum, size) => sum + size, 0n);
    if (counts.inPools + BigInt(count) <= total) {
      // Free by the counters read just before the blocks, yet the blocks hold less:
      // concurrent writers took the rest between the two reads.
      throw new AllocationContentionError(
        `Free addresses in subnet ${subnet.id} are being taken by concurrent requests; retry shortly.`,
      );
    }
    const cooling = (await heldAside(views.ctx, subnet, counters, true)).cooling.filter(
      (offset) => offset.inPool,
    );
    if (cooling.length === 0) {
      throw new SubnetExhaustedError(jsonCount(total), jsonCount(counts.inPools), count);
    }
    // Some of the pool is in its release cool-down: say how much, and when it starts to end.
    const first = cooling.reduce((least, offset) => Math.min(least, offset.expiry), Infinity);
    throw new SubnetExhaustedError(
      jsonCount(total),
      jsonCount(counts.inPools - BigInt(cooling.length)),
      count,
      { quarantined: cooling.length, availableAt: new Date(first * 1000).toISOString() },
    );
  }
}
