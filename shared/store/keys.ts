/**
 * Every key of the one table, built and parsed here and nowhere else. Each entity
 * owns its key template (the layout and why: shared/README.md); the prefixes are
 * spelled once, in `PREFIX`, so a scan can tell what an item is from its key.
 */
import {
  addressKey,
  bitLength,
  type Cidr,
  type IpAddress,
  type IpVersion,
} from '../net/address.js';

const BLOCK_DIGITS = 30;
/** Digits of the host-bit count in a pool's free-block sort key (IPv6 has 128 bits). */
const HOST_BITS_DIGITS = 3;

/** Key prefixes and fixed sort keys. */
export const PREFIX = {
  subnet: 'SUBNET#',
  shard: '#S#',
  block: 'BLOCK#',
  /** A block's hint, derived from its allocation items by the stream processor (shared/hints/). */
  hint: 'HINT#',
  allocation: 'IP#',
  pending: 'PENDING#',
  space: 'SPACE#',
  spaceEntry: 'NET#',
  pool: 'POOL#',
  audit: 'AUDIT#',
  /** History entries (shared/history/keys.ts builds them): never read as a subnet's items. */
  history: 'HISTORY#',
  /** Release notes (who released an allocation, for the history): never a subnet's items either. */
  releaseNote: 'RELEASED#',
  owner: 'OWNER#',
  /** Address-map summaries (shared/map/): never a subnet's or a shard's items. */
  map: 'MAP#',
} as const;

export const SORT = { meta: 'META', counter: 'COUNT', head: 'HEAD' } as const;

/** The two kinds of used pool block: carved from the pool, or taken by another subnet of the space. */
export const PoolBlockKind = { CARVED: 'C', FOREIGN: 'F' } as const;
export type PoolBlockKind = (typeof PoolBlockKind)[keyof typeof PoolBlockKind];

export const keys = {
  subnet: (subnetId: string) => ({ pk: `${PREFIX.subnet}${subnetId}`, sk: SORT.meta }),
  /** The note a subnet's delete leaves beside it (who deleted it), for the history. */
  subnetDeletionNote: (subnetId: string) => ({ pk: `${PREFIX.subnet}${subnetId}`, sk: 'DELETED' }),
  shardPartition: (subnetId: string, shard: number) =>
    `${PREFIX.subnet}${subnetId}${PREFIX.shard}${shard.toString().padStart(2, '0')}`,
  counter: (subnetId: string, shard: number) => ({
    pk: keys.shardPartition(subnetId, shard),
    sk: SORT.counter,
  }),
  blockSort: (block: bigint) => `${PREFIX.block}${block.toString(16).padStart(BLOCK_DIGITS, '0')}`,
  block: (subnetId: string, shard: number, block: bigint) => ({
    pk: keys.shardPartition(subnetId, shard),
    sk: keys.blockSort(block),
  }),
  /** A block's hint: the block's sort key under the hint prefix. */
  hint: (subnetId: string, shard: number, block: bigint) => ({
    pk: keys.shardPartition(subnetId, shard),
    sk: `${PREFIX.hint}${block.toString(16).padStart(BLOCK_DIGITS, '0')}`,
  }),
  allocationSort: (ip: IpAddress) => `${PREFIX.allocation}${addressKey(ip)}`,
  allocation: (subnetId: string, shard: number, ip: IpAddress) => ({
    pk: keys.shardPartition(subnetId, shard),
    sk: keys.allocationSort(ip),
  }),
  /**
   * The note a release leaves (who released it), for the history: one per
   * allocation — its request's token (random per request) and the address in the
   * subnet (the allocation's sort key) — in a partition of its own, so no reader of
   * a subnet's or a shard's items meets it, and an address's successive
   * allocations never share a note.
   */
  releaseNote: (subnetId: string, allocationSort: string, reqToken: string) => ({
    pk: `${PREFIX.releaseNote}${reqToken}`,
    sk: `${subnetId}#${allocationSort}`,
  }),
  /**
   * The note the undo of a multi-step request writes before it deletes anything: the
   * request never committed (history/held.ts). Beside the request's release notes,
   * under a sort key no address has.
   */
  undoneRequestNote: (subnetId: string, token: string) => ({
    pk: `${PREFIX.releaseNote}${token}`,
    sk: `${subnetId}#UNDONE`,
  }),
  pending: (subnetId: string, token: string) => ({
    pk: `${PREFIX.subnet}${subnetId}`,
    sk: `${PREFIX.pending}${token}`,
  }),
  spaceHead: (space: string) => ({ pk: `${PREFIX.space}${space}`, sk: SORT.head }),
  spaceEntrySort: (ip: IpAddress) => `${PREFIX.spaceEntry}${ip.version}#${addressKey(ip)}`,
  spaceEntry: (space: string, network: IpAddress) => ({
    pk: `${PREFIX.space}${space}`,
    sk: keys.spaceEntrySort(network),
  }),
  /** gsi1 partitions: every subnet, and each owner's allocations. */
  allSubnets: 'SUBNETS',
  owner: (owner: string) => `${PREFIX.owner}${owner}`,
  /** gsi1 sort key of an owner's allocation: subnet, then address. */
  ownerSort: (subnetId: string, ip: IpAddress) => `${subnetId}#${addressKey(ip)}`,
};

