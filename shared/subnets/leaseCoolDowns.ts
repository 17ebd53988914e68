/**
 * A PATCH of `reuseDelaySeconds` and the leases running at that moment. A lease's
 * block entry holds the end of its cool-down in advance (`x<o>` = expiry + delay,
 * `q<o>` = expiry; see blocks.ts), written when the lease was set. API.md wants the
 * delay in force when the lease *expires*, so after the PATCH's fenced commit every
 * lease that expires after it is rewritten to the new delay: the end of a cool-down
 * that has not begun yet moves, one that has begun (a release, a lease that expired
 * before) stays.
 *
 * Safe beside other writers: each block update conditions on the very entries it
 * read (a renewal, release or takeover since then changes them: the block is read
 * again and judged anew — a renewal after the fence already wrote the new delay), and
 * on the subnet's `configVersion` being the PATCH's own, so a later PATCH's rewrite
 * is never undone by this one. Counters do not change: the offsets stay taken and
 * leased. Cost: only shards whose counter holds leases are read (as usage does).
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { IpamContext } from '../store/context.js';
import { keys } from '../store/keys.js';
import { RETRY } from '../store/retry.js';
import { TTL_ATTRIBUTE } from '../store/table.js';
import { type TransactItem, writeTransaction } from '../store/transactions.js';
import { type BlockState, blockFromItem, coolingAttribute, leaseAttribute } from './blocks.js';
import { storedCounters } from './counters.js';
import { addressAt, geometryOf } from './geometry.js';
import { forEachLeasedBlock } from './leases.js';
import { address, type Subnet } from './subnet.js';

/** Offsets one block update rewrites: keeps its condition expression well under 4 KB. */
const CHUNK = 32;

/** One lease's block entry before and after the new delay. */
interface Move {
  readonly offset: number;
  /** The request that took the offset (`t<o>`): its allocation item moves with the block. */
  readonly token: string | undefined;
  readonly x: number;
  readonly q: number | undefined;
  readonly nextX: number;
  readonly nextQ: number | undefined;
}

/**
 * Rewrites the cool-downs of the leases of `subnet` (as PATCHed) that expire at or
 * after `sinceSeconds` (just after the PATCH committed) to its delay.
 */
export async function moveLeaseCoolDowns(
  ctx: IpamContext,
  subnet: Subnet,
  sinceSeconds: number,
): Promise<void> {
  const shardCount = geometryOf(subnet.cidr).shardCount;
  const counters = await storedCounters(
    ctx,
    subnet.id,
    Array.from({ length: shardCount }, (_, shard) => shard),
    true,
  );
  await forEachLeasedBlock(ctx, subnet, [...counters.values()], true, (shard, state, item) =>
    moveBlock(ctx, subnet, shard, state, item, sinceSeconds),
  );
}

/** The leases of a block whose cool-down is still to begin, with their new entries. */
function movesOf(
  state: BlockState,
  tokens: ReadonlyMap<number, string>,
  delay: number,
  sinceSeconds: number,
): Move[] {
  const moves: Move[] = [];
  for (const [offset, x] of state.leases) {
    if (!state.used.has(offset)) continue;
    const q = state.cooling.get(offset);
    // With a delay the expiry is `q<o>`; without one it is `x<o>` itself.
    const expiry = q ?? x;
    if (expiry < sinceSeconds) continue;
    const nextX = expiry + delay;
    const nextQ = delay > 0 ? expiry : undefined;
    if (nextX !== x || nextQ !== q) {
      moves.push({ offset, token: tokens.get(offset), x, q, nextX, nextQ });
    }
  }
  return moves;
}

