/**
 * The TransactWriteItems entries the allocator's changes are built from: the shard
 * counter update, a release (with its release note), a lease renewal, and the
 * condition that an item is unchanged. Each is tagged with what it is about
 * (PlannedWrite), so a cancellation reason can be read back.
 */
import type { IpamContext, Who } from '../store/context.js';
import { keys } from '../store/keys.js';
import { TTL_ATTRIBUTE } from '../store/table.js';
import type { TransactItem } from '../store/transactions.js';
import { coolingAttribute, leaseAttribute } from '../subnets/blocks.js';
import type { Position } from '../subnets/geometry.js';
import { inPools } from '../subnets/rules.js';
import { address, type Subnet } from '../subnets/subnet.js';
import { type AllocationItem, newRevision } from './items.js';

/** A write with what it is about, so a cancellation reason can be read back. */
export type PlannedWrite =
  | { readonly kind: 'block'; readonly block: bigint; readonly item: TransactItem }
  | { readonly kind: 'item'; readonly value: bigint; readonly item: TransactItem }
  | { readonly kind: 'counter'; readonly item: TransactItem }
  /** Unconditional: it never cancels a transaction. */
  | { readonly kind: 'note'; readonly item: TransactItem };

/** Two days: longer than the stream keeps a record (24 h). */
const RELEASE_NOTE_SECONDS = 2 * 24 * 3600;

/**
 * The note a deletion of a live allocation item writes in its transaction, for the
 * history: the stream's REMOVE carries only the item as it was, so the processor
 * reads who released it, and when, here (`releasedBy`, `releasedAt`, `requestId`). It outlives the stream's
 * 24 h retention, so a late or redelivered REMOVE still finds it; then the table's
 * TTL removes it. `allocationSort` and `reqToken` are the deleted item's.
 */
export function releaseNoteWrite(
  ctx: IpamContext,
  subnetId: string,
  allocationSort: string,
  reqToken: string,
  who: Who,
): TransactItem {
  return {
    Put: {
      TableName: ctx.tableName,
      Item: {
        ...keys.releaseNote(subnetId, allocationSort, reqToken),
        type: 'releaseNote',
        releasedBy: who.actor,
        // To the millisecond: the stream dates the REMOVE in whole seconds.
        releasedAt: new Date(ctx.now()).toISOString(),
        ...(who.requestId === null ? {} : { requestId: who.requestId }),
        [TTL_ATTRIBUTE]: Math.floor(ctx.now() / 1000) + RELEASE_NOTE_SECONDS,
      },
    },
  };
}

/** The note that a multi-step request was undone (keys.undoneRequestNote; outlives the stream). */
export function undoneRequestNote(
  ctx: IpamContext,
  subnetId: string,
  token: string,
  who: Who,
): TransactItem {
  return {
    Put: {
      TableName: ctx.tableName,
      Item: {
        ...keys.undoneRequestNote(subnetId, token),
        type: 'undoneRequestNote',
        undoneBy: who.actor,
        undoneAt: new Date(ctx.now()).toISOString(),
        [TTL_ATTRIBUTE]: Math.floor(ctx.now() / 1000) + RELEASE_NOTE_SECONDS,
      },
    },
  };
}

/** The block attribute naming the request that took offset `offset` (undos match it). */
export const tokenAttribute = (offset: number) => `t${offset}`;

/**
 * Adds `n` allocations (`p` of them in the pools, `l` leases) to a shard counter, on
 * condition that it is counted under the subnet configuration the request used.
 */
