/**
 * The free-block ledger: which parts of a pool are free, carved or foreign, and the
 * pool item's `ver` that guards every change of them.
 *
 * | item          | pk               | sk                            | attributes                                                                                                                                                                                                 |
 * | ------------- | ---------------- | ----------------------------- | ---------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------- |
 * | pool          | `POOL#<id>`      | `META`                        | name, ipVersion, prefixes, space, default/min/maxPrefixLength, tags, createdAt, updatedAt, `ver` (optimistic), `carvedCount`, `carvedAddresses` (decimal string), `foreignCount`; gsi1: `POOLS` / `<id>` |
 * | free block    | `POOL#<id>#FREE` | `<host bits, 3 digits>#<hex>` | cidr. Lexical sk order is best-fit order: smallest block first, then lowest address                                                                                                                        |
 * | carved block  | `POOL#<id>#USED` | `C#<network hex>`             | cidr, subnetId: a subnet carved from the pool                                                                                                                                                              |
 * | foreign block | `POOL#<id>#USED` | `F#<network hex>`             | cidr (the part of the pool it takes), subnetId, subnetCidr: a subnet of the space not carved from this pool                                                                                                |
 *
 * Free, carved and foreign blocks are disjoint and together cover the prefixes
 * exactly; the free blocks form a canonical buddy set (buddy.ts). Once the pool item
 * exists, every change of them is one transaction that also bumps its `ver` on
 * condition that it is unchanged, so what a writer read after reading `ver` is exactly
 * the state it changes, and `carvedCount`/`carvedAddresses` are exact.
 *
 * - **Give back.** `onSubnetDeleted` deletes the carved block (on condition that it
 *   names that subnet and that the subnet is gone) and merges it with its free
 *   buddies, in one transaction. A second call finds nothing to do.
 * - **Stale blocks.** `reclaimStale` returns the blocks whose subnet is gone: foreign
 *   ones when the pool would otherwise be exhausted, carved ones (a subnet deleted
 *   without the give-back) when an explicit carve or a pool delete meets them.
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { AllocationContentionError, PoolNotFoundError } from '../errors.js';
import { type Cidr, cidrLast, cidrSize, formatCidr, parseCidr } from '../net/address.js';
import { isId } from '../net/ids.js';
import { batchGet } from '../store/batch.js';
import type { IpamContext } from '../store/context.js';
import {
  fitKey,
  fitKeyFloor,
  PoolBlockKind as Kind,
  keys,
  PREFIX,
  poolKeys,
} from '../store/keys.js';
import { backoffMs, sleep, type TransactionCanceled } from '../store/retry.js';
import { type TransactItem, writeTransaction } from '../store/transactions.js';
import type { Subnet } from '../subnets/subnet.js';
import { blocksOverlap, buddiesUpTo, coalesce, holdersOf } from './buddy.js';
import { fromPoolItem } from './items.js';
import { type Pool, rootOf } from './pool.js';
import { queryRange, queryStartingIn } from './rangeQueries.js';

/** Conditional writes of the free structure retried on a `ver` race. */
export const WRITE_ATTEMPTS = 40;

// --- Reads -------------------------------------------------------------------------

/** The pool, strongly consistent; undefined for an unknown id. */
export async function readPool(ctx: IpamContext, poolId: string): Promise<Pool | undefined> {
  if (!isId('pool', poolId)) return undefined;
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: poolKeys.pool(poolId), ConsistentRead: true }),
  );
  return result.Item === undefined ? undefined : fromPoolItem(result.Item);
}

/** The pool; 404 POOL_NOT_FOUND for an unknown id. */
export async function loadPool(ctx: IpamContext, poolId: string): Promise<Pool> {
  const pool = await readPool(ctx, poolId);
  if (pool === undefined) throw new PoolNotFoundError(poolId);
  return pool;
}

/** The smallest free block of length ≤ prefixLength, lowest address first: one Query. */
export async function bestFreeBlock(
  ctx: IpamContext,
  pool: Pool,
  prefixLength: number,
): Promise<Cidr | undefined> {
  const result = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk AND sk >= :floor',
      ExpressionAttributeValues: {
        ':pk': poolKeys.freePartition(pool.id),
        ':floor': fitKeyFloor(pool.version, prefixLength),
      },
      Limit: 1,
      ConsistentRead: true,
    }),
  );
  const item = result.Items?.[0];
  return item === undefined ? undefined : parseCidr(String(item.cidr));
}

