/**
 * Usage counters, one item per shard: `n` taken offsets (live allocations, unswept
 * expired leases, release cool-downs), `p` of them inside the pools, `l` of them
 * with an `x<o>` (leases and cool-downs), `ver` bumped by every change, and `pv` the subnet
 * configVersion they were counted under. Allocation and release change a counter
 * in the same transaction as the block, so the counters are exact. A change of
 * pools or gateway moves every shard's `pv` in the transaction that changes the
 * subnet (configFence): to the new configVersion where nothing it counts changes,
 * else to a fenced value that no write can match until the shard is recounted.
 */
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  GetCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { AllocationContentionError, SubnetNotFoundError } from '../errors.js';
import type { IpamContext } from '../store/context.js';
import { keys, PREFIX, parseBlockSort, parseShardPartition } from '../store/keys.js';
import { queryPages } from '../store/query.js';
import {
  backoffMs,
  isConditionalCheckFailed,
  isRetryableAwsError,
  isRetryableCancellation,
  RETRY,
  sleep,
} from '../store/retry.js';
import { transactGet } from '../store/transactGet.js';
import type { TransactItem } from '../store/transactions.js';
import { blockFromItem } from './blocks.js';
import { addressAt, geometryOf, shardRange } from './geometry.js';
import { type AddressRange, clipPools, inPools } from './rules.js';
import type { Subnet, UsageCounts } from './subnet.js';

export interface ShardCounter {
  readonly shard: number;
  readonly n: number;
  readonly p: number;
  readonly l: number;
  readonly ver: number;
  readonly pv: number;
}

/** Thrown when a counter is newer than the subnet the caller holds: reload it. */
export class StaleSubnetError extends Error {
  override readonly name = 'StaleSubnetError';
}

export function newCounterItem(subnetId: string, shard: number, configVersion: number) {
  return { ...keys.counter(subnetId, shard), n: 0, p: 0, l: 0, ver: 0, pv: configVersion };
}

function counterFromItem(shard: number, item: Record<string, unknown>): ShardCounter {
  return {
    shard,
    n: Number(item.n ?? 0),
    p: Number(item.p ?? 0),
    l: Number(item.l ?? 0),
    ver: Number(item.ver ?? 0),
    pv: Number(item.pv ?? 0),
  };
}

/**
 * The `pv` of a shard fenced for a recount under `configVersion`. configVersions are
 * integers, so no allocation, release or audit repair (all conditional on
 * `pv = :configVersion`) can change the shard meanwhile — its blocks hold still for
 * the recount. It reads as older than `configVersion` (a reader of the new subnet
 * recounts the shard) and newer than the one before (a reader of the old subnet
 * reloads it: StaleSubnetError).
 */
export function fencedVersion(configVersion: number): number {
  return configVersion - 0.5;
}

/**
 * How the counters are read: eventually consistent, strongly consistent, or
 * `'atomic'` — all of them as of one instant (TransactGetItems). A BatchGet reads
 * each item at its own moment: a release in one shard read before it and an
 * allocation in another read after it would sum to "full" although an address was
 * free at every moment (test/unit/oneWriteShards.test.ts finds that order), so
 * "full" is decided on an atomic read.
 */
export type CounterRead = boolean | 'atomic';

/**
 * Reads every shard counter of a subnet (one BatchGet per 100 shards, or one
 * TransactGetItems of the ≤ 64), recounting any shard still counted under an older
 * configVersion (or fenced for a recount). A counter an eventually consistent read
 * does not find is read again consistently before the subnet is called gone: right
 * after a create, such a read may not see the counters yet.
 */
