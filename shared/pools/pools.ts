/** Pool CRUD: create (with the subnets already in its space), get, list, delete. */
import { DeleteCommand, PutCommand, paginateQuery, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { AllocationContentionError, PoolInUseError, ValidationError } from '../errors.js';
import { DEFAULT_SPACE } from '../limits.js';
import { bitLength, type Cidr, cidrLast, formatCidr, parseCidr } from '../net/address.js';
import { newId } from '../net/ids.js';
import { batchWrite } from '../store/batchWrite.js';
import type { IpamContext } from '../store/context.js';
import { poolsScope } from '../store/cursorScopes.js';
import { PoolBlockKind as Kind, keys, poolKeys } from '../store/keys.js';
import { decodeCursor, encodeCursor, type Page } from '../store/paging.js';
import { backoffMs, isConditionalCheckFailed, sleep } from '../store/retry.js';
import { assertSubnetPrefix } from '../subnets/rules.js';
import { address } from '../subnets/subnet.js';
import { assertSpace } from '../subnets/subnets.js';
import { blocksOverlap, containsBlock, freeBlocksOf } from './buddy.js';
import { fromPoolItem, poolView, toPoolItem } from './items.js';
import { foreignItem, freeItem, loadPool, reclaimStale, WRITE_ATTEMPTS } from './ledger.js';
import type { Pool, PoolView } from './pool.js';
import { queryStartingIn } from './rangeQueries.js';

export interface CreatePoolInput {
  readonly name?: string | null;
  readonly prefixes: readonly string[];
  readonly space?: string;
  readonly defaultPrefixLength?: number;
  readonly minPrefixLength?: number;
  readonly maxPrefixLength?: number;
  readonly tags?: Record<string, string>;
}

export interface ListPoolsQuery {
  readonly limit: number;
  readonly cursor?: string;
}

/** At most this many prefixes: the pool item lists them, and each carve searches them. */
export const MAX_POOL_PREFIXES = 50;

/** Creates a pool (400 VALIDATION_ERROR / INVALID_CIDR for a bad definition). */
export async function createPool(ctx: IpamContext, input: CreatePoolInput): Promise<PoolView> {
  const planned = planPool(input, new Date(ctx.now()).toISOString());
  // Subnets already in the space are foreign blocks from the start.
  const foreign = (
    await Promise.all(planned.prefixes.map((prefix) => subnetsIn(ctx, planned.space, prefix)))
  ).flat();
  const pool = { ...planned, foreignCount: foreign.length };
  const free = freeBlocksOf(
    pool.prefixes,
    foreign.map(({ region }) => region),
  );
  // The structure first, the pool item last: until it exists, nothing reads the rest.
  await batchWrite(ctx, [
    ...free.map((block) => ({ PutRequest: { Item: freeItem(pool, block) } })),
    ...foreign.map(({ region, subnetId, cidr }) => ({
      PutRequest: { Item: foreignItem(pool, region, subnetId, cidr) },
    })),
  ]);
  try {
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: toPoolItem(pool),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    // Only our own earlier attempt (the id is fresh and random) can have written it.
    if (!isConditionalCheckFailed(error)) throw error;
  }
  return poolView(pool);
}
/** Builds a pool from the request, applying the defaults and rules of API.md. */
function planPool(input: CreatePoolInput, now: string): Pool {
  const prefixes = parsePrefixes(input.prefixes);
  const version = prefixes[0]!.version;
  const bits = bitLength(version);
  const shortest = Math.min(...prefixes.map((prefix) => prefix.prefixLength));
  for (const field of ['defaultPrefixLength', 'minPrefixLength', 'maxPrefixLength'] as const) {
    const value = input[field];
    if (value !== undefined && !Number.isInteger(value)) {
      throw new ValidationError(`${field} must be an integer.`, { field });
    }
  }
  const min = input.minPrefixLength ?? shortest;
  const max = input.maxPrefixLength ?? bits;
  const invalid = (field: string, message: string) =>
    new ValidationError(message, { field, minPrefixLength: min, maxPrefixLength: max });
  if (min < shortest) {
    throw invalid(
      'minPrefixLength',
      `minPrefixLength /${min} is shorter than the shortest prefix (/${shortest}); use /${shortest} or longer.`,
    );
  }
  if (max > bits) {
    throw invalid(
      'maxPrefixLength',
      `maxPrefixLength /${max} is longer than IPv${version}'s /${bits}.`,
    );
  }
  if (min > max) {
    const defaulted = input.minPrefixLength === undefined;
    throw invalid(
      defaulted ? 'maxPrefixLength' : 'minPrefixLength',
      `minPrefixLength /${min}${defaulted ? ' (the shortest prefix)' : ''} is longer than maxPrefixLength /${max}.`,
    );
  }
  const defaultLength =
    input.defaultPrefixLength ?? Math.min(max, Math.max(min, version === 4 ? 24 : 64));
  if (defaultLength < min || defaultLength > max) {
    throw invalid(
      'defaultPrefixLength',
      `defaultPrefixLength /${defaultLength} is outside /${min} to /${max}.`,
    );
  }
  const space = input.space ?? DEFAULT_SPACE;
  assertSpace(space);
  return {
    id: newId('pool'),
    name: input.name ?? null,
    version,
    prefixes,
    space,
    defaultPrefixLength: defaultLength,
    minPrefixLength: min,
    maxPrefixLength: max,
    tags: input.tags ?? {},
    createdAt: now,
    updatedAt: now,
    ver: 1,
    carvedCount: 0,
    carvedAddresses: 0n,
    foreignCount: 0,
  };
}

/** Parses the prefixes: subnet-sized CIDRs of one version, none overlapping; sorted. */
function parsePrefixes(texts: readonly string[]): Cidr[] {
  if (!Array.isArray(texts) || texts.length === 0) {
    throw new ValidationError('A pool needs at least one prefix.', { field: 'prefixes' });
  }
  if (texts.length > MAX_POOL_PREFIXES) {
    throw new ValidationError(
      `A pool holds at most ${MAX_POOL_PREFIXES} prefixes, not ${texts.length}.`,
      { field: 'prefixes', max: MAX_POOL_PREFIXES },
    );
  }
  const prefixes = texts.map((text) => {
    const cidr = parseCidr(text);
    assertSubnetPrefix(cidr);
    return cidr;
  });
  const version = prefixes[0]!.version;
  const other = prefixes.find((prefix) => prefix.version !== version);
  if (other !== undefined) {
    throw new ValidationError(
      `The prefixes mix IPv${version} and IPv${other.version} (${formatCidr(other)}); a pool holds one version.`,
      { field: 'prefixes' },
    );
  }
  const sorted = [...prefixes].sort((a, b) => (a.network < b.network ? -1 : 1));
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!;
    const current = sorted[i]!;
    if (current.network <= cidrLast(previous)) {
      const pair = [formatCidr(previous), formatCidr(current)];
      throw new ValidationError(`The prefixes ${pair[0]} and ${pair[1]} overlap.`, {
        field: 'prefixes',
        prefixes: pair,
      });
    }
  }
  return sorted;
}