/** The free block holding `block` and the subnet `block`'s carved record names, if any. */
export async function locate(
  ctx: IpamContext,
  pool: Pool,
  block: Cidr,
): Promise<{ holder?: Cidr; carvedBy?: string }> {
  const root = rootOf(pool, block);
  if (root === undefined) return {};
  const recordKey = poolKeys.used(pool.id, Kind.CARVED, block);
  const items = await batchGet(ctx, [
    recordKey,
    ...holdersOf(block, root.prefixLength).map((holder) => poolKeys.free(pool.id, holder)),
  ]);
  const record = items.find((item) => item.pk === recordKey.pk && item.sk === recordKey.sk);
  const holder = items.find((item) => item !== record);
  return {
    ...(holder === undefined ? {} : { holder: parseCidr(String(holder.cidr)) }),
    ...(record?.cidr === formatCidr(block) ? { carvedBy: String(record.subnetId) } : {}),
  };
}

interface UsedRecord {
  readonly kind: Kind;
  readonly block: Cidr;
  readonly subnetId: string;
}

function usedRecordOf(item: Record<string, unknown>): UsedRecord {
  return {
    kind: String(item.sk).startsWith(`${Kind.CARVED}#`) ? Kind.CARVED : Kind.FOREIGN,
    block: parseCidr(String(item.cidr)),
    subnetId: String(item.subnetId),
  };
}

/** Every record of one kind. */
async function queryRecords(ctx: IpamContext, pool: Pool, kind: Kind): Promise<UsedRecord[]> {
  // '~' sorts after every hex digit.
  const items = await queryRange(ctx, poolKeys.usedPartition(pool.id), `${kind}#`, `${kind}#~`);
  return items.map(usedRecordOf);
}

/** The records of one kind that overlap `region`. */
async function recordsOverlapping(
  ctx: IpamContext,
  pool: Pool,
  kind: Kind,
  region: Cidr,
): Promise<UsedRecord[]> {
  const items = await queryStartingIn(
    ctx,
    poolKeys.usedPartition(pool.id),
    `${kind}#`,
    poolKeys.usedSort(kind, region.network, region.version),
    poolKeys.usedSort(kind, cidrLast(region), region.version),
  );
  return items.map(usedRecordOf).filter((record) => blocksOverlap(record.block, region));
}

/** The ids among `subnetIds` whose subnet exists (one BatchGet per 100). */
async function existingSubnets(
  ctx: IpamContext,
  subnetIds: readonly string[],
): Promise<Set<string>> {
  const items = await batchGet(
    ctx,
    [...new Set(subnetIds)].map((subnetId) => keys.subnet(subnetId)),
    'pk',
  );
  return new Set(items.map((item) => String(item.pk).slice(PREFIX.subnet.length)));
}

// --- Items and transaction parts ---------------------------------------------------

/** The pool item's update of every structure change: `ver` + 1 on condition it is unchanged. */
export function bumpPool(
  ctx: IpamContext,
  pool: Pool,
  change: { carved?: number; addresses?: bigint; foreign?: number },
): TransactItem {
  return {
    Update: {
      TableName: ctx.tableName,
      Key: poolKeys.pool(pool.id),
      UpdateExpression:
        'SET ver = :next, carvedCount = :carved, carvedAddresses = :addresses, foreignCount = :foreign',
      ConditionExpression: 'ver = :ver',
      ExpressionAttributeValues: {
        ':ver': pool.ver,
        ':next': pool.ver + 1,
        ':carved': pool.carvedCount + (change.carved ?? 0),
        ':addresses': (pool.carvedAddresses + (change.addresses ?? 0n)).toString(),
        ':foreign': pool.foreignCount + (change.foreign ?? 0),
      },
    },
  };
}

export function freeItem(pool: Pool, block: Cidr) {
  return { ...poolKeys.free(pool.id, block), type: 'poolFreeBlock', cidr: formatCidr(block) };
}

export function carvedItem(pool: Pool, subnet: Subnet) {
  return {
    ...poolKeys.used(pool.id, Kind.CARVED, subnet.cidr),
    type: 'poolCarvedBlock',
    cidr: formatCidr(subnet.cidr),
    subnetId: subnet.id,
  };
}

export function foreignItem(pool: Pool, region: Cidr, subnetId: string, subnetCidr: Cidr) {
  return {
    ...poolKeys.used(pool.id, Kind.FOREIGN, region),
    type: 'poolForeignBlock',
    cidr: formatCidr(region),
    subnetId,
    subnetCidr: formatCidr(subnetCidr),
  };
}

