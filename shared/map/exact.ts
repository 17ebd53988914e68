/**
 * The map's counts straight from block items, evaluated at one instant: exact.
 * `allocated` = held without a lease, `leased` = held with a live lease,
 * `quarantined` = in its release cool-down, `free` = in the pools and none of
 * those (an expired lease past any cool-down is free: allocatable now). The gateway
 * counts in none (API.md: its state is GATEWAY even on an address still cooling
 * down); the gateway and the reserved addresses lie in no pool. Pure.
 */
import { type AddressState, addressState, type Holding } from '../allocator/addressLookup.js';
import type { BlockState } from '../subnets/blocks.js';
import { addressAt, type Geometry } from '../subnets/geometry.js';
import { type AddressRange, clipPools, inPools, poolSize } from '../subnets/rules.js';
import type { Subnet } from '../subnets/subnet.js';
import { type Kind, kindOf } from './kinds.js';

export interface CellCounts {
  allocated: bigint;
  leased: bigint;
  quarantined: bigint;
  free: bigint;
}

const HOLDING: Record<Kind, Holding> = {
  allocated: 'live',
  leased: 'live',
  quarantined: 'cooling',
  expired: 'expired',
};

export function holdingOf(kind: Kind | undefined): Holding {
  return kind === undefined ? 'none' : HOLDING[kind];
}

/** How many addresses of [start, end] lie in the pools. */
export function poolCount(pools: readonly AddressRange[], start: bigint, end: bigint): bigint {
  return poolSize(clipPools(pools, start, end));
}

export function zeroCounts(): CellCounts {
  return { allocated: 0n, leased: 0n, quarantined: 0n, free: 0n };
}

export function addCounts(into: CellCounts, more: CellCounts): void {
  into.allocated += more.allocated;
  into.leased += more.leased;
  into.quarantined += more.quarantined;
  into.free += more.free;
}

export interface ExactCell {
  readonly counts: CellCounts;
  /** Cells of one address only. */
  readonly state?: AddressState;
}

/**
 * The counts of `cellCount` consecutive cells of 2^cellBits addresses from `start`,
 * from the blocks that cover them (a block without an item is wholly free: pass
 * only those that exist), at `now` (epoch seconds). `released`: the expired addresses
 * (`expiredValues`) that no allocation item holds any more — a release's
 * ended cool-down, a lease the TTL deleted: FREE or OUTSIDE_POOLS, not LEASE_EXPIRED
 * (the block alone cannot tell them apart; `GET /addresses` reads the item too).
 */
export function exactCells(
  subnet: Subnet,
  g: Geometry,
  blocks: Iterable<BlockState>,
  cells: { readonly start: bigint; readonly cellBits: number; readonly cellCount: number },
  now: number,
  released: ReadonlySet<bigint> = new Set(),
): ExactCell[] {
  const counts = Array.from({ length: cells.cellCount }, zeroCounts);
  const held = Array.from({ length: cells.cellCount }, () => 0n);
  const kinds = new Map<bigint, Kind>();
  const end = cells.start + (BigInt(cells.cellCount) << BigInt(cells.cellBits)) - 1n;
  for (const block of blocks) {
    for (const offset of block.used) {
      const value = addressAt(g, block.block, offset);
      if (value < cells.start || value > end) continue;
      const kind = kindOf(block, offset, now);
      if (kind === undefined || kind === 'expired') {
        if (kind !== undefined) kinds.set(value, kind);
        continue;
      }
      // The gateway is never live (a PATCH refuses a held one), and counts in nothing.
      if (kind === 'quarantined' && value === subnet.gateway) {
        kinds.set(value, kind);
        continue;
      }
      kinds.set(value, kind);
      const cell = Number((value - cells.start) >> BigInt(cells.cellBits));
      const into = counts[cell] as CellCounts;
      into[kind] += 1n;
      if (inPools(subnet.pools, value)) held[cell] = (held[cell] as bigint) + 1n;
    }
  }
  return counts.map((into, cell) => {
    const first = cells.start + (BigInt(cell) << BigInt(cells.cellBits));
    const last = first + (1n << BigInt(cells.cellBits)) - 1n;
    into.free = poolCount(subnet.pools, first, last) - (held[cell] as bigint);
    if (cells.cellBits !== 0) return { counts: into };
    const kind = released.has(first) ? undefined : kinds.get(first);
    return { counts: into, state: addressState(subnet, first, holdingOf(kind)) };
  });
}

/** The taken offsets of `blocks` in [start, end] that are past their expiry at `now`. */
export function expiredValues(
  g: Geometry,
  blocks: Iterable<BlockState>,
  start: bigint,
  end: bigint,
  now: number,
): bigint[] {
  const values: bigint[] = [];
  for (const block of blocks) {
    for (const offset of block.used) {
      const value = addressAt(g, block.block, offset);
      if (value >= start && value <= end && kindOf(block, offset, now) === 'expired') {
        values.push(value);
      }
    }
  }
  return values;
}
