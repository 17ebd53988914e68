/**
 * Subnet pools: carve subnets out of larger prefixes, best fit, never overlapping.
 *
 * ## Data model (same table; merge into shared/README.md)
 *
 * | item          | pk               | sk                             | attributes                                                                                                                                                                                   |
 * | ------------- | ---------------- | ------------------------------ | -------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------- |
 * | pool          | `POOL#<id>`      | `META`                         | name, ipVersion, prefixes, space, default/min/maxPrefixLength, tags, createdAt, updatedAt, `ver` (optimistic), `carvedCount`, `carvedAddresses` (decimal string), `foreignCount`; gsi1: `POOLS` / `<id>` |
 * | free block    | `POOL#<id>#FREE` | `<host bits, 3 digits>#<hex>`  | cidr. Lexical sk order is best-fit order: smallest block first, then lowest address                                                                                                          |
 * | carved block  | `POOL#<id>#USED` | `C#<network hex>`              | cidr, subnetId: a subnet carved from the pool                                                                                                                                                |
 * | foreign block | `POOL#<id>#USED` | `F#<network hex>`              | cidr (the part of the pool it takes), subnetId, subnetCidr: a subnet of the space not carved from this pool                                                                                  |
 *
 * Free, carved and foreign blocks are disjoint and together cover the prefixes
 * exactly; the free blocks form a canonical buddy set (shared/buddy.ts). Once the pool
 * item exists, every change of them is one transaction that also bumps its `ver` on
 * condition that it is unchanged, so what a writer read after reading `ver` is exactly the
 * state it changes, and `carvedCount`/`carvedAddresses` are exact.
 *
 * ## How a carve works, and why it is safe
 *
 * - **Find.** Read the pool, then one `Query` on the free partition, `sk >= <host
 *   bits of L>#`, `Limit 1`: the best fit. Its lowest /L is the candidate.
 * - **Claim.** Plan the subnet there (`planSubnet`: the usual defaults, `poolId`, the
 *   pool's space) and `insertSubnet` it. The space index stays the one authority on
 *   overlap: two carves racing for one candidate cannot both commit, whatever the
 *   free structure says.
 * - **Record.** One transaction: the pool's `ver`, a check that the subnet still
 *   exists, the carved block, and the free block replaced by what is left of it
 *   (`subtract`). Idempotent, and anyone may do it: a carve whose caller died after
 *   the insert is recorded by the next carve that meets it (after a 2 s grace).
 * - **Conflicts teach.** A candidate refused with SUBNET_OVERLAP names the subnet in
 *   the way. One of ours: a racing carve (back off with jitter, retry). Any other
 *   (created directly, or by another pool): take its part out of the free block as a
 *   foreign block and retry at once. A new pool learns the subnets already in its
 *   space when it is created; later direct creates are learned when a candidate
 *   meets them, so best fit is exact with respect to everything the pool has seen.
 * - **Give back.** `onSubnetDeleted` deletes the carved block (on condition that it
 *   names that subnet and that the subnet is gone) and merges it with its free
 *   buddies, in one transaction. A second call finds nothing to do.
 * - **Stale blocks.** A foreign block whose subnet is gone returns to the free space
 *   when the pool would otherwise be exhausted; a carved block whose subnet was
 *   deleted without `onSubnetDeleted` returns when an explicit carve or a pool delete
 *   meets it.
 * - **Cost.** A carve is 7 requests (pool, best fit, the 4 of `insertSubnet`, the
 *   record transaction), a preview 4, a release 3, however many subnets the pool
 *   holds. Transactions stay within 100 items because prefixes are subnet-sized
 *   (IPv4 /8 or longer, IPv6 /32 or longer): at most 96 levels of splitting.
 */
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  BatchWriteCommand,
  type BatchWriteCommandInput,
  type BatchWriteCommandOutput,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  AllocationContentionError,
  PoolExhaustedError,
  PoolInUseError,
  PoolNotFoundError,
  PrefixLengthOutOfRangeError,
  SubnetNotFoundError,
  SubnetOverlapError,
  ValidationError,
} from '../errors.js';
import { DEFAULT_SPACE } from '../limits.js';
import {
  addressKey,
  bitLength,
  type Cidr,
  cidrLast,
  cidrSize,
  formatCidr,
  type IpVersion,
  parseCidr,
} from '../net/address.js';
import { isId, newId } from '../net/ids.js';
import type { IpamContext } from '../store/context.js';
import { keys } from '../store/keys.js';
import { decodeCursor, encodeCursor, type Page } from '../store/paging.js';
import { queryPages } from '../store/query.js';
import {
  backoffMs,
  isConditionalCheckFailed,
  sleep,
  type TransactionCanceled,
} from '../store/retry.js';
import { type TransactItem, writeTransaction } from '../store/transactions.js';
import { assertSubnetPrefix } from '../subnets/rules.js';
import { address, type Subnet, type SubnetView, subnetView } from '../subnets/subnet.js';
import {
  assertSpace,
  type CreateSubnetInput,
  deleteSubnet,
  findOverlap,
  insertSubnet,
  loadSubnet,
  planSubnet,
} from '../subnets/subnets.js';
import {
  blocksOverlap,
  buddiesUpTo,
  coalesce,
  containsBlock,
  fitKey,
  fitKeyFloor,
  freeBlocksOf,
  holdersOf,
  lowestPart,
  subtract,
} from './buddy.js';

