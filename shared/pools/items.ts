/** The pool item: Pool ↔ PoolItem (stored) ↔ PoolView (the API's body). */
import { formatCidr, parseCidr } from '../net/address.js';
import { poolKeys } from '../store/keys.js';
import type { Pool, PoolView } from './pool.js';
import { usageOf } from './usage.js';

interface PoolItem extends Omit<PoolView, 'usage'> {
  pk: string;
  sk: string;
  type: 'pool';
  ver: number;
  carvedCount: number;
  carvedAddresses: string;
  foreignCount: number;
  gsi1pk: string;
  gsi1sk: string;
}

/** The stored item of `pool`; `carvedAddresses` is a decimal string (it can exceed 2^53). */
export function toPoolItem(pool: Pool): PoolItem {
  return {
    ...poolKeys.pool(pool.id),
    type: 'pool',
    id: pool.id,
    name: pool.name,
    ipVersion: pool.version,
    prefixes: pool.prefixes.map(formatCidr),
    space: pool.space,
    defaultPrefixLength: pool.defaultPrefixLength,
    minPrefixLength: pool.minPrefixLength,
    maxPrefixLength: pool.maxPrefixLength,
    tags: { ...pool.tags },
    createdAt: pool.createdAt,
    updatedAt: pool.updatedAt,
    ver: pool.ver,
    carvedCount: pool.carvedCount,
    carvedAddresses: pool.carvedAddresses.toString(),
    foreignCount: pool.foreignCount,
    gsi1pk: poolKeys.allPools,
    gsi1sk: pool.id,
  };
}

/** The pool of a stored item (as toPoolItem wrote it). */
export function fromPoolItem(item: Record<string, unknown>): Pool {
  const stored = item as unknown as PoolItem;
  return {
    id: stored.id,
    name: stored.name ?? null,
    version: stored.ipVersion,
    prefixes: stored.prefixes.map((prefix) => parseCidr(prefix)),
    space: stored.space,
    defaultPrefixLength: stored.defaultPrefixLength,
    minPrefixLength: stored.minPrefixLength,
    maxPrefixLength: stored.maxPrefixLength,
    tags: stored.tags ?? {},
    createdAt: stored.createdAt,
    updatedAt: stored.updatedAt,
    ver: Number(stored.ver),
    carvedCount: Number(stored.carvedCount),
    carvedAddresses: BigInt(stored.carvedAddresses),
    foreignCount: Number(stored.foreignCount),
  };
}

/** The pool as the API shows it: the item's fields without keys and counters, plus usage. */
export function poolView(pool: Pool): PoolView {
  const item = toPoolItem(pool);
  return {
    id: item.id,
    name: item.name,
    ipVersion: item.ipVersion,
    prefixes: item.prefixes,
    space: item.space,
    defaultPrefixLength: item.defaultPrefixLength,
    minPrefixLength: item.minPrefixLength,
    maxPrefixLength: item.maxPrefixLength,
    tags: item.tags,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
    usage: usageOf(pool),
  };
}
