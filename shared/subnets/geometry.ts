/**
 * How a subnet's address space is cut for storage.
 *
 * - A **block** is 256 consecutive addresses (offsets from the network address);
 *   its item holds the set of taken offsets, so one conditional write reserves an
 *   address, and reading one small item shows 256 addresses at once.
 * - A **shard** is a run of consecutive blocks sharing one partition key, with a
 *   usage counter. A subnet has at most 64 shards, so a /16 (256 blocks) spreads its
 *   writes over 64 partition keys (≤ 1/64 of writes each), while usage and "is it
 *   full?" are answered by reading at most 64 tiny counter items — never a scan.
 *
 * Nothing is materialised up front: blocks appear on first use, so an IPv6 /64
 * (2^56 blocks) costs what a /24 costs.
 */
import { bitLength, type Cidr, cidrFirst } from '../net/address.js';
import { type AddressRange, clipPools, poolSize } from './rules.js';

export const BLOCK_BITS = 8n;
export const BLOCK_SIZE = 1n << BLOCK_BITS;
export const MAX_SHARDS = 64;

export interface Geometry {
  readonly network: bigint;
  readonly size: bigint;
  readonly blockCount: bigint;
  readonly shardCount: number;
  readonly blocksPerShard: bigint;
}

export function geometryOf(cidr: Cidr): Geometry {
  const size = 1n << BigInt(bitLength(cidr.version) - cidr.prefixLength);
  const blockCount = size <= BLOCK_SIZE ? 1n : size >> BLOCK_BITS;
  const shardCount = blockCount < BigInt(MAX_SHARDS) ? Number(blockCount) : MAX_SHARDS;
  return {
    network: cidrFirst(cidr),
    size,
    blockCount,
    shardCount,
    blocksPerShard: blockCount / BigInt(shardCount),
  };
}

export interface Position {
  readonly block: bigint;
  readonly offset: number;
  readonly shard: number;
}

/** Where an address of the subnet lives. */
export function positionOf(g: Geometry, value: bigint): Position {
  const relative = value - g.network;
  const block = relative >> BLOCK_BITS;
  return { block, offset: Number(relative & (BLOCK_SIZE - 1n)), shard: shardOfBlock(g, block) };
}

export function shardOfBlock(g: Geometry, block: bigint): number {
  return Number(block / g.blocksPerShard);
}

export function addressAt(g: Geometry, block: bigint, offset: number): bigint {
  return g.network + (block << BLOCK_BITS) + BigInt(offset);
}

/** Absolute address range of a block (a subnet smaller than 256 has one short block). */
export function blockRange(g: Geometry, block: bigint): AddressRange {
  const start = g.network + (block << BLOCK_BITS);
  const length = g.size < BLOCK_SIZE ? g.size : BLOCK_SIZE;
  return { start, end: start + length - 1n };
}

export function shardBlocks(g: Geometry, shard: number): { first: bigint; last: bigint } {
  const first = BigInt(shard) * g.blocksPerShard;
  return { first, last: first + g.blocksPerShard - 1n };
}

export function shardRange(g: Geometry, shard: number): AddressRange {
  const { first, last } = shardBlocks(g, shard);
  return { start: blockRange(g, first).start, end: blockRange(g, last).end };
}

/** Pool addresses per shard, in shard order. */
export function poolSizePerShard(g: Geometry, pools: readonly AddressRange[]): bigint[] {
  const sizes: bigint[] = [];
  for (let shard = 0; shard < g.shardCount; shard++) {
    const { start, end } = shardRange(g, shard);
    sizes.push(poolSize(clipPools(pools, start, end)));
  }
  return sizes;
}
