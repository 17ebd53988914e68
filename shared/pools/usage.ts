/** A pool's usage: addresses in its prefixes, and how many of them are carved. */
import { cidrSize } from '../net/address.js';
import type { Pool, PoolUsage } from './pool.js';

/** Addresses in the pool's prefixes. */
export function totalAddresses(pool: Pool): bigint {
  return pool.prefixes.reduce((sum, prefix) => sum + cidrSize(prefix), 0n);
}

/** The usage of API.md, from the pool item's exact `carvedAddresses`. */
export function usageOf(pool: Pool): PoolUsage {
  return {
    totalAddresses: totalAddresses(pool).toString(),
    allocatedAddresses: pool.carvedAddresses.toString(),
  };
}
