/**
 * An address block item: `u` is the DynamoDB number set of taken offsets (0–255),
 * and a leased offset `o` also has the attribute `x<o>`, its expiry in epoch
 * seconds. An offset is free when it is not in `u`, or when its lease has expired:
 * the allocator's condition expression says exactly that, so an expired lease is
 * free without any clean-up having run.
 *
 * Release cool-down: an offset in its cool-down stays in `u`, with `x<o>` = the
 * moment it becomes free (its `availableAt`) and `q<o>` = the moment the cool-down
 * began (the release, or the lease's expiry). So every picker and condition
 * expression already treats it as held until `x<o>` and as an expired lease after;
 * `q<o>` only tells a cool-down from a live lease (usage, lookup, the audit, the
 * 409). Every write that takes over or frees the offset removes `q<o>`.
 */
import { addressAt, type Geometry } from './geometry.js';
import { type AddressRange, clipPools } from './rules.js';

export interface BlockState {
  readonly block: bigint;
  readonly used: ReadonlySet<number>;
  /** Offset → lease expiry (epoch seconds): when the offset becomes free (`x<o>`). */
  readonly leases: ReadonlyMap<number, number>;
  /** Offset → when its cool-down begins or began (epoch seconds; `q<o>`). */
  readonly cooling: ReadonlyMap<number, number>;
}

export const leaseAttribute = (offset: number) => `x${offset}`;

/** The block attribute marking a cool-down: when it begins (epoch seconds). */
export const coolingAttribute = (offset: number) => `q${offset}`;

export function emptyBlock(block: bigint): BlockState {
  return { block, used: new Set(), leases: new Map(), cooling: new Map() };
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
  const cooling = new Map<number, number>();
  for (const [name, value] of Object.entries(item)) {
    if (typeof value !== 'number') continue;
    if (/^x\d+$/.test(name)) leases.set(Number(name.slice(1)), value);
    else if (/^q\d+$/.test(name)) cooling.set(Number(name.slice(1)), value);
  }
  return { block, used, leases, cooling };
}

export type OffsetState = 'free' | 'expired' | 'held';

export function offsetState(state: BlockState, offset: number, nowSeconds: number): OffsetState {
  if (!state.used.has(offset)) return 'free';
  const expiry = state.leases.get(offset);
  return expiry !== undefined && expiry <= nowSeconds ? 'expired' : 'held';
}

/**
 * When a held offset in its cool-down becomes free (epoch seconds), or undefined
 * when it is not cooling down now (free, expired, or a live allocation or lease).
 */
export function coolingUntil(
  state: BlockState,
  offset: number,
  nowSeconds: number,
): number | undefined {
  if (offsetState(state, offset, nowSeconds) !== 'held') return undefined;
  const from = state.cooling.get(offset);
  return from !== undefined && from <= nowSeconds ? state.leases.get(offset) : undefined;
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
