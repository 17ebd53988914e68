/**
 * The writes that reserve a request's candidates: per block, add the offsets on
 * condition that they are free (or take over expired leases); per shard, the
 * counter update; per address, the allocation item. Grouped so that a counter
 * always changes together with exactly the blocks it counts.
 */
import type { IpamContext } from '../store/context.js';
import { keys } from '../store/keys.js';
import { leaseAttribute } from '../subnets/blocks.js';
import { inPools } from '../subnets/rules.js';
import type { Subnet } from '../subnets/subnet.js';
import type { Candidate } from './candidate.js';
import { allocationItem, type Details } from './items.js';
import { counterWrite, type PlannedWrite, tokenAttribute } from './writes.js';

/** DynamoDB's limit of items in one transaction. */
export const MAX_TRANSACTION_ITEMS = 100;

export interface WritePlan {
  /**
   * The reservation itself, one group per shard: its block updates and its counter
   * update. A group is never split across transactions, so a counter always
   * changes together with exactly the blocks it counts.
   */
  readonly reservation: PlannedWrite[][];
  /** The allocation items. */
  readonly items: PlannedWrite[];
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
  const blocksByShard = new Map<number, PlannedWrite[]>();
  const deltas = new Map<number, { n: number; p: number; l: number }>();
  const leased = details.expiry !== null;
  for (const [block, group] of byBlock) {
    const shard = group[0]!.pos.shard;
    const values: Record<string, unknown> = { ':token': token };
    const conditions: string[] = [];
    const sets: string[] = [];
    const removes: string[] = [];
    const added: number[] = [];
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
      if (leased) sets.push(`${lease} = :expiry`);
      else if (candidate.reclaim) removes.push(lease);
      sets.push(`${tokenAttribute(offset)} = :token`);
      const delta = deltas.get(shard) ?? { n: 0, p: 0, l: 0 };
      const wasLeased = candidate.reclaim ? 1 : 0;
      if (!candidate.reclaim) {
        delta.n += 1;
        delta.p += inPools(subnet.pools, candidate.value) ? 1 : 0;
      }
      delta.l += (leased ? 1 : 0) - wasLeased;
      deltas.set(shard, delta);
    }
    if (leased) values[':expiry'] = details.expiry;
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
    });
  }
  const reservation = [...blocksByShard].map(([shard, blocks]) => {
    const delta = deltas.get(shard)!;
    return [...blocks, counterWrite(ctx, subnet, shard, delta.n, delta.p, delta.l)];
  });
  const items: PlannedWrite[] = candidates.map((candidate) => ({
    kind: 'item',
    value: candidate.value,
    item: {
      Put: {
        TableName: ctx.tableName,
        Item: allocationItem(subnet, candidate.value, details, nowMs, token),
        ConditionExpression: 'attribute_not_exists(pk) OR #ttl <= :now',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':now': nowSeconds },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  }));
  return { reservation, items };
}

/** Transactions of whole groups, each at most MAX_TRANSACTION_ITEMS items. */
export function packGroups(groups: readonly PlannedWrite[][]): PlannedWrite[][] {
  const chunks: PlannedWrite[][] = [];
  let current: PlannedWrite[] = [];
  for (const group of groups) {
    if (group.length > MAX_TRANSACTION_ITEMS)
      throw new Error('a shard group exceeds one transaction');
    if (current.length + group.length > MAX_TRANSACTION_ITEMS) {
      chunks.push(current);
      current = [];
    }
    current.push(...group);
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