export interface CreatePoolInput {
  readonly name?: string | null;
  readonly prefixes: readonly string[];
  readonly space?: string;
  readonly defaultPrefixLength?: number;
  readonly minPrefixLength?: number;
  readonly maxPrefixLength?: number;
  readonly tags?: Record<string, string>;
}

/** The subnet body without `space` (the pool's), with either `cidr` or `prefixLength`. */
export type CarveSubnetInput = Omit<CreateSubnetInput, 'cidr' | 'space' | 'poolId'> & {
  readonly cidr?: string;
  readonly prefixLength?: number;
};

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

/** At most this many prefixes: the pool item lists them, and each carve searches them. */
export const MAX_POOL_PREFIXES = 50;

/** Lost races (a racing carve took the candidate) a carve survives before ALLOCATION_CONTENTION. */
const CARVE_ATTEMPTS = 40;
/** Conditional writes of the free structure retried on a `ver` race. */
const WRITE_ATTEMPTS = 40;
/** How long a carve's own caller has to record it before others do it for them. */
const RECORD_GRACE_MS = 2000;
/** Rounds of one carve, lost or learning; only a bug or a storm of direct creates reaches it. */
const MAX_ROUNDS = 1000;

const Kind = { CARVED: 'C', FOREIGN: 'F' } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

/** Key builders of the pool items (layout in the module comment). */
export const poolKeys = {
  pool: (poolId: string) => ({ pk: `POOL#${poolId}`, sk: 'META' }),
  freePartition: (poolId: string) => `POOL#${poolId}#FREE`,
  free: (poolId: string, block: Cidr) => ({
    pk: poolKeys.freePartition(poolId),
    sk: fitKey(block),
  }),
  usedPartition: (poolId: string) => `POOL#${poolId}#USED`,
  usedSort: (kind: Kind, network: Cidr['network'], version: IpVersion) =>
    `${kind}#${addressKey({ version, value: network })}`,
  used: (poolId: string, kind: Kind, block: Cidr) => ({
    pk: poolKeys.usedPartition(poolId),
    sk: poolKeys.usedSort(kind, block.network, block.version),
  }),
  /** gsi1 partition of every pool. */
  allPools: 'POOLS',
};

