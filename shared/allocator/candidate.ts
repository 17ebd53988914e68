/** What a pick hands to the writes: one address to reserve, and how. */
import type { Position } from '../subnets/geometry.js';

export interface Candidate {
  readonly value: bigint;
  readonly pos: Position;
  /** The offset holds an expired lease: take it over instead of adding it. */
  readonly reclaim: boolean;
}