export function counterWrite(
  ctx: IpamContext,
  subnet: Subnet,
  shard: number,
  n: number,
  p: number,
  l: number,
): PlannedWrite {
  return {
    kind: 'counter',
    item: {
      Update: {
        TableName: ctx.tableName,
        Key: keys.counter(subnet.id, shard),
        UpdateExpression: 'ADD n :n, p :p, l :l, ver :one',
        // The counter must exist (the subnet was not deleted) and be counted under
        // the configuration this request used (pools and gateway unchanged).
        ConditionExpression: 'pv = :pv',
        ExpressionAttributeValues: {
          ':n': n,
          ':p': p,
          ':l': l,
          ':one': 1,
          ':pv': subnet.configVersion,
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  };
}

/**
 * The condition that an allocation item is still exactly as read: the same request
 * wrote it, its lease is the same and no change (PATCH) came since, so nothing
 * decided from that read — a lease counted or not, an owner checked — can be
 * applied over a newer state.
 */
export function unchangedSince(item: AllocationItem) {
  const conditions = ['reqToken = :token'];
  const values: Record<string, unknown> = { ':token': item.reqToken };
  if (item.ttl === undefined) conditions.push('attribute_not_exists(#ttl)');
  else {
    conditions.push('#ttl = :ttl');
    values[':ttl'] = item.ttl;
  }
  if (item.rev === undefined) conditions.push('attribute_not_exists(rev)');
  else {
    conditions.push('rev = :rev');
    values[':rev'] = item.rev;
  }
  return {
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: { '#ttl': 'ttl' },
    ExpressionAttributeValues: values,
  };
}

/**
 * Releases the item as read: its offset leaves the block and the counter. A
 * guarded release (`owner`) also states the owner in the item's condition. Under
 * a cool-down (the subnet's `reuseDelaySeconds` > 0) the item is not deleted but
 * turned into a tombstone that holds the address until the cool-down ends and
 * names the releaser; otherwise it is deleted and, with `who`, the same
 * transaction writes the release note that names the releaser (one more item);
 * without, none (the history's actor is then "unknown" either way).
 */
export function releaseWrites(
  ctx: IpamContext,
  subnet: Subnet,
  pos: Position,
  value: bigint,
  current: AllocationItem,
  owner?: string,
  who?: Who,
): PlannedWrite[] {
  const ip = address(subnet.cidr.version, value);
  const leased = current.ttl !== undefined;
  const unchanged = unchangedSince(current);
  const condition =
    owner === undefined
      ? unchanged
      : {
          ConditionExpression: `${unchanged.ConditionExpression} AND #owner = :owner`,
          ExpressionAttributeNames: { ...unchanged.ExpressionAttributeNames, '#owner': 'owner' },
          ExpressionAttributeValues: { ...unchanged.ExpressionAttributeValues, ':owner': owner },
        };
  const key = keys.allocation(subnet.id, pos.shard, ip);
  const cooled = subnet.reuseDelaySeconds > 0;
  // One reading of the clock: the tombstone and the block hold the address until the same second.
  const nowMs = ctx.now();
  return [
    {
      kind: 'item',
      value,
      item: cooled
        ? tombstoneWrite(ctx, key, subnet.reuseDelaySeconds, nowMs, condition, who)
        : { Delete: { TableName: ctx.tableName, Key: key, ...condition } },
    },
    releaseBlockWrite(ctx, subnet, pos, nowMs),
    releaseCounterWrite(ctx, subnet, pos, value, leased),
    ...(who === undefined || cooled
      ? []
      : [
          {
            kind: 'note' as const,
            item: releaseNoteWrite(ctx, subnet.id, keys.allocationSort(ip), current.reqToken, who),
          },
        ]),
  ];
}

/**
 * The item side of a release under a cool-down: the item becomes a tombstone —
 * `releasedAt` (and `releasedBy`, `requestId` of the releaser, for the history),
 * held until now + the delay (`ttl`, `coolFrom`), out of the owner index — so the
 * item alone says the address is cooling down, and the TTL removes it after.
 */
function tombstoneWrite(
  ctx: IpamContext,
  key: Record<string, string>,
  delaySeconds: number,
  nowMs: number,
  condition: {
    ConditionExpression: string;
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues: Record<string, unknown>;
  },
  who: Who | undefined,
): TransactItem {
  const now = Math.floor(nowMs / 1000);
  // A fresh `rev`: a tombstone is a change, so no write conditioned on the live item
  // as read (unchangedSince: a PATCH that read it before the release) can overwrite
  // it — its `ttl` alone may happen to equal the live item's (one written before
  // stage 1 held `ttl` = the lease's expiry, which can be the release + the delay).
  const sets = [
    'releasedAt = :releasedAt',
    '#ttl = :free',
    'coolFrom = :coolFrom',
    'rev = :tombstoneRev',
  ];
  const removes = ['gsi1pk', 'gsi1sk'];
  const values: Record<string, unknown> = {
    ...condition.ExpressionAttributeValues,
    ':releasedAt': new Date(nowMs).toISOString(),
    ':free': now + delaySeconds,
    ':coolFrom': now,
    ':tombstoneRev': newRevision(),
  };
  if (who === undefined) removes.push('releasedBy');
  else {
    sets.push('releasedBy = :releasedBy');
    values[':releasedBy'] = who.actor;
  }
  if (who?.requestId == null) removes.push('requestId');
  else {
    sets.push('requestId = :requestId');
    values[':requestId'] = who.requestId;
  }
  return {
    Update: {
      TableName: ctx.tableName,
      Key: key,
      UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
      ConditionExpression: condition.ConditionExpression,
      ExpressionAttributeNames: { ...condition.ExpressionAttributeNames, '#ttl': TTL_ATTRIBUTE },
      ExpressionAttributeValues: values,
    },
  };
}

/**
 * The block side of a release: the offset leaves the block — or, under a release
 * cool-down (`reuseDelaySeconds` > 0, as the subnet says at release time), stays in
 * `u` with `x<o>` = when it becomes free and `q<o>` = now (see subnets/blocks.ts), so
 * every picker and condition holds it until then and takes it over as an expired
 * lease after.
 */
function releaseBlockWrite(
  ctx: IpamContext,
  subnet: Subnet,
  pos: Position,
  nowMs: number,
): PlannedWrite {
  const lease = leaseAttribute(pos.offset);
  const cooling = coolingAttribute(pos.offset);
  const token = tokenAttribute(pos.offset);
  const now = Math.floor(nowMs / 1000);
  const update =
    subnet.reuseDelaySeconds > 0
      ? {
          UpdateExpression: `SET ${lease} = :free, ${cooling} = :now REMOVE ${token}`,
          ExpressionAttributeValues: {
            ':o': pos.offset,
            ':free': now + subnet.reuseDelaySeconds,
            ':now': now,
          },
        }
      : {
          UpdateExpression: `DELETE u :offset REMOVE ${lease}, ${token}, ${cooling}`,
          ExpressionAttributeValues: { ':offset': new Set([pos.offset]), ':o': pos.offset },
        };
  return {
    kind: 'block',
    block: pos.block,
    item: {
      Update: {
        TableName: ctx.tableName,
        Key: keys.block(subnet.id, pos.shard, pos.block),
        ...update,
        ConditionExpression: 'contains(u, :o)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  };
}

/**
 * The counter side of a release: uncounted — or, in a cool-down, still counted (in
 * `n`, `p`) and counted as a lease (`l`), as its block now shows it: usage reads the
 * blocks of shards with `l > 0` to tell the cool-down apart, and the pickers look at
 * full shards with `l > 0` for offsets whose cool-down has ended.
 */
function releaseCounterWrite(
  ctx: IpamContext,
  subnet: Subnet,
  pos: Position,
  value: bigint,
  leased: boolean,
): PlannedWrite {
  if (subnet.reuseDelaySeconds > 0) {
    return counterWrite(ctx, subnet, pos.shard, 0, 0, leased ? 0 : 1);
  }
  return counterWrite(
    ctx,
    subnet,
    pos.shard,
    -1,
    inPools(subnet.pools, value) ? -1 : 0,
    leased ? -1 : 0,
  );
}

/**
 * Sets a new lease expiry on a taken offset whose lease (if any) has not expired.
 * Under a cool-down (the subnet's delay now) the block holds the offset until the
 * expiry plus the delay: `x<o>` = expiry + delay, `q<o>` = expiry; without one,
 * `x<o>` = expiry and no `q<o>`. "Not expired" means before `q<o>` where there is one.
 */
export function leaseWrite(
  ctx: IpamContext,
  subnet: Subnet,
  pos: Position,
  expiry: number,
  nowSeconds: number,
): PlannedWrite {
  const lease = leaseAttribute(pos.offset);
  const cooling = coolingAttribute(pos.offset);
  const delay = subnet.reuseDelaySeconds;
  return {
    kind: 'block',
    block: pos.block,
    item: {
      Update: {
        TableName: ctx.tableName,
        Key: keys.block(subnet.id, pos.shard, pos.block),
        UpdateExpression:
          delay > 0
            ? `SET ${lease} = :free, ${cooling} = :expiry`
            : `SET ${lease} = :expiry REMOVE ${cooling}`,
        ConditionExpression:
          `contains(u, :o) AND (attribute_not_exists(${lease}) OR ${lease} > :now)` +
          ` AND (attribute_not_exists(${cooling}) OR ${cooling} > :now)`,
        ExpressionAttributeValues: {
          ':expiry': expiry,
          ':o': pos.offset,
          ':now': nowSeconds,
          ...(delay > 0 ? { ':free': expiry + delay } : {}),
        },
      },
    },
  };
}