interface Pool {
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

type Key = { pk: string; sk: string };
interface Conflict {
  readonly subnetId: string;
  readonly cidr: string;
}
type ClaimResult<T> = { readonly won: T } | { readonly conflict: Conflict };

// --- Pools -------------------------------------------------------------------------

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

/** 404 POOL_NOT_FOUND for an unknown id. */
export async function getPool(ctx: IpamContext, poolId: string): Promise<PoolView> {
  return poolView(await loadPool(ctx, poolId));
}

export interface ListPoolsQuery {
  readonly limit: number;
  readonly cursor?: string;
}

/** Pools in id order (from the index: usage may lag a carve by a moment). */
export async function listPools(ctx: IpamContext, query: ListPoolsQuery): Promise<Page<PoolView>> {
  const startKey = decodeCursor(query.cursor, ['pk', 'sk', 'gsi1pk', 'gsi1sk']);
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
    nextCursor: encodeCursor(result.LastEvaluatedKey),
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

// --- Carving -----------------------------------------------------------------------

/**
 * Carves a subnet: at `cidr`, or the best fit for `prefixLength` (default: the pool's
 * defaultPrefixLength). Errors: 404 POOL_NOT_FOUND; 400 VALIDATION_ERROR for both
 * `cidr` and `prefixLength`, a `cidr` of the other version or outside every prefix
 * of the pool; 400 PREFIX_LENGTH_OUT_OF_RANGE outside [min, max]; 409
 * SUBNET_OVERLAP for a taken `cidr`; 409 POOL_EXHAUSTED; 503 ALLOCATION_CONTENTION;
 * and every error of `planSubnet` (gateway, allocation pools).
 */
export async function carveSubnet(
  ctx: IpamContext,
  poolId: string,
  input: CarveSubnetInput,
): Promise<SubnetView> {
  const pool = await loadPool(ctx, poolId);
  const { cidr, prefixLength, ...fields } = input;
  const plan = (block: Cidr) =>
    planSubnet(
      { ...fields, cidr: formatCidr(block), space: pool.space, poolId: pool.id },
      new Date(ctx.now()).toISOString(),
    );
  let carved: { pool: Pool; holder?: Cidr; won: Subnet };
  if (cidr !== undefined) {
    if (prefixLength !== undefined) {
      throw new ValidationError('Give either cidr or prefixLength, not both.', {
        field: 'prefixLength',
      });
    }
    const subnet = plan(explicitBlock(pool, cidr));
    await insertSubnet(ctx, subnet);
    carved = { pool, won: subnet };
  } else {
    const length = prefixLength ?? pool.defaultPrefixLength;
    assertPrefixLength(pool, length);
    carved = await claimNext<Subnet>(ctx, pool, length, async (_current, block) => {
      const subnet = plan(block);
      try {
        await insertSubnet(ctx, subnet);
        return { won: subnet };
      } catch (error) {
        if (error instanceof SubnetOverlapError) return { conflict: conflictOf(error) };
        throw error;
      }
    });
  }
  const subnet = carved.won;
  if ((await recordCarve(ctx, subnet, carved.pool, carved.holder)) === 'pool-gone') {
    // The pool was deleted while we carved: do not leave a subnet that names it.
    await deleteSubnet(ctx, subnet.id).catch((error: unknown) => {
      if (!(error instanceof SubnetNotFoundError)) throw error;
    });
    throw new PoolNotFoundError(pool.id);
  }
  return subnetView(subnet, { all: 0n, inPools: 0n });
}

/**
 * The CIDR the next carve of `prefixLength` would take, without taking it (409
 * POOL_EXHAUSTED when none is left). Like a carve it checks the space and learns
 * about subnets in the way, so its answer is what the next carve gets.
 */
export async function previewNextCidr(
  ctx: IpamContext,
  poolId: string,
  prefixLength?: number,
): Promise<{ cidr: string }> {
  const pool = await loadPool(ctx, poolId);
  const length = prefixLength ?? pool.defaultPrefixLength;
  assertPrefixLength(pool, length);
  const { won } = await claimNext<Cidr>(ctx, pool, length, async (current, block) => {
    const conflict = await findOverlap(ctx, current.space, block);
    return conflict === undefined ? { won: block } : { conflict };
  });
  return { cidr: formatCidr(won) };
}

/**
 * Returns a deleted subnet's block to its pool's free space. Call it after the
 * subnet is deleted; it does nothing for a subnet that still exists, one not
 * carved from a pool, a deleted pool, or a second call.
 */
export async function onSubnetDeleted(ctx: IpamContext, subnet: Subnet): Promise<void> {
  if (subnet.poolId === undefined) return;
  await releaseBlock(ctx, subnet.poolId, Kind.CARVED, subnet.cidr, subnet.id);
}

function assertPrefixLength(pool: Pool, prefixLength: number): void {
  if (!Number.isInteger(prefixLength)) {
    throw new ValidationError('prefixLength must be an integer.', { field: 'prefixLength' });
  }
  const { minPrefixLength: min, maxPrefixLength: max } = pool;
  if (prefixLength < min || prefixLength > max) {
    throw new PrefixLengthOutOfRangeError(
      `Pool ${pool.id} carves /${min} to /${max}; /${prefixLength} is outside that range.`,
      { prefixLength, minPrefixLength: min, maxPrefixLength: max },
    );
  }
}

/** An explicit `cidr`: of the pool's version, prefix length in range, inside one prefix. */
function explicitBlock(pool: Pool, text: string): Cidr {
  const cidr = parseCidr(text);
  if (cidr.version !== pool.version) {
    throw new ValidationError(
      `${formatCidr(cidr)} is IPv${cidr.version}; pool ${pool.id} holds IPv${pool.version} prefixes.`,
      { field: 'cidr' },
    );
  }
  assertPrefixLength(pool, cidr.prefixLength);
  if (rootOf(pool, cidr) === undefined) {
    const prefixes = pool.prefixes.map(formatCidr);
    throw new ValidationError(
      `${formatCidr(cidr)} is not inside any prefix of pool ${pool.id} (${prefixes.join(', ')}).`,
      { field: 'cidr', prefixes },
    );
  }
  return cidr;
}

/**
 * The carve loop shared by carve and preview: best fit, then `claim` the lowest
 * /prefixLength of it; a conflict is recorded (ours) or learned (foreign) and the
 * loop goes on, until a claim wins, the pool is exhausted, or too many races are lost.
 */
async function claimNext<T>(
  ctx: IpamContext,
  first: Pool,
  prefixLength: number,
  claim: (pool: Pool, block: Cidr) => Promise<ClaimResult<T>>,
): Promise<{ pool: Pool; holder: Cidr; won: T }> {
  let pool = first;
  let losses = 0;
  let reclaimed = false;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (round > 0) pool = await loadPool(ctx, pool.id);
    const holder = await bestFreeBlock(ctx, pool, prefixLength);
    if (holder === undefined) {
      if (!reclaimed && pool.foreignCount > 0) {
        reclaimed = true;
        if ((await reclaimStale(ctx, pool, { kind: Kind.FOREIGN })) > 0) continue;
      }
      throw new PoolExhaustedError(
        `Pool ${pool.id} has no free /${prefixLength} left (${pool.carvedAddresses} of ` +
          `${totalAddresses(pool)} addresses carved); delete subnets or add a prefix.`,
        {
          poolId: pool.id,
          prefixLength,
          ...usageOf(pool),
        },
      );
    }
    let result: ClaimResult<T> | undefined;
    try {
      result = await claim(pool, lowestPart(holder, prefixLength));
    } catch (error) {
      // insertSubnet lost every race on the space head: a lost race here too.
      if (!(error instanceof AllocationContentionError)) throw error;
    }
    if (result !== undefined && 'won' in result) return { pool, holder, won: result.won };
    if (result === undefined || !(await learn(ctx, pool, holder, result.conflict))) {
      losses++;
      if (losses >= CARVE_ATTEMPTS) break;
      await sleep(backoffMs(losses));
    }
  }
  throw new AllocationContentionError(
    `Pool ${first.id}: concurrent carves won every try; retry.`,
    1,
  );
}

/**
 * Acts on the subnet that refused a candidate taken from `holder`: records it when
 * it was carved from this pool (a racing or crashed carve), or takes its part out of
 * the free space. True when the free space learned something new.
 */
async function learn(
  ctx: IpamContext,
  pool: Pool,
  holder: Cidr,
  conflict: Conflict,
): Promise<boolean> {
  let subnet: Subnet;
  try {
    subnet = await loadSubnet(ctx, conflict.subnetId);
  } catch (error) {
    if (error instanceof SubnetNotFoundError) return false;
    throw error;
  }
  if (subnet.poolId === pool.id) {
    // A racing carve records its own subnet in a moment; one whose caller died, we record.
    if (ctx.now() - Date.parse(subnet.createdAt) < RECORD_GRACE_MS) return false;
    const outcome = await recordCarve(ctx, subnet, pool);
    if (outcome !== 'gave-up') return outcome === 'recorded';
    // It cannot be recorded: keep it out of the free space like a foreign subnet.
  }
  if (!blocksOverlap(subnet.cidr, holder)) return false;
  const region = containsBlock(subnet.cidr, holder) ? holder : subnet.cidr;
  const outcome = await writeTransaction(ctx, [
    bumpPool(ctx, pool, { foreign: 1 }),
    {
      Put: {
        TableName: ctx.tableName,
        Item: foreignItem(pool, region, subnet.id, subnet.cidr),
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    },
    ...replaceFree(ctx, pool, [holder], subtract(holder, subnet.cidr)),
  ]);
  return outcome.canceled === undefined;
}

type RecordOutcome = 'recorded' | 'subnet-gone' | 'pool-gone' | 'gave-up';

/**
 * Records `subnet` (carved from the pool, already inserted) in the free structure:
 * the free block holding it gives way to what is left of it, and a carved record
 * appears. Idempotent. `holder` is the free block `known` (at its `ver`) held it in,
 * when the caller knows; otherwise it is looked up.
 */
async function recordCarve(
  ctx: IpamContext,
  subnet: Subnet,
  known: Pool,
  holder?: Cidr,
): Promise<RecordOutcome> {
  let pool: Pool | undefined = known;
  let found = holder;
  for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
    if (attempt > 0) {
      await sleep(backoffMs(attempt));
      pool = await readPool(ctx, known.id);
      found = undefined;
    }
    if (pool === undefined) return 'pool-gone';
    if (found === undefined) {
      const located = await locate(ctx, pool, subnet.cidr);
      if (located.carvedBy === subnet.id) return 'recorded';
      found = located.holder;
      // Not free in the structure, yet the insert won: records of deleted subnets overlap it.
      if (found === undefined) {
        if ((await reclaimStale(ctx, pool, { region: subnet.cidr })) === 0) return 'gave-up';
        continue;
      }
    }
    const outcome = await writeTransaction(ctx, [
      bumpPool(ctx, pool, { carved: 1, addresses: cidrSize(subnet.cidr) }),
      {
        ConditionCheck: {
          TableName: ctx.tableName,
          Key: keys.subnet(subnet.id),
          ConditionExpression: 'attribute_exists(pk)',
        },
      },
      {
        Put: {
          TableName: ctx.tableName,
          Item: {
            ...poolKeys.used(pool.id, Kind.CARVED, subnet.cidr),
            type: 'poolCarvedBlock',
            cidr: formatCidr(subnet.cidr),
            subnetId: subnet.id,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      ...replaceFree(ctx, pool, [found], subtract(found, subnet.cidr)),
    ]);
    if (outcome.canceled === undefined) return 'recorded';
    // Deleted before we recorded it: its block simply stays free.
    if (failedAt(outcome.canceled, 1)) return 'subnet-gone';
  }
  // The insert stands; the next carve that meets this subnet records it.
  return 'gave-up';
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
async function reclaimStale(
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

// --- Reads -------------------------------------------------------------------------

async function readPool(ctx: IpamContext, poolId: string): Promise<Pool | undefined> {
  if (!isId('pool', poolId)) return undefined;
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: poolKeys.pool(poolId), ConsistentRead: true }),
  );
  return result.Item === undefined ? undefined : fromPoolItem(result.Item);
}

async function loadPool(ctx: IpamContext, poolId: string): Promise<Pool> {
  const pool = await readPool(ctx, poolId);
  if (pool === undefined) throw new PoolNotFoundError(poolId);
  return pool;
}

/** The smallest free block of length ≤ prefixLength, lowest address first: one Query. */
async function bestFreeBlock(
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
async function locate(
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

/** Every item of partition `pk` with a sort key in [low, high], paged through. */
async function queryRange(
  ctx: IpamContext,
  pk: string,
  low: string,
  high: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for await (const page of queryPages(ctx, {
    KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
    ExpressionAttributeValues: { ':pk': pk, ':low': low, ':high': high },
    ConsistentRead: true,
  })) {
    items.push(...page);
  }
  return items;
}

/**
 * Items keyed by their first address that may overlap the range [first, last]:
 * those starting inside it, and the last one (with a key ≥ floor) starting before.
 */
async function queryStartingIn(
  ctx: IpamContext,
  pk: string,
  floor: string,
  first: string,
  last: string,
): Promise<Record<string, unknown>[]> {
  const before = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
      // Exclusive of `first`, which the range query below returns.
      ExpressionAttributeValues: { ':pk': pk, ':low': floor, ':high': first },
      ScanIndexForward: false,
      Limit: 2,
      ConsistentRead: true,
    }),
  );
  const previous = (before.Items ?? []).find((item) => String(item.sk) < first);
  return [
    ...(previous === undefined ? [] : [previous]),
    ...(await queryRange(ctx, pk, first, last)),
  ];
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
  return new Set(items.map((item) => String(item.pk).slice('SUBNET#'.length)));
}

/** Strongly consistent BatchGet of any number of keys, unprocessed keys retried. */
async function batchGet(
  ctx: IpamContext,
  wanted: readonly Key[],
  projection?: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (let i = 0; i < wanted.length; i += 100) {
    type Request = Record<
      string,
      { Keys: Record<string, unknown>[]; ConsistentRead: boolean; ProjectionExpression?: string }
    >;
    let request: Request | undefined = {
      [ctx.tableName]: {
        Keys: wanted.slice(i, i + 100),
        ConsistentRead: true,
        ...(projection === undefined ? {} : { ProjectionExpression: projection }),
      },
    };
    for (let attempt = 0; request !== undefined; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const result: BatchGetCommandOutput = await ctx.doc.send(
        new BatchGetCommand({ RequestItems: request }),
      );
      items.push(...(result.Responses?.[ctx.tableName] ?? []));
      const rest = result.UnprocessedKeys?.[ctx.tableName];
      request = rest?.Keys?.length ? ({ [ctx.tableName]: rest } as Request) : undefined;
    }
  }
  return items;
}

/** Deletes every item of a partition (after the pool item is gone). */
async function deletePartition(ctx: IpamContext, pk: string): Promise<void> {
  for await (const items of queryPages(ctx, {
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': pk },
    ProjectionExpression: 'pk, sk',
  })) {
    await batchWrite(
      ctx,
      items.map((item) => ({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } })),
    );
  }
}

/** BatchWriteItem in chunks of 25, unprocessed items retried. */
async function batchWrite(
  ctx: IpamContext,
  requests: readonly NonNullable<BatchWriteCommandInput['RequestItems']>[string][number][],
): Promise<void> {
  for (let i = 0; i < requests.length; i += 25) {
    let chunk = requests.slice(i, i + 25);
    for (let attempt = 0; chunk.length > 0; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      const result: BatchWriteCommandOutput = await ctx.doc.send(
        new BatchWriteCommand({ RequestItems: { [ctx.tableName]: chunk } }),
      );
      chunk = result.UnprocessedItems?.[ctx.tableName] ?? [];
    }
  }
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

// --- Writes and items --------------------------------------------------------------

/** The pool item's update of every structure change: `ver` + 1 on condition it is unchanged. */
function bumpPool(
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

function putFree(ctx: IpamContext, pool: Pool, block: Cidr): TransactItem {
  return {
    Put: {
      TableName: ctx.tableName,
      Item: freeItem(pool, block),
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}

function freeItem(pool: Pool, block: Cidr) {
  return { ...poolKeys.free(pool.id, block), type: 'poolFreeBlock', cidr: formatCidr(block) };
}

function foreignItem(pool: Pool, region: Cidr, subnetId: string, subnetCidr: Cidr) {
  return {
    ...poolKeys.used(pool.id, Kind.FOREIGN, region),
    type: 'poolForeignBlock',
    cidr: formatCidr(region),
    subnetId,
    subnetCidr: formatCidr(subnetCidr),
  };
}

/** Free blocks out, free blocks in. */
function replaceFree(
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

function failedAt(error: TransactionCanceled, index: number): boolean {
  return error.CancellationReasons?.[index]?.Code === 'ConditionalCheckFailed';
}

function conflictOf(error: SubnetOverlapError): Conflict {
  return {
    subnetId: String(error.details.conflictingSubnetId),
    cidr: String(error.details.conflictingCidr),
  };
}

function rootOf(pool: Pool, block: Cidr): Cidr | undefined {
  return pool.prefixes.find((prefix) => containsBlock(prefix, block));
}

function totalAddresses(pool: Pool): bigint {
  return pool.prefixes.reduce((sum, prefix) => sum + cidrSize(prefix), 0n);
}

function usageOf(pool: Pool): PoolUsage {
  return {
    totalAddresses: totalAddresses(pool).toString(),
    allocatedAddresses: pool.carvedAddresses.toString(),
  };
}

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

function toPoolItem(pool: Pool): PoolItem {
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

function fromPoolItem(item: Record<string, unknown>): Pool {
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

function poolView(pool: Pool): PoolView {
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
