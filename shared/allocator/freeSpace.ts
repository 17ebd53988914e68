/**
 * Uniform draws among the free pool addresses of a shard, as a whole-shard view
 * shows them. A block without an item is wholly free, so the free space is the
 * free offsets of the stored blocks (listed) plus the pool addresses of the blocks
 * that have no item (kept as ranges, never listed: an IPv6 shard has 2^50 blocks).
 * The cost follows the stored blocks and the pools, not the shard's size.
 */
import { nthInRanges, randomBelow } from '../net/random.js';
import { type BlockState, freeOffsets } from '../subnets/blocks.js';
import { addressAt, blockRange, type Geometry, positionOf } from '../subnets/geometry.js';
import { type AddressRange, inPools } from '../subnets/rules.js';
import type { Candidate } from './candidate.js';

/**
 * Up to `count` distinct free addresses of `pools` (sorted, disjoint, inside one
 * shard), each uniform among the free ones not `taken` and not drawn before:
 * a uniformly random subset. `blocks` are the stored blocks of the shard; every
 * other block the pools touch is taken to be wholly free.
 */
export function drawFree(
  g: Geometry,
  blocks: ReadonlyMap<bigint, BlockState>,
  pools: readonly AddressRange[],
  count: number,
  taken: ReadonlySet<bigint>,
  nowSeconds: number,
): Candidate[] {
  const stored = [...blocks.values()].sort((a, b) => (a.block < b.block ? -1 : 1));
  const listed: Candidate[] = [];
  for (const state of stored) {
    for (const offset of freeOffsets(g, state, pools, nowSeconds)) {
      const value = addressAt(g, state.block, offset);
      if (!taken.has(value))
        listed.push({ value, pos: positionOf(g, value), reclaim: state.used.has(offset) });
    }
  }
  const gaps = unstoredRanges(g, stored, pools);
  const gapSize = gaps.reduce((sum, range) => sum + (range.end - range.start + 1n), 0n);
  let gapTaken = 0n;
  for (const value of taken) {
    if (inPools(pools, value) && !blocks.has(positionOf(g, value).block)) gapTaken++;
  }
  let gapFree = gapSize - gapTaken;
  const drawn = new Set(taken);
  const chosen: Candidate[] = [];
  while (chosen.length < count) {
    const total = BigInt(listed.length) + gapFree;
    if (total === 0n) break;
    const index = randomBelow(total);
    if (index < BigInt(listed.length)) {
      // Swap-remove: the rest stays a list to draw from uniformly.
      const at = Number(index);
      const last = listed.pop();
      const candidate = at === listed.length ? last : listed[at];
      if (last !== undefined && at < listed.length) listed[at] = last;
      if (candidate !== undefined) chosen.push(candidate);
      continue;
    }
    // An address of a block without an item, uniform among those not taken: draw
    // over all of them and redraw a taken one (at least one is free, by gapFree).
    let value: bigint;
    do value = nthInRanges(gaps, randomBelow(gapSize));
    while (drawn.has(value));
    drawn.add(value);
    gapFree--;
    chosen.push({ value, pos: positionOf(g, value), reclaim: false });
  }
  return chosen;
}

/** The parts of `pools` that lie in blocks without an item (`stored` sorted by block). */
function unstoredRanges(
  g: Geometry,
  stored: readonly BlockState[],
  pools: readonly AddressRange[],
): AddressRange[] {
  const gaps: AddressRange[] = [];
  let first = 0;
  for (const pool of pools) {
    while (first < stored.length && blockEnd(g, stored[first]) < pool.start) first++;
    let cursor = pool.start;
    for (let i = first; i < stored.length; i++) {
      const { start, end } = blockRange(g, (stored[i] as BlockState).block);
      if (start > pool.end) break;
      if (start > cursor) gaps.push({ start: cursor, end: start - 1n });
      if (end + 1n > cursor) cursor = end + 1n;
    }
    if (cursor <= pool.end) gaps.push({ start: cursor, end: pool.end });
  }
  return gaps;
}

function blockEnd(g: Geometry, state: BlockState | undefined): bigint {
  return state === undefined ? -1n : blockRange(g, state.block).end;
}
