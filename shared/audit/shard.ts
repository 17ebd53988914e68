/**
 * One shard partition under audit: what the checks of its blocks, allocation items
 * and counter share, and small helpers on its addresses and items.
 */
import type { AllocationItem } from '../allocator/index.js';
import { formatIp } from '../net/address.js';
import { keys, parseAllocationSort } from '../store/keys.js';
import { TTL_ATTRIBUTE } from '../store/table.js';
import { type Geometry, positionOf } from '../subnets/geometry.js';
import { isLive as holds } from '../subnets/holding.js';
import { address, type Subnet } from '../subnets/subnet.js';
import type { OutsidePools } from './checkpoint.js';
import type { Item, Tally } from './io.js';

/** One shard's audit in progress. */
export interface ShardScan {
  readonly subnet: Subnet;
  readonly g: Geometry;
  readonly shard: number;
  readonly pending: Set<string>;
  /** Where the join counts live allocations outside the pools (the subnet's tally). */
  readonly progress: OutsidePools;
  /** The counter exists under the subnet's configVersion: repairs may move it. */
  readonly current: boolean;
  readonly nowSeconds: number;
  /** What the blocks held when read. */
  readonly truth: Tally;
  /** What this audit's own repairs changed since. */
  readonly ours: Tally;
  /** This audit's committed writes to the counter (each bumps `ver` by one). */
  writes: number;
  /** Counted offsets that nobody holds after this audit (see {@link Aside}). */
  readonly aside: Aside;
}

/**
 * Offsets a counter counts that nobody holds: expired leases the audit did not free,
 * and offsets in their release cool-down. Utilisation leaves them out as the
 * subnet's `usage` does (subnets/leases.ts `liveCounts`): `p` of them lie in the
 * pools, `q` of those are in a cool-down (`usage.quarantined`).
 */
export interface Aside {
  n: number;
  p: number;
  q: number;
}

/** An offset counted as held that nobody holds: an expired lease left, or a cool-down. */
export function countAside(sh: ShardScan, seen: SeenOffset, cooling: boolean): void {
  sh.aside.n += 1;
  if (!seen.inPool) return;
  sh.aside.p += 1;
  if (cooling) sh.aside.q += 1;
}

/** A shard's items for the join, each stream in address order. */
export interface ShardItems {
  /** The block items (`BLOCK#…`). */
  readonly blocks: AsyncIterable<Item>;
  /** The allocation items (`IP#…`). */
  readonly allocations: AsyncIterable<Item>;
}

/** One taken block offset as the audit read it. */
export interface SeenOffset {
  readonly block: bigint;
  readonly offset: number;
  readonly value: bigint;
  readonly inPool: boolean;
  readonly expiry: number | undefined;
  readonly token: string | undefined;
  /** The allocation item of the address, if any (maybe expired). */
  readonly item: AllocationItem | undefined;
}

/** A repair of the shard committed: count what it moved on the counter. */
export function countRepair(sh: ShardScan, delta: Tally): void {
  sh.ours.n += delta.n;
  sh.ours.p += delta.p;
  sh.ours.l += delta.l;
  sh.writes += 1;
}

export function ipText(sh: ShardScan, value: bigint): string {
  return formatIp(address(sh.subnet.cidr.version, value));
}

/** The key of the allocation item of an address of the shard's subnet. */
export function itemKey(sh: ShardScan, value: bigint): Item {
  const ip = address(sh.subnet.cidr.version, value);
  return keys.allocation(sh.subnet.id, positionOf(sh.g, value).shard, ip);
}

/** An item stored in another shard's partition than its address belongs to (only by hand). */
export function misplaced(sh: ShardScan, value: bigint): boolean {
  return positionOf(sh.g, value).shard !== sh.shard;
}

/** The absolute address of an allocation item, from its sort key `IP#<hex>`. */
export function itemValue(item: Item): bigint {
  return parseAllocationSort(String(item.sk));
}

export function itemKeyOf(item: AllocationItem): Item {
  return { pk: item.pk, sk: item.sk };
}

/** Whether the item is live at `nowSeconds` (subnets/holding.ts decides, to the second). */
export function isLive(item: AllocationItem, nowSeconds: number): boolean {
  return holds(item, nowSeconds * 1000);
}

/** Condition: still the same request's item with the same expiry. */
export function sameItemCondition(item: AllocationItem) {
  const names = { '#ttl': TTL_ATTRIBUTE };
  const hasToken = typeof item.reqToken === 'string';
  const hasTtl = typeof item.ttl === 'number';
  return {
    ConditionExpression: [
      hasToken ? 'reqToken = :tok' : 'attribute_not_exists(reqToken)',
      hasTtl ? '#ttl = :ttl' : 'attribute_not_exists(#ttl)',
    ].join(' AND '),
    ExpressionAttributeNames: names,
    ...(hasToken || hasTtl
      ? {
          ExpressionAttributeValues: {
            ...(hasToken ? { ':tok': item.reqToken } : {}),
            ...(hasTtl ? { ':ttl': item.ttl } : {}),
          },
        }
      : {}),
  };
}

export function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}
