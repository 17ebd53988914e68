/**
 * Expired, not yet swept leases (and offsets in their release cool-down). An expired lease is free at once — the
 * allocator's condition expression says so — but its offset stays in its block
 * (`u`, `x<o>`), in its shard counter (`n`, `l`) and in its allocation item until a
 * reuse or the audit clears it. Usage and subnet delete look past them here.
 *
 * Cost: only shards whose counter holds leases (`l > 0`) are read, each with one
 * range query of its block items (paged; a /16 shard is 4 items, and a shard has
 * only the blocks that were ever used), in parallel. A subnet without leases costs
 * nothing more than its counters.
 */
import type { IpamContext } from '../store/context.js';
import { keys, PREFIX, parseBlockSort } from '../store/keys.js';
import { queryPages } from '../store/query.js';
import { type TransactItem, writeTransaction } from '../store/transactions.js';
import {
  type BlockState,
  blockFromItem,
  coolingAttribute,
  coolingUntil,
  leaseAttribute,
  offsetState,
} from './blocks.js';
import type { ShardCounter } from './counters.js';
import { addressAt, geometryOf } from './geometry.js';
import { notLiveCondition } from './holding.js';
import { inPools } from './rules.js';
import { address, type Subnet, type UsageCounts } from './subnet.js';

/** One expired lease as its block showed it. */
export interface ExpiredLease {
  readonly shard: number;
  readonly block: bigint;
  readonly offset: number;
  /** Its expiry as read (epoch seconds): the sweep's condition. */
  readonly expiry: number;
  readonly value: bigint;
  readonly inPool: boolean;
}

/** The block attribute naming the request that took an offset (allocator/writes.ts `tokenAttribute`). */
const tokenAttribute = (offset: number) => `t${offset}`;

/** Offsets one sweep transaction frees: it keeps the condition expression well under 4 KB. */
const SWEEP_CHUNK = 64;

/**
 * The offsets that are counted but held by nobody: expired leases, and offsets in
 * their release cool-down (QUARANTINED; `expiry` is then when it ends).
 */
export interface HeldAside {
  readonly expired: ExpiredLease[];
  readonly cooling: ExpiredLease[];
}

/**
 * The expired leases of the shards whose counter holds leases (`l > 0`), judged
 * at one instant (the context's clock).
 */
export async function expiredLeases(
  ctx: IpamContext,
  subnet: Subnet,
  counters: readonly ShardCounter[],
  consistent = false,
): Promise<ExpiredLease[]> {
  return (await heldAside(ctx, subnet, counters, consistent)).expired;
}

/**
 * The expired leases and the cooling offsets of the shards whose counter holds
 * leases (`l > 0`; a cool-down counts as one), judged at one instant.
 */
export async function heldAside(
  ctx: IpamContext,
  subnet: Subnet,
  counters: readonly ShardCounter[],
  consistent = false,
): Promise<HeldAside> {
  const g = geometryOf(subnet.cidr);
  const now = Math.floor(ctx.now() / 1000);
  const perShard = new Map<number, { expired: ExpiredLease[]; cooling: ExpiredLease[] }>();
  await forEachLeasedBlock(ctx, subnet, counters, consistent, (shard, state) => {
    const found = perShard.get(shard) ?? { expired: [], cooling: [] };
    perShard.set(shard, found);
    for (const [offset, expiry] of state.leases) {
      const expired = offsetState(state, offset, now) === 'expired';
      if (!expired && coolingUntil(state, offset, now) === undefined) continue;
      const value = addressAt(g, state.block, offset);
      (expired ? found.expired : found.cooling).push({
        shard,
        block: state.block,
        offset,
        expiry,
        value,
        inPool: inPools(subnet.pools, value),
      });
    }
  });
  // In shard order, as the counters are.
  const shards = [...perShard.entries()].sort(([a], [b]) => a - b).map(([, found]) => found);
  return {
    expired: shards.flatMap((found) => found.expired),
    cooling: shards.flatMap((found) => found.cooling),
  };
}

/**
 * Visits every block item of the shards whose counter holds leases (`l > 0`; a
 * cool-down counts as one), one range query per shard (paged), the shards in
 * parallel and each shard's blocks one after another.
 */
export async function forEachLeasedBlock(
  ctx: IpamContext,
  subnet: Subnet,
  counters: readonly ShardCounter[],
  consistent: boolean,
  visit: (
    shard: number,
    state: BlockState,
    item: Readonly<Record<string, unknown>>,
  ) => void | Promise<void>,
): Promise<void> {
  await Promise.all(
    counters
      .filter((counter) => counter.l > 0)
      .map(async ({ shard }) => {
        for await (const items of queryPages(ctx, {
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :block)',
          ExpressionAttributeValues: {
            ':pk': keys.shardPartition(subnet.id, shard),
            ':block': PREFIX.block,
          },
          ConsistentRead: consistent,
        })) {
          for (const item of items) {
            await visit(shard, blockFromItem(parseBlockSort(String(item.sk)), item), item);
          }
        }
      }),
  );
}

