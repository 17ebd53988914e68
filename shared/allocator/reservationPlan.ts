/**
 * The writes that reserve a request's candidates: per block, add the offsets on
 * condition that they are free (or take over expired leases); per shard, the
 * counter update; per address, the allocation item. Grouped so that a counter
 * always changes together with exactly the blocks it counts.
 */
import type { IpamContext } from '../store/context.js';
import { keys } from '../store/keys.js';
import { coolingAttribute, leaseAttribute } from '../subnets/blocks.js';
import { takeoverCondition } from '../subnets/holding.js';
import { inPools } from '../subnets/rules.js';
import type { Subnet } from '../subnets/subnet.js';
import type { Candidate } from './candidate.js';
import { allocationItem, type Details } from './items.js';
import { counterWrite, type PlannedWrite, tokenAttribute } from './writes.js';

/** DynamoDB's limit of items in one transaction. */
export const MAX_TRANSACTION_ITEMS = 100;

/**
 * Block updates of one shard with the counter update that counts them. A group is
 * never split across transactions, so a counter always changes together with
 * exactly the blocks it counts. A shard whose blocks do not fit one transaction
 * has several groups, each with its own counter delta.
 */
export interface ReservationGroup {
  readonly shard: number;
  readonly writes: PlannedWrite[];
}

export interface WritePlan {
  /** The reservation itself: groups of block updates and their counter update. */
  readonly reservation: ReservationGroup[];
  /** The allocation items. */
  readonly items: PlannedWrite[];
}

interface CounterDelta {
  n: number;
  p: number;
  l: number;
}

/** Plans the reservation of `candidates` by request `token` at `nowMs`. */
export function planWrites(
  ctx: IpamContext,
  subnet: Subnet,
  candidates: readonly Candidate[],
  details: Details,
  token: string,
  nowMs: number,
): WritePlan {
  const nowSeconds = Math.floor(nowMs / 1000);
  const byBlock = new Map<bigint, Candidate[]>();
  for (const candidate of candidates) {
    byBlock.set(candidate.pos.block, [...(byBlock.get(candidate.pos.block) ?? []), candidate]);
  }
  const blocksByShard = new Map<number, { write: PlannedWrite; delta: CounterDelta }[]>();
  const leased = details.expiry !== null;
  // A lease under a cool-down is held until its expiry plus the delay (see leaseWrite).
  const delay = subnet.reuseDelaySeconds;
  for (const [block, group] of byBlock) {
    const shard = group[0]!.pos.shard;
    const values: Record<string, unknown> = { ':token': token };
    const conditions: string[] = [];
    const sets: string[] = [];
    const removes: string[] = [];
    const added: number[] = [];
    const delta: CounterDelta = { n: 0, p: 0, l: 0 };
    for (const candidate of group) {
      const offset = candidate.pos.offset;
      const lease = leaseAttribute(offset);
      values[`:o${offset}`] = offset;
      if (candidate.reclaim) {
        values[':now'] = nowSeconds;
        conditions.push(`(contains(u, :o${offset}) AND ${lease} <= :now)`);
      } else {
        conditions.push(`NOT contains(u, :o${offset})`);
        added.push(offset);
      }
      const cooling = coolingAttribute(offset);
      if (leased && delay > 0) sets.push(`${lease} = :free`, `${cooling} = :expiry`);
      else if (leased) sets.push(`${lease} = :expiry`);
      else if (candidate.reclaim) removes.push(lease);
      // A taken-over offset may carry the mark of the cool-down that just ended.
      if (candidate.reclaim && !(leased && delay > 0)) removes.push(cooling);
      sets.push(`${tokenAttribute(offset)} = :token`);
      const wasLeased = candidate.reclaim ? 1 : 0;
      if (!candidate.reclaim) {
        delta.n += 1;
        delta.p += inPools(subnet.pools, candidate.value) ? 1 : 0;
      }
      delta.l += (leased ? 1 : 0) - wasLeased;
    }
    if (leased) values[':expiry'] = details.expiry;
    if (leased && delay > 0 && details.expiry !== null) values[':free'] = details.expiry + delay;
    if (added.length > 0) values[':added'] = new Set(added);
    const update = [
      sets.length > 0 ? `SET ${sets.join(', ')}` : '',
      added.length > 0 ? 'ADD u :added' : '',
      removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    const shardBlocksWrites = blocksByShard.get(shard) ?? [];
    blocksByShard.set(shard, shardBlocksWrites);
    shardBlocksWrites.push({
      delta,
      write: {
        kind: 'block',
        block,
        item: {
          Update: {
            TableName: ctx.tableName,
            Key: keys.block(subnet.id, shard, block),
            UpdateExpression: update,
            ConditionExpression: conditions.join(' AND '),
            ExpressionAttributeValues: values,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      },
    });
  }
  const reservation: ReservationGroup[] = [];
  for (const [shard, blocks] of blocksByShard) {
    // One transaction holds the counter and at most MAX_TRANSACTION_ITEMS - 1 blocks.
    for (let i = 0; i < blocks.length; i += MAX_TRANSACTION_ITEMS - 1) {
      const part = blocks.slice(i, i + MAX_TRANSACTION_ITEMS - 1);
      const sum = part.reduce(
        (total, { delta }) => ({
          n: total.n + delta.n,
          p: total.p + delta.p,
          l: total.l + delta.l,
        }),
        { n: 0, p: 0, l: 0 },
      );
      reservation.push({
        shard,
        writes: [
          ...part.map(({ write }) => write),
          counterWrite(ctx, subnet, shard, sum.n, sum.p, sum.l),
        ],
      });
    }
  }
  const items: PlannedWrite[] = candidates.map((candidate) => ({
    kind: 'item',
    value: candidate.value,
    item: {
      Put: {
        TableName: ctx.tableName,
        Item: allocationItem(subnet, candidate.value, details, nowMs, token),
        ...takeoverCondition(nowMs),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  }));
  return { reservation, items };
}

/**
 * Transactions of whole groups, each at most MAX_TRANSACTION_ITEMS items and at
 * most one group per shard (a transaction may not name the counter twice).
 */
export function packGroups(groups: readonly ReservationGroup[]): PlannedWrite[][] {
  const chunks: PlannedWrite[][] = [];
  let current: PlannedWrite[] = [];
  let shards = new Set<number>();
  for (const group of groups) {
    if (group.writes.length > MAX_TRANSACTION_ITEMS)
      throw new Error('a shard group exceeds one transaction');
    if (current.length + group.writes.length > MAX_TRANSACTION_ITEMS || shards.has(group.shard)) {
      chunks.push(current);
      current = [];
      shards = new Set();
    }
    current.push(...group.writes);
    shards.add(group.shard);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Transactions of at most MAX_TRANSACTION_ITEMS writes each, in order. */
export function chunk(writes: readonly PlannedWrite[]): PlannedWrite[][] {
  const chunks: PlannedWrite[][] = [];
  for (let i = 0; i < writes.length; i += MAX_TRANSACTION_ITEMS)
    chunks.push(writes.slice(i, i + MAX_TRANSACTION_ITEMS));
  return chunks;
}
