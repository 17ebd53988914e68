/**
 * The tree of summaries over a subnet's blocks. A summary at `level` j covers 2^j
 * consecutive blocks; number `index` i covers blocks i·2^j … (i+1)·2^j − 1.
 *
 * The map's cells of 256 addresses or more are summaries: a subnet with h host bits
 * has 2^(h−8) blocks, and its views' cells cover 2^(h−8−8(d+1)) blocks at depth d,
 * so the levels drawn are h−16, h−24, … down to (h−8) mod 8. Each is kept, plus
 * level 0 (one summary per block) when the lowest drawn level is not 0, so every
 * summary is the sum of at most 256 others of one partition (store/keys.ts
 * `mapKeys`): one Query. A subnet of fewer than 2^16 addresses has none (its
 * views read blocks). Pure.
 */
import { bitLength, type Cidr } from '../net/address.js';

export interface Node {
  readonly level: number;
  readonly index: bigint;
}

/** log2 of the number of blocks of a subnet (0 for one block or less). */
export function blockBits(cidr: Cidr): number {
  return Math.max(0, bitLength(cidr.version) - cidr.prefixLength - 8);
}

/** Whether the subnet's map reads summaries at all (cells of a block or more exist). */
export function hasSummaries(cidr: Cidr): boolean {
  return blockBits(cidr) >= 8;
}

/**
 * The summaries a block's change makes stale, lowest first: one per kept level
 * above the block's own (level 0).
 */
export function ancestorsOf(cidr: Cidr, block: bigint): Node[] {
  const bits = blockBits(cidr);
  if (bits < 8) return [];
  const lowest = bits % 8 === 0 ? 8 : bits % 8;
  const nodes: Node[] = [];
  for (let level = lowest; level <= bits - 8; level += 8) {
    nodes.push({ level, index: block >> BigInt(level) });
  }
  return nodes;
}

/**
 * The children of a summary above level 0: the 256 of the level 8 below, or — for
 * the lowest drawn level when it is not 0 — its 2^level blocks' own summaries. They
 * lie in one partition, from `first` to `last` (indexes at `level`).
 */
export function childrenOf(node: Node): { level: number; first: bigint; last: bigint } {
  const level = node.level >= 8 ? node.level - 8 : 0;
  const span = BigInt(node.level - level);
  const first = node.index << span;
  return { level, first, last: first + (1n << span) - 1n };
}