/**
 * Address-map summary items (shared/map/summaries.ts). A summary covers 2^level
 * blocks, number `index` at its level (blocks counted from the subnet's start); the
 * 256 of one level that share `index >> 8` share a partition, sorted by `index & 255`,
 * so the cells of one map view are one Query, and the blocks of a small cell one
 * range of it.
 */
export const mapKeys = {
  partition: (subnetId: string, level: number, index: bigint) =>
    `${PREFIX.map}${subnetId}#${level}#${(index >> 8n).toString(16)}`,
  sortOf: (index: bigint) => (index & 255n).toString(16).padStart(2, '0'),
  summary: (subnetId: string, level: number, index: bigint) => ({
    pk: mapKeys.partition(subnetId, level, index),
    sk: mapKeys.sortOf(index),
  }),
};

export const poolKeys = {
  pool: (poolId: string) => ({ pk: `${PREFIX.pool}${poolId}`, sk: SORT.meta }),
  freePartition: (poolId: string) => `${PREFIX.pool}${poolId}#FREE`,
  free: (poolId: string, block: Cidr) => ({
    pk: poolKeys.freePartition(poolId),
    sk: fitKey(block),
  }),
  usedPartition: (poolId: string) => `${PREFIX.pool}${poolId}#USED`,
  usedSort: (kind: PoolBlockKind, network: Cidr['network'], version: IpVersion) =>
    `${kind}#${addressKey({ version, value: network })}`,
  used: (poolId: string, kind: PoolBlockKind, block: Cidr) => ({
    pk: poolKeys.usedPartition(poolId),
    sk: poolKeys.usedSort(kind, block.network, block.version),
  }),
  /** gsi1 partition of every pool. */
  allPools: 'POOLS',
};

export const auditKeys = {
  report: (auditId: string) => ({ pk: `${PREFIX.audit}${auditId}`, sk: 'REPORT' }),
  latest: { pk: `${PREFIX.audit}LATEST`, sk: 'POINTER' },
  /** The scheduled audit that stopped at its deadline and continues on the next run. */
  resume: { pk: `${PREFIX.audit}RESUME`, sk: 'POINTER' },
  /** The latest audit started (GET /audits/latest). */
  latestStarted: { pk: `${PREFIX.audit}LATEST`, sk: 'STARTED' },
  /** One audit at a time: the running job's lock, with a lease. */
  lock: { pk: `${PREFIX.audit}LOCK`, sk: 'LOCK' },
  /** A scan segment's progress (small; read with the report while the job runs). */
  segment: (auditId: string, segment: number) => ({
    pk: `${PREFIX.audit}${auditId}`,
    sk: `SEG#${segment.toString().padStart(4, '0')}`,
  }),
  /** A segment's checkpoint state, in chunks below the item size limit. */
  segmentStatePartition: (auditId: string) => `${PREFIX.audit}${auditId}#STATE`,
  segmentStateChunk: (auditId: string, segment: number, chunk: number) => ({
    pk: `${PREFIX.audit}${auditId}#STATE`,
    sk: `SEG#${segment.toString().padStart(4, '0')}#${chunk.toString().padStart(2, '0')}`,
  }),
  sighting: (subnetId: string, what: string) => ({
    pk: `${PREFIX.audit}SIGHTING#${subnetId}`,
    sk: what,
  }),
};