export async function readCounters(
  ctx: IpamContext,
  subnet: Subnet,
  read: CounterRead = false,
): Promise<ShardCounter[]> {
  const { shardCount } = geometryOf(subnet.cidr);
  const wanted = Array.from({ length: shardCount }, (_, shard) => shard);
  const consistent = read !== false;
  const found =
    read === 'atomic'
      ? await countersAtOnce(ctx, subnet.id, wanted)
      : await storedCounters(ctx, subnet.id, wanted, consistent);
  const missing = wanted.filter((shard) => !found.has(shard));
  if (missing.length > 0 && !consistent) {
    for (const [shard, counter] of await storedCounters(ctx, subnet.id, missing, true)) {
      found.set(shard, counter);
    }
  }
  const counters: ShardCounter[] = [];
  for (const shard of wanted) {
    const counter = found.get(shard);
    if (counter === undefined) throw new SubnetNotFoundError(subnet.id);
    if (counter.pv > subnet.configVersion) throw new StaleSubnetError(subnet.id);
    counters.push(
      counter.pv < subnet.configVersion ? await recountShard(ctx, subnet, shard) : counter,
    );
  }
  return counters;
}

/** The counters of `shards` (≤ 100) as of one instant; a missing counter is absent. */
async function countersAtOnce(
  ctx: IpamContext,
  subnetId: string,
  shards: readonly number[],
): Promise<Map<number, ShardCounter>> {
  const wanted = shards.map((shard) => keys.counter(subnetId, shard));
  let items: (Record<string, unknown> | undefined)[] | undefined;
  for (let attempt = 0; items === undefined; attempt++) {
    try {
      items = (await transactGet(ctx, wanted)).items;
    } catch (error) {
      // Cancelled while a transaction is writing one of them (TransactionConflict).
      if (!isRetryableCancellation(error) && !isRetryableAwsError(error)) throw error;
      if (attempt + 1 >= RETRY.attempts) {
        throw new AllocationContentionError(
          `The usage counters of subnet ${subnetId} are changing under concurrent requests; retry shortly.`,
        );
      }
      await sleep(backoffMs(attempt));
    }
  }
  const found = new Map<number, ShardCounter>();
  for (const [i, item] of items.entries()) {
    const shard = shards[i];
    if (item !== undefined && shard !== undefined) found.set(shard, counterFromItem(shard, item));
  }
  return found;
}

/** The counters of `shards` as stored (no recount), by shard; a missing counter is absent. */
export async function storedCounters(
  ctx: IpamContext,
  subnetId: string,
  shards: readonly number[],
  consistent: boolean,
): Promise<Map<number, ShardCounter>> {
  const found = new Map<number, ShardCounter>();
  for (let i = 0; i < shards.length; i += 100) {
    let request:
      | Record<string, { Keys: Record<string, unknown>[]; ConsistentRead: boolean }>
      | undefined = {
      [ctx.tableName]: {
        Keys: shards.slice(i, i + 100).map((shard) => keys.counter(subnetId, shard)),
        ConsistentRead: consistent,
      },
    };
    for (let attempt = 0; request !== undefined; attempt++) {
      const result: BatchGetCommandOutput = await ctx.doc.send(
        new BatchGetCommand({ RequestItems: request }),
      );
      for (const item of result.Responses?.[ctx.tableName] ?? []) {
        const shard = parseShardPartition(String(item.pk));
        found.set(shard, counterFromItem(shard, item));
      }
      const rest = result.UnprocessedKeys?.[ctx.tableName];
      request = rest?.Keys?.length
        ? { [ctx.tableName]: { Keys: rest.Keys, ConsistentRead: consistent } }
        : undefined;
      if (request !== undefined) await sleep(backoffMs(attempt));
    }
  }
  return found;
}

/** The counter writes that fence a configuration change, and the shards left to recount. */
export interface ConfigFence {
  readonly writes: TransactItem[];
  readonly recount: number[];
}

/**
 * The counter writes that go in the transaction changing a subnet's pools or
 * gateway from `current` to `next`, so that from its commit on nothing is counted
 * or allocated under the superseded configuration (an allocator that read it fails
 * its `pv` condition and reloads):
 *
 * - a shard whose pools are unchanged, and whose counter is exact under `current`
 *   (`stored` read `pv = current.configVersion`), moves straight to the new
 *   configVersion on condition it still is: it counts the same under both (the
 *   gateway lies outside the pools in both, so it counts in no `p`);
 * - any other shard is fenced (fencedVersion) and recounted after the commit.
 */