async function moveBlock(
  ctx: IpamContext,
  subnet: Subnet,
  shard: number,
  read: BlockState,
  readItem: Readonly<Record<string, unknown>>,
  sinceSeconds: number,
): Promise<void> {
  const key = keys.block(subnet.id, shard, read.block);
  let state = read;
  let tokens = tokensOf(readItem);
  // Offsets (with the token) whose request has no allocation item of its own: a
  // multi-step request between its reservation and its items, or crash residue the
  // audit frees later. Their block entries still move; the item is not theirs to move,
  // and its condition would refuse every attempt of the whole chunk.
  const itemless = new Set<string>();
  for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
    const moves = movesOf(state, tokens, subnet.reuseDelaySeconds, sinceSeconds);
    let changed = false;
    for (let start = 0; start < moves.length && !changed; start += CHUNK) {
      const chunk = moves.slice(start, start + CHUNK);
      for (;;) {
        const withItem = chunk.filter(
          (move) => move.token !== undefined && !itemless.has(`${move.offset}/${move.token}`),
        );
        const outcome = await writeTransaction(ctx, [
          blockUpdate(ctx, key, chunk),
          {
            ConditionCheck: {
              TableName: ctx.tableName,
              Key: keys.subnet(subnet.id),
              ConditionExpression: 'configVersion = :cv',
              ExpressionAttributeValues: { ':cv': subnet.configVersion },
            },
          },
          ...withItem.map((move) => itemUpdate(ctx, subnet, shard, read.block, move)),
        ]);
        if (outcome.canceled === undefined) break;
        const reasons = outcome.canceled.CancellationReasons ?? [];
        // A later PATCH committed: its own rewrite decides from here.
        if (reasons[1]?.Code === 'ConditionalCheckFailed') return;
        let found = 0;
        withItem.forEach((move, index) => {
          if (reasons[index + 2]?.Code !== 'ConditionalCheckFailed') return;
          itemless.add(`${move.offset}/${move.token}`);
          found++;
        });
        // Only items that are not their offset's request's: the same chunk without them.
        const blockRefused = reasons[0]?.Code !== undefined && reasons[0].Code !== 'None';
        if (found > 0 && !blockRefused) continue;
        changed = true;
        break;
      }
    }
    if (!changed) return;
    // A lease of the block changed meanwhile (renewed, released, taken over): judge it again.
    const fresh = await ctx.doc.send(
      new GetCommand({ TableName: ctx.tableName, Key: key, ConsistentRead: true }),
    );
    state = blockFromItem(read.block, fresh.Item);
    tokens = tokensOf(fresh.Item ?? {});
  }
}

/** The request tokens of a block item's taken offsets (`t<o>`). */
function tokensOf(item: Readonly<Record<string, unknown>>): Map<number, string> {
  const tokens = new Map<number, string>();
  for (const [name, value] of Object.entries(item)) {
    if (/^t\d+$/.test(name) && typeof value === 'string') tokens.set(Number(name.slice(1)), value);
  }
  return tokens;
}

/**
 * The lease's allocation item moves with its block entry: it holds the address
 * until the same moment (`ttl` = `x<o>`, `coolFrom` = `q<o>`). On condition that
 * it is the item of the request that took the offset; the block's own condition
 * already says the lease is the one read.
 */
function itemUpdate(
  ctx: IpamContext,
  subnet: Subnet,
  shard: number,
  block: bigint,
  move: Move,
): TransactItem {
  const g = geometryOf(subnet.cidr);
  const ip = address(subnet.cidr.version, addressAt(g, block, move.offset));
  return {
    Update: {
      TableName: ctx.tableName,
      Key: keys.allocation(subnet.id, shard, ip),
      UpdateExpression:
        move.nextQ === undefined
          ? 'SET #ttl = :x, pv = :pv REMOVE coolFrom'
          : 'SET #ttl = :x, coolFrom = :q, pv = :pv',
      ConditionExpression: 'reqToken = :tok',
      ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
      ExpressionAttributeValues: {
        ':tok': move.token,
        ':x': move.nextX,
        // Its hold now follows the PATCH's delay: the configuration it is decided on.
        ':pv': subnet.configVersion,
        ...(move.nextQ === undefined ? {} : { ':q': move.nextQ }),
      },
    },
  };
}

function blockUpdate(
  ctx: IpamContext,
  key: Record<string, string>,
  moves: readonly Move[],
): TransactItem {
  const sets: string[] = [];
  const removes: string[] = [];
  const conditions: string[] = [];
  const values: Record<string, unknown> = {};
  for (const move of moves) {
    const lease = leaseAttribute(move.offset);
    const cooling = coolingAttribute(move.offset);
    values[`:x${move.offset}`] = move.x;
    values[`:nx${move.offset}`] = move.nextX;
    sets.push(`${lease} = :nx${move.offset}`);
    conditions.push(`${lease} = :x${move.offset}`);
    if (move.q === undefined) conditions.push(`attribute_not_exists(${cooling})`);
    else {
      values[`:q${move.offset}`] = move.q;
      conditions.push(`${cooling} = :q${move.offset}`);
    }
    if (move.nextQ === undefined) removes.push(cooling);
    else {
      values[`:nq${move.offset}`] = move.nextQ;
      sets.push(`${cooling} = :nq${move.offset}`);
    }
  }
  return {
    Update: {
      TableName: ctx.tableName,
      Key: key,
      UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeValues: values,
    },
  };
}
