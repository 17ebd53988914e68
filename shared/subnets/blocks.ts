/**
 * An address block item: `u` is the DynamoDB number set of taken offsets (0–255),
 * and a leased offset `o` also has the attribute `x<o>`, its expiry in epoch
 * seconds. An offset is free when it is not in `u`, or when its lease has expired:
 * the allocator's condition expression says exactly that, so an expired lease is
 * free without any clean-up having run.
 */
import { addressAt, type Geometry } from './geometry.js';
import { type AddressRange, clipPools } from './rules.js';

export interface BlockState {
  readonly block: bigint;
  readonly used: ReadonlySet<number>;
  /** Offset → lease expiry (epoch seconds). */
  readonly leases: ReadonlyMap<number, number>;
}

export const leaseAttribute = (offset: number) => `x${offset}`;

export function emptyBlock(block: bigint): BlockState {
  return { block, used: new Set(), leases: new Map() };
}

export function blockFromItem(
  block: bigint,
  item: Record<string, unknown> | undefined,
): BlockState {
  if (item === undefined) return emptyBlock(block);
  const used = new Set<number>();
  const stored = item.u;
  if (stored instanceof Set) for (const offset of stored) used.add(Number(offset));
  const leases = new Map<number, number>();
  for (const [name, value] of Object.entries(item)) {
    if (/^x\d+$/.test(name) && typeof value === 'number') leases.set(Number(name.slice(1)), value);
  }
  return { block, used, leases };
}

export type OffsetState = 'free' | 'expired' | 'held';

export function offsetState(state: BlockState, offset: number, nowSeconds: number): OffsetState {
  if (!state.used.has(offset)) return 'free';
  const expiry = state.leases.get(offset);
  return expiry !== undefined && expiry <= nowSeconds ? 'expired' : 'held';
}

/** Offsets of this block that lie in the pools and are free (or expired), ascending. */
export function freeOffsets(
  g: Geometry,
  state: BlockState,
  pools: readonly AddressRange[],
  nowSeconds: number,
): number[] {
  const start = addressAt(g, state.block, 0);
  const last = start + (g.size < 256n ? g.size : 256n) - 1n;
  const free: number[] = [];
  for (const range of clipPools(pools, start, last)) {
    for (let value = range.start; value <= range.end; value++) {
      const offset = Number(value - start);
      if (offsetState(state, offset, nowSeconds) !== 'held') free.push(offset);
    }
  }
  return free;
}
