/** The pool as the code works with it, and as the API shows it. */
import type { Cidr, IpVersion } from '../net/address.js';
import { containsBlock } from './buddy.js';

export interface Pool {
  readonly id: string;
  readonly name: string | null;
  readonly version: IpVersion;
  /** Sorted by address, pairwise disjoint. */
  readonly prefixes: readonly Cidr[];
  readonly space: string;
  readonly defaultPrefixLength: number;
  readonly minPrefixLength: number;
  readonly maxPrefixLength: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Bumped by every change of the free structure (optimistic concurrency). */
  readonly ver: number;
  readonly carvedCount: number;
  readonly carvedAddresses: bigint;
  readonly foreignCount: number;
}

export interface PoolUsage {
  /** Addresses in the prefixes, decimal. */
  readonly totalAddresses: string;
  /** Addresses carved into subnets, decimal. */
  readonly allocatedAddresses: string;
}

export interface PoolView {
  id: string;
  name: string | null;
  ipVersion: IpVersion;
  prefixes: string[];
  space: string;
  defaultPrefixLength: number;
  minPrefixLength: number;
  maxPrefixLength: number;
  tags: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  usage: PoolUsage;
}

/** The prefix of `pool` that holds `block`, if any. */
export function rootOf(pool: Pool, block: Cidr): Cidr | undefined {
  return pool.prefixes.find((prefix) => containsBlock(prefix, block));
}