/**
 * A pool block's sort key, in best-fit order: the host-bit count
 * (`bits - prefixLength`, 3 digits) then the fixed-width hex network, e.g.
 * `008#0a000100` for 10.0.1.0/24.
 */
export function fitKey(block: Cidr): string {
  return `${fitKeyFloor(block.version, block.prefixLength)}${addressKey({ version: block.version, value: block.network })}`;
}

/** The smallest {@link fitKey} of any block of length ≤ `prefixLength`. */
export function fitKeyFloor(version: IpVersion, prefixLength: number): string {
  return `${String(bitLength(version) - prefixLength).padStart(HOST_BITS_DIGITS, '0')}#`;
}

export function parseBlockSort(sk: string): bigint {
  return BigInt(`0x${sk.slice(PREFIX.block.length)}`);
}

/** The block index of a hint's sort key (`HINT#<hex>`, keys.hint). */
export function parseHintSort(sk: string): bigint {
  return BigInt(`0x${sk.slice(PREFIX.hint.length)}`);
}

/** The address value of an allocation item's sort key (`IP#<hex>`). */
export function parseAllocationSort(sk: string): bigint {
  return BigInt(`0x${sk.slice(PREFIX.allocation.length)}`);
}

/** The shard number of a shard partition key (`SUBNET#<id>#S#<k>`). */
export function parseShardPartition(pk: string): number {
  return Number(pk.slice(pk.lastIndexOf(PREFIX.shard) + PREFIX.shard.length));
}

/** The subnet of an address-map partition key (`MAP#<subnetId>#<level>#<hex>`). */
export function parseMapPartition(pk: string): string {
  const rest = pk.slice(PREFIX.map.length);
  return rest.slice(0, rest.indexOf('#'));
}

/** What an item is, read from its key alone (the audit's scan sorts items by it). */
export type ItemKey =
  | { readonly kind: 'subnet'; readonly subnetId: string }
  | { readonly kind: 'pending'; readonly subnetId: string; readonly token: string }
  | {
      readonly kind: 'shardItem';
      readonly subnetId: string;
      readonly what: 'allocation' | 'block' | 'hint' | 'other';
    }
  | { readonly kind: 'spaceEntry'; readonly space: string }
  | { readonly kind: 'audit' }
  | { readonly kind: 'other' };

export function parseItemKey(pk: string, sk: string): ItemKey {
  if (pk.startsWith(PREFIX.audit)) return { kind: 'audit' };
  if (pk.startsWith(PREFIX.subnet)) {
    const rest = pk.slice(PREFIX.subnet.length);
    const cut = rest.indexOf(PREFIX.shard);
    if (cut >= 0) {
      const what = sk.startsWith(PREFIX.allocation)
        ? 'allocation'
        : sk.startsWith(PREFIX.block)
          ? 'block'
          : sk.startsWith(PREFIX.hint)
            ? 'hint'
            : 'other';
      return { kind: 'shardItem', subnetId: rest.slice(0, cut), what };
    }
    if (sk === SORT.meta) return { kind: 'subnet', subnetId: rest };
    if (sk.startsWith(PREFIX.pending))
      return { kind: 'pending', subnetId: rest, token: sk.slice(PREFIX.pending.length) };
    return { kind: 'other' };
  }
  if (pk.startsWith(PREFIX.space) && sk.startsWith(PREFIX.spaceEntry))
    return { kind: 'spaceEntry', space: pk.slice(PREFIX.space.length) };
  return { kind: 'other' };
}