/**
 * The usage counts without the expired leases and the cooling offsets (those in
 * the pools are `quarantined`). The counters and the blocks are read at slightly
 * different moments, so each shard's result is kept within 0…n.
 */
export function liveCounts(
  counters: readonly ShardCounter[],
  expired: readonly ExpiredLease[],
  cooling: readonly ExpiredLease[] = [],
): UsageCounts {
  const gone = new Map<number, { n: number; p: number }>();
  for (const lease of [...expired, ...cooling]) {
    const shard = gone.get(lease.shard) ?? { n: 0, p: 0 };
    shard.n++;
    if (lease.inPool) shard.p++;
    gone.set(lease.shard, shard);
  }
  let all = 0n;
  let inPoolsCount = 0n;
  for (const counter of counters) {
    const shard = gone.get(counter.shard) ?? { n: 0, p: 0 };
    all += BigInt(Math.max(0, counter.n - Math.min(shard.n, counter.l)));
    inPoolsCount += BigInt(Math.max(0, counter.p - Math.min(shard.p, counter.l)));
  }
  const quarantined = BigInt(cooling.filter((offset) => offset.inPool).length);
  return cooling.length === 0
    ? { all, inPools: inPoolsCount }
    : { all, inPools: inPoolsCount, quarantined };
}

/**
 * A subnet's usage as API.md means it: live allocations only, expired leases
 * excluded, addresses in their cool-down counted apart (`quarantined`).
 */
export async function liveUsage(
  ctx: IpamContext,
  subnet: Subnet,
  counters: readonly ShardCounter[],
): Promise<UsageCounts> {
  const { expired, cooling } = await heldAside(ctx, subnet, counters);
  return liveCounts(counters, expired, cooling);
}

/**
 * Frees expired leases exactly as read: per block (at most SWEEP_CHUNK offsets a
 * transaction), the offsets leave the block on condition that each still holds
 * that very expiry — a reuse, a renewal or the audit that came first changes or
 * removes it, and then nothing is written — their allocation items go on condition
 * that none is live, and the counter drops on condition that it is counted under
 * the subnet's configuration. True when every lease was freed; false when one had
 * changed (decide again from a fresh read).
 */
export async function sweepExpiredLeases(
  ctx: IpamContext,
  subnet: Subnet,
  leases: readonly ExpiredLease[],
): Promise<boolean> {
  const byBlock = new Map<string, ExpiredLease[]>();
  for (const lease of leases) {
    const id = `${lease.shard}/${lease.block}`;
    byBlock.set(id, [...(byBlock.get(id) ?? []), lease]);
  }
  const chunks: ExpiredLease[][] = [];
  for (const group of byBlock.values()) {
    for (let i = 0; i < group.length; i += SWEEP_CHUNK)
      chunks.push(group.slice(i, i + SWEEP_CHUNK));
  }
  // One after another: two transactions on one block at once would conflict.
  for (const chunk of chunks) if (!(await sweepChunk(ctx, subnet, chunk))) return false;
  return true;
}

/** One transaction freeing expired leases of one block (see sweepExpiredLeases). */
async function sweepChunk(
  ctx: IpamContext,
  subnet: Subnet,
  leases: readonly ExpiredLease[],
): Promise<boolean> {
  const first = leases[0];
  if (first === undefined) return true;
  const conditions: string[] = [];
  const removes: string[] = [];
  const values: Record<string, unknown> = { ':offsets': new Set(leases.map((l) => l.offset)) };
  for (const { offset, expiry } of leases) {
    conditions.push(`contains(u, :o${offset}) AND ${leaseAttribute(offset)} = :x${offset}`);
    removes.push(leaseAttribute(offset), tokenAttribute(offset), coolingAttribute(offset));
    values[`:o${offset}`] = offset;
    values[`:x${offset}`] = expiry;
  }
  const items: TransactItem[] = [
    {
      Update: {
        TableName: ctx.tableName,
        Key: keys.block(subnet.id, first.shard, first.block),
        UpdateExpression: `DELETE u :offsets REMOVE ${removes.join(', ')}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeValues: values,
      },
    },
    ...leases.map(
      (lease): TransactItem => ({
        Delete: {
          TableName: ctx.tableName,
          Key: keys.allocation(subnet.id, lease.shard, address(subnet.cidr.version, lease.value)),
          ...notLiveCondition(ctx.now()),
        },
      }),
    ),
    {
      Update: {
        TableName: ctx.tableName,
        Key: keys.counter(subnet.id, first.shard),
        UpdateExpression: 'ADD n :n, p :p, l :l, ver :one',
        ConditionExpression: 'pv = :pv',
        ExpressionAttributeValues: {
          ':n': -leases.length,
          ':p': -leases.filter((lease) => lease.inPool).length,
          ':l': -leases.length,
          ':one': 1,
          ':pv': subnet.configVersion,
        },
      },
    },
  ];
  // Refused (or, after a lost answer, maybe our own earlier attempt): the caller reads again.
  return (await writeTransaction(ctx, items)).canceled === undefined;
}