function putFree(ctx: IpamContext, pool: Pool, block: Cidr): TransactItem {
  return {
    Put: {
      TableName: ctx.tableName,
      Item: freeItem(pool, block),
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}

/** Free blocks out, free blocks in. */
export function replaceFree(
  ctx: IpamContext,
  pool: Pool,
  remove: readonly Cidr[],
  add: readonly Cidr[],
): TransactItem[] {
  return [
    ...remove.map(
      (block): TransactItem => ({
        Delete: {
          TableName: ctx.tableName,
          Key: poolKeys.free(pool.id, block),
          ConditionExpression: 'attribute_exists(pk)',
        },
      }),
    ),
    ...add.map((block) => putFree(ctx, pool, block)),
  ];
}

/** True when item `index` of a canceled transaction failed its condition. */
export function failedAt(error: TransactionCanceled, index: number): boolean {
  return error.CancellationReasons?.[index]?.Code === 'ConditionalCheckFailed';
}

// --- Giving blocks back ------------------------------------------------------------

/**
 * Returns a deleted subnet's block to its pool's free space. Call it after the
 * subnet is deleted; it does nothing for a subnet that still exists, one not
 * carved from a pool, a deleted pool, or a second call. This is what the composition
 * roots hand `deleteSubnet` (shared/subnets) as its `onDeleted`.
 */
export async function onSubnetDeleted(ctx: IpamContext, subnet: Subnet): Promise<void> {
  if (subnet.poolId === undefined) return;
  await releaseBlock(ctx, subnet.poolId, Kind.CARVED, subnet.cidr, subnet.id);
}

/**
 * Deletes the record of `block` (if it still names `subnetId` and that subnet is
 * gone) and merges the block into the free space. True when it did.
 */
async function releaseBlock(
  ctx: IpamContext,
  poolId: string,
  kind: Kind,
  block: Cidr,
  subnetId: string,
): Promise<boolean> {
  for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
    const pool = await readPool(ctx, poolId);
    const root = pool === undefined ? undefined : rootOf(pool, block);
    if (pool === undefined || root === undefined) return false;
    const recordKey = poolKeys.used(pool.id, kind, block);
    const buddies = buddiesUpTo(block, root.prefixLength);
    const items = await batchGet(ctx, [
      recordKey,
      ...buddies.map((buddy) => poolKeys.free(pool.id, buddy)),
    ]);
    const record = items.find((item) => item.pk === recordKey.pk && item.sk === recordKey.sk);
    if (record?.subnetId !== subnetId || record.cidr !== formatCidr(block)) return false;
    const free = new Set(items.filter((item) => item !== record).map((item) => String(item.sk)));
    const { merged, absorbed } = coalesce(block, root.prefixLength, (buddy) =>
      free.has(fitKey(buddy)),
    );
    const size = cidrSize(block);
    const outcome = await writeTransaction(ctx, [
      bumpPool(
        ctx,
        pool,
        kind === Kind.CARVED ? { carved: -1, addresses: -size } : { foreign: -1 },
      ),
      {
        ConditionCheck: {
          TableName: ctx.tableName,
          Key: keys.subnet(subnetId),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Delete: {
          TableName: ctx.tableName,
          Key: recordKey,
          ConditionExpression: 'subnetId = :subnetId',
          ExpressionAttributeValues: { ':subnetId': subnetId },
        },
      },
      ...replaceFree(ctx, pool, absorbed, [merged]),
    ]);
    if (outcome.canceled === undefined) return true;
    // The subnet exists: its block is not ours to free.
    if (failedAt(outcome.canceled, 1)) return false;
    await sleep(backoffMs(attempt));
  }
  throw new AllocationContentionError(
    `Pool ${poolId} kept changing while ${formatCidr(block)} was returned to it; retry.`,
  );
}

/**
 * Returns to the free space the carved or foreign blocks whose subnet is gone: those
 * of one `kind`, or those overlapping `region`. Returns how many it returned.
 */
export async function reclaimStale(
  ctx: IpamContext,
  pool: Pool,
  scope: { kind: Kind } | { region: Cidr },
): Promise<number> {
  const records =
    'kind' in scope
      ? await queryRecords(ctx, pool, scope.kind)
      : [
          ...(await recordsOverlapping(ctx, pool, Kind.CARVED, scope.region)),
          ...(await recordsOverlapping(ctx, pool, Kind.FOREIGN, scope.region)),
        ];
  if (records.length === 0) return 0;
  const live = await existingSubnets(
    ctx,
    records.map((record) => record.subnetId),
  );
  let released = 0;
  for (const record of records) {
    if (live.has(record.subnetId)) continue;
    if (await releaseBlock(ctx, pool.id, record.kind, record.block, record.subnetId)) released++;
  }
  return released;
}
