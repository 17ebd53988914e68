/**
 * What holds a taken offset of a block at one instant — the distinction every map
 * count is made of. Pure, and free of the allocator, so the stream processor's
 * bundle stays small (and its grants with it).
 */
import { type BlockState, coolingUntil, offsetState } from '../subnets/blocks.js';

/** What holds a taken offset at `now` (undefined: the offset is not taken). */
export type Kind = 'allocated' | 'leased' | 'quarantined' | 'expired';

export function kindOf(block: BlockState, offset: number, now: number): Kind | undefined {
  const state = offsetState(block, offset, now);
  if (state === 'free') return undefined;
  if (state === 'expired') return 'expired';
  if (coolingUntil(block, offset, now) !== undefined) return 'quarantined';
  return block.leases.has(offset) ? 'leased' : 'allocated';
}