/**
 * The subnets of `space` that overlap `prefix` (from the space index), each with
 * `region`, the part of the prefix it takes.
 */
async function subnetsIn(
  ctx: IpamContext,
  space: string,
  prefix: Cidr,
): Promise<{ subnetId: string; cidr: Cidr; region: Cidr }[]> {
  const entries = await queryStartingIn(
    ctx,
    keys.spaceHead(space).pk,
    `NET#${prefix.version}#`,
    keys.spaceEntrySort(address(prefix.version, prefix.network)),
    keys.spaceEntrySort(address(prefix.version, cidrLast(prefix))),
  );
  return entries
    .map((entry) => ({ subnetId: String(entry.subnetId), cidr: parseCidr(String(entry.cidr)) }))
    .filter(({ cidr }) => blocksOverlap(cidr, prefix))
    .map((entry) => ({
      ...entry,
      region: containsBlock(entry.cidr, prefix) ? prefix : entry.cidr,
    }));
}

/** 404 POOL_NOT_FOUND for an unknown id. */
export async function getPool(ctx: IpamContext, poolId: string): Promise<PoolView> {
  return poolView(await loadPool(ctx, poolId));
}

/** Pools in id order (from the index: usage may lag a carve by a moment). */
export async function listPools(ctx: IpamContext, query: ListPoolsQuery): Promise<Page<PoolView>> {
  const scope = poolsScope();
  const startKey = decodeCursor(scope, query.cursor);
  const result = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': poolKeys.allPools },
      Limit: query.limit,
      ExclusiveStartKey: startKey,
    }),
  );
  return {
    items: (result.Items ?? []).map((item) => poolView(fromPoolItem(item))),
    nextCursor: encodeCursor(scope, result.LastEvaluatedKey),
  };
}

/** Deletes a pool; 409 POOL_IN_USE while subnets carved from it exist. */
export async function deletePool(ctx: IpamContext, poolId: string): Promise<void> {
  let reclaimed = false;
  for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
    const pool = await loadPool(ctx, poolId);
    if (pool.carvedCount > 0) {
      // Subnets deleted without onSubnetDeleted do not hold the pool.
      if (!reclaimed) {
        reclaimed = true;
        if ((await reclaimStale(ctx, pool, { kind: Kind.CARVED })) > 0) continue;
      }
      throw new PoolInUseError(
        `Pool ${pool.id} still has ${pool.carvedCount} subnet(s) carved from it; delete them first.`,
        { poolId: pool.id, carvedSubnets: pool.carvedCount },
      );
    }
    try {
      await ctx.doc.send(
        new DeleteCommand({
          TableName: ctx.tableName,
          Key: poolKeys.pool(pool.id),
          ConditionExpression: 'ver = :ver',
          ExpressionAttributeValues: { ':ver': pool.ver },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      await sleep(backoffMs(attempt));
      continue;
    }
    // Nothing reads these once the pool item is gone.
    await deletePartition(ctx, poolKeys.freePartition(pool.id));
    await deletePartition(ctx, poolKeys.usedPartition(pool.id));
    return;
  }
  throw new AllocationContentionError(`Pool ${poolId} kept changing during the delete; retry.`);
}

/** Deletes every item of a partition (after the pool item is gone), a page at a time. */
async function deletePartition(ctx: IpamContext, pk: string): Promise<void> {
  for await (const page of paginateQuery(
    { client: ctx.doc },
    {
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ProjectionExpression: 'pk, sk',
    },
  )) {
    await batchWrite(
      ctx,
      (page.Items ?? []).map((item) => ({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } })),
    );
  }
}
