/**
 * Usage counters, one item per shard: `n` live allocations, `p` of them inside the
 * pools, `l` of them leases, `ver` bumped by every change, and `pv` the subnet
 * configVersion they were counted under. Allocation and release change a counter
 * in the same transaction as the block, so the counters are exact; after a pool
 * change a shard is recounted from its blocks before it is used again.
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
import { backoffMs, isConditionalCheckFailed, RETRY, sleep } from '../store/retry.js';
import { blockFromItem } from './blocks.js';
import { addressAt, geometryOf } from './geometry.js';
import { inPools } from './rules.js';
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
 * Reads every shard counter of a subnet (one BatchGet per 100 shards), recounting
 * any shard still counted under an older configVersion.
 */
export async function readCounters(
  ctx: IpamContext,
  subnet: Subnet,
  consistent = false,
): Promise<ShardCounter[]> {
  const { shardCount } = geometryOf(subnet.cidr);
  const wanted = Array.from({ length: shardCount }, (_, shard) => shard);
  const found = new Map<number, ShardCounter>();
  for (let i = 0; i < wanted.length; i += 100) {
    let request:
      | Record<string, { Keys: Record<string, unknown>[]; ConsistentRead: boolean }>
      | undefined = {
      [ctx.tableName]: {
        Keys: wanted.slice(i, i + 100).map((shard) => keys.counter(subnet.id, shard)),
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
 * is conditional on `ver`, so an allocation that lands meanwhile makes it retry.
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
          ConditionExpression: 'ver = :ver',
          ExpressionAttributeValues: {
            ':n': n,
            ':p': p,
            ':l': l,
            ':pv': subnet.configVersion,
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