export function configFence(
  ctx: IpamContext,
  current: Subnet,
  next: Subnet,
  stored: ReadonlyMap<number, ShardCounter>,
): ConfigFence {
  const g = geometryOf(next.cidr);
  const writes: TransactItem[] = [];
  const recount: number[] = [];
  for (let shard = 0; shard < g.shardCount; shard++) {
    const key = keys.counter(next.id, shard);
    const { start, end } = shardRange(g, shard);
    const same =
      stored.get(shard)?.pv === current.configVersion &&
      sameRanges(clipPools(current.pools, start, end), clipPools(next.pools, start, end));
    if (same) {
      writes.push({
        Update: {
          TableName: ctx.tableName,
          Key: key,
          UpdateExpression: 'SET pv = :next',
          ConditionExpression: 'pv = :current',
          ExpressionAttributeValues: {
            ':next': next.configVersion,
            ':current': current.configVersion,
          },
        },
      });
    } else {
      recount.push(shard);
      // Unconditional: whatever the shard held, its recount starts from its blocks.
      writes.push({
        Update: {
          TableName: ctx.tableName,
          Key: key,
          UpdateExpression: 'SET pv = :fenced, ver = if_not_exists(ver, :zero)',
          ExpressionAttributeValues: { ':fenced': fencedVersion(next.configVersion), ':zero': 0 },
        },
      });
    }
  }
  return { writes, recount };
}

function sameRanges(a: readonly AddressRange[], b: readonly AddressRange[]): boolean {
  return (
    a.length === b.length &&
    a.every((range, i) => range.start === b[i]?.start && range.end === b[i]?.end)
  );
}

export function sumCounters(counters: readonly ShardCounter[]): UsageCounts {
  let all = 0n;
  let inPools = 0n;
  for (const counter of counters) {
    all += BigInt(counter.n);
    inPools += BigInt(counter.p);
  }
  return { all, inPools };
}

/**
 * Recounts one shard from its blocks under the subnet's current pools. The write
 * is conditional on the counter as read (`pv`, `ver`). A shard fenced for this
 * recount (fencedVersion) cannot change meanwhile, so the recount lands at its
 * first try however busy the shard is; any other shard counted under an older
 * configuration (left by a change made before configFence existed) retries when
 * an allocation lands between its read and its write.
 */
export async function recountShard(
  ctx: IpamContext,
  subnet: Subnet,
  shard: number,
): Promise<ShardCounter> {
  const g = geometryOf(subnet.cidr);
  const key = keys.counter(subnet.id, shard);
  for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
    const current = await ctx.doc.send(
      new GetCommand({ TableName: ctx.tableName, Key: key, ConsistentRead: true }),
    );
    if (current.Item === undefined) throw new SubnetNotFoundError(subnet.id);
    const counter = counterFromItem(shard, current.Item);
    if (counter.pv === subnet.configVersion) return counter;
    if (counter.pv > subnet.configVersion) throw new StaleSubnetError(subnet.id);
    let n = 0;
    let p = 0;
    let l = 0;
    for await (const items of queryPages(ctx, {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :block)',
      ExpressionAttributeValues: { ':pk': key.pk, ':block': PREFIX.block },
      ConsistentRead: true,
    })) {
      for (const item of items) {
        const state = blockFromItem(parseBlockSort(String(item.sk)), item);
        for (const offset of state.used) {
          n++;
          if (inPools(subnet.pools, addressAt(g, state.block, offset))) p++;
          if (state.leases.has(offset)) l++;
        }
      }
    }
    try {
      await ctx.doc.send(
        new UpdateCommand({
          TableName: ctx.tableName,
          Key: key,
          UpdateExpression: 'SET n = :n, p = :p, l = :l, pv = :pv, ver = :next',
          ConditionExpression: 'pv = :read AND ver = :ver',
          ExpressionAttributeValues: {
            ':n': n,
            ':p': p,
            ':l': l,
            ':pv': subnet.configVersion,
            ':read': counter.pv,
            ':ver': counter.ver,
            ':next': counter.ver + 1,
          },
        }),
      );
      return { shard, n, p, l, ver: counter.ver + 1, pv: subnet.configVersion };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      await sleep(backoffMs(attempt));
    }
  }
  throw new AllocationContentionError(
    `Usage of subnet ${subnet.id} could not be recounted while allocations kept changing it; retry.`,
  );
}
