/**
 * The counts of map cells of a block or more, from the summaries (./summaries.ts):
 * one Query for a view's cells. A cell's summary is taken as it is when it holds
 * now and pool arithmetic finishes it: the cell lies wholly inside or wholly
 * outside the pools and does not hold the gateway — or it holds nothing. Otherwise
 * the cell is counted from its children, and a block from its item (exact): a lease
 * or a cool-down that lapsed since its block was last written, a pool boundary
 * inside a cell that holds addresses, the gateway's cell. Each such cell costs one
 * Query per level below it (a block: one read), along the paths that need it.
 */

import { readBlock } from '../allocator/reads.js';
import type { IpamContext } from '../store/context.js';
import { type Geometry, shardOfBlock } from '../subnets/geometry.js';
import type { Subnet } from '../subnets/subnet.js';
import { addCounts, type CellCounts, exactCells, poolCount, zeroCounts } from './exact.js';
import { heldIn, holdsAt, readSummaries, type Summary } from './summaries.js';
import { childrenOf, type Node } from './tree.js';

interface Reading {
  readonly ctx: IpamContext;
  readonly subnet: Subnet;
  readonly g: Geometry;
  readonly now: number;
}

/** The counts of `count` cells of 2^(level+8) addresses from cell `first` (indexes at `level`). */
export async function summaryCells(
  ctx: IpamContext,
  subnet: Subnet,
  g: Geometry,
  cells: { readonly level: number; readonly first: bigint; readonly count: number },
  now: number,
): Promise<CellCounts[]> {
  const reading: Reading = { ctx, subnet, g, now };
  const last = cells.first + BigInt(cells.count) - 1n;
  const stored = await readSummaries(ctx, subnet.id, cells.level, cells.first, last, false);
  return Promise.all(
    Array.from({ length: cells.count }, (_, i) => {
      const index = cells.first + BigInt(i);
      return nodeCounts(reading, { level: cells.level, index }, stored.get(index));
    }),
  );
}

async function nodeCounts(
  reading: Reading,
  node: Node,
  summary: Summary | undefined,
): Promise<CellCounts> {
  const { subnet, g } = reading;
  const bits = BigInt(node.level + 8);
  const start = g.network + (node.index << bits);
  const end = start + (1n << bits) - 1n;
  const pooled = poolCount(subnet.pools, start, end);
  if (summary === undefined) return { ...zeroCounts(), free: pooled };
  if (holdsAt(summary, reading.now)) {
    const held = BigInt(heldIn(summary));
    if (held === 0n) return { ...zeroCounts(), free: pooled };
    const whole = pooled === 0n || pooled === end - start + 1n;
    const gateway = subnet.gateway !== null && start <= subnet.gateway && subnet.gateway <= end;
    if (whole && !gateway) {
      return {
        allocated: BigInt(summary.a),
        leased: BigInt(summary.l),
        quarantined: BigInt(summary.q),
        free: pooled === 0n ? 0n : pooled - held,
      };
    }
  }
  if (node.level === 0) {
    const pos = { block: node.index, offset: 0, shard: shardOfBlock(g, node.index) };
    const block = await readBlock(reading.ctx, subnet, pos, true);
    const [cell] = exactCells(
      subnet,
      g,
      [block],
      { start, cellBits: 8, cellCount: 1 },
      reading.now,
    );
    return cell?.counts ?? zeroCounts();
  }
  const children = childrenOf(node);
  const stored = await readSummaries(
    reading.ctx,
    subnet.id,
    children.level,
    children.first,
    children.last,
    false,
  );
  const parts = [];
  for (let index = children.first; index <= children.last; index++) {
    parts.push(nodeCounts(reading, { level: children.level, index }, stored.get(index)));
  }
  const total = zeroCounts();
  for (const part of await Promise.all(parts)) addCounts(total, part);
  return total;
}
