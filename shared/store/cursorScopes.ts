/**
 * The scope of each paged list (shared/store/paging.ts): its name with the filters
 * that define it, and which keys are positions inside it — the index partition it
 * queries, the sort-key prefix of its filter, and table keys that agree with the
 * index keys (the shapes of keys.ts). A key that passes is one DynamoDB accepts as
 * the list's start key, so no cursor can turn into a 500.
 */
import { isId } from '../net/ids.js';
import { keys, PREFIX, poolKeys, SORT } from './keys.js';
import type { Cursor, ListScope } from './paging.js';

const INDEX_KEY = ['pk', 'sk', 'gsi1pk', 'gsi1sk'] as const;
/** An address key (keys.ts `addressKey`): 8 hex digits for IPv4, 32 for IPv6. */
const ADDRESS_HEX = '(?:[0-9a-f]{8}|[0-9a-f]{32})';
const SPACE = '[A-Za-z0-9._-]{1,64}';
const SUBNET_ID = 'sub_[A-Za-z0-9_-]{22}';
const SUBNET_SORT = new RegExp(`^(${SPACE})#${PREFIX.spaceEntry}(?:4#[0-9a-f]{8}|6#[0-9a-f]{32})$`);
const OWNER_SORT = new RegExp(`^(${SUBNET_ID})#(${ADDRESS_HEX})$`);
const SHARD_PARTITION = /^\d{2}$/;

/** `GET /subnets`, all of them or one space's. */
export function subnetsScope(space: string | undefined): ListScope {
  return {
    name: space === undefined ? ['subnets'] : ['subnets', space],
    keys: INDEX_KEY,
    contains: (key) => {
      const sort = SUBNET_SORT.exec(key.gsi1sk ?? '');
      return (
        key.gsi1pk === keys.allSubnets &&
        sort !== null &&
        (space === undefined || sort[1] === space) &&
        key.sk === SORT.meta &&
        key.pk?.startsWith(PREFIX.subnet) === true &&
        isId('sub', key.pk.slice(PREFIX.subnet.length))
      );
    },
  };
}

/** `GET /allocations?macAddress=`: a position in the subnet list (it walks the IPv6 /64 subnets). */
export function macAllocationsScope(mac: string): ListScope {
  return { ...subnetsScope(undefined), name: ['macAllocations', mac] };
}

/** `GET /subnet-pools`. */
export function poolsScope(): ListScope {
  return {
    name: ['pools'],
    keys: INDEX_KEY,
    contains: (key) =>
      key.gsi1pk === poolKeys.allPools &&
      isId('pool', key.gsi1sk ?? '') &&
      key.pk === `${PREFIX.pool}${key.gsi1sk}` &&
      key.sk === SORT.meta,
  };
}

/**
 * One owner's allocations through the owner index: across subnets, or only those
 * whose index sort key starts with `sortPrefix` (`<subnetId>#`: one subnet's).
 */
export function ownerAllocationsScope(owner: string, sortPrefix = ''): ListScope {
  return {
    name: ['ownerAllocations', owner, sortPrefix],
    keys: INDEX_KEY,
    contains: (key) => {
      const sort = OWNER_SORT.exec(key.gsi1sk ?? '');
      if (key.gsi1pk !== keys.owner(owner) || sort === null) return false;
      if (!key.gsi1sk?.startsWith(sortPrefix)) return false;
      const [, holder, hex] = sort;
      const shardPrefix = `${PREFIX.subnet}${holder}${PREFIX.shard}`;
      return (
        key.sk === `${PREFIX.allocation}${hex}` &&
        key.pk?.startsWith(shardPrefix) === true &&
        SHARD_PARTITION.test(key.pk.slice(shardPrefix.length))
      );
    },
  };
}

/**
 * A subnet's allocations in address order. Its key is `{shard, sk}`: the shard to
 * continue in (0 to `shardCount - 1`) and the allocation sort key to continue after
 * there ('' for the shard's start); `addressDigits` is the length of the subnet's
 * address keys (8 or 32) and `shardOf` names the shard of an address inside the
 * subnet (undefined outside it).
 */
export function subnetAllocationsScope(
  subnetId: string,
  shardCount: number,
  addressDigits: number,
  shardOf: (value: bigint) => number | undefined,
): ListScope {
  const sortKey = new RegExp(`^${PREFIX.allocation}([0-9a-f]{${addressDigits}})$`);
  return {
    name: ['subnetAllocations', subnetId],
    keys: ['shard', 'sk'],
    contains: (key: Cursor) => {
      if (!/^\d{1,2}$/.test(key.shard ?? '')) return false;
      const shard = Number(key.shard);
      if (shard >= shardCount) return false;
      if (key.sk === '') return true;
      const hex = sortKey.exec(key.sk ?? '')?.[1];
      return hex !== undefined && shardOf(BigInt(`0x${hex}`)) === shard;
    },
  };
}
