/**
 * Subnet operations. Within a space subnets never overlap: a create reads the
 * space's head version, checks its neighbours in address order, and commits the
 * subnet, its space entry and the head's next version in one transaction — so of
 * two racing overlapping creates exactly one commits, and the other re-checks and
 * sees the overlap.
 */
import { DeleteCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  AllocationContentionError,
  IpAlreadyAllocatedError,
  SubnetInUseError,
  SubnetNotFoundError,
  SubnetOverlapError,
  ValidationError,
} from '../errors.js';
import { DEFAULT_SPACE, LIMITS } from '../limits.js';
import {
  addressKey,
  type Cidr,
  cidrLast,
  formatCidr,
  formatIp,
  parseCidr,
} from '../net/address.js';
import { isId, newId } from '../net/ids.js';
import { type IpamContext, whoOf, writerStamps } from '../store/context.js';
import { subnetsScope } from '../store/cursorScopes.js';
import { keys, PREFIX } from '../store/keys.js';
import { type Cursor, decodeCursor, encodeCursor, type Page } from '../store/paging.js';
import { queryPages } from '../store/query.js';
import { backoffMs, isConditionalCheckFailed, RETRY, sleep } from '../store/retry.js';
import { TTL_ATTRIBUTE } from '../store/table.js';
import { type TransactItem, writeTransaction } from '../store/transactions.js';
import {
  configFence,
  newCounterItem,
  readCounters,
  recountShard,
  StaleSubnetError,
  storedCounters,
} from './counters.js';
import { geometryOf, positionOf } from './geometry.js';
import { notLiveCondition } from './holding.js';
import { moveLeaseCoolDowns } from './leaseCoolDowns.js';
import { heldAside, liveCounts, liveUsage, sweepExpiredLeases } from './leases.js';
import {
  assertGatewayOutsidePools,
  assertSubnetPrefix,
  defaultPools,
  type PoolText,
  resolveGateway,
  validatePools,
} from './rules.js';
import {
  address,
  fromSubnetItem,
  type Subnet,
  type SubnetView,
  subnetView,
  toSubnetItem,
} from './subnet.js';

export interface CreateSubnetInput {
  readonly cidr: string;
  readonly name?: string | null;
  readonly space?: string;
  readonly gatewayIp?: string | null;
  readonly allocationPools?: readonly PoolText[];
  readonly tags?: Record<string, string>;
  /** Set by subnet pools when they carve this subnet. */
  readonly poolId?: string;
  /** The release cool-down in seconds (default 0). */
  readonly reuseDelaySeconds?: number;
}

export interface UpdateSubnetInput {
  readonly name?: string | null;
  readonly tags?: Record<string, string>;
  readonly gatewayIp?: string | null;
  readonly allocationPools?: readonly PoolText[];
  /** The release cool-down in seconds; applies to releases (and leases set) from now on. */
  readonly reuseDelaySeconds?: number;
}

export function assertSpace(space: string): void {
  if (!LIMITS.spacePattern.test(space)) {
    throw new ValidationError(
      `Space ${JSON.stringify(space)} is not valid: use 1-64 letters, digits, '.', '_' or '-'.`,
      { field: 'space' },
    );
  }
}

/** Builds a new subnet from the request, applying every default and rule of API.md. */
export function planSubnet(input: CreateSubnetInput, now: string): Subnet {
  const cidr = parseCidr(input.cidr);
  assertSubnetPrefix(cidr);
  const space = input.space ?? DEFAULT_SPACE;
  assertSpace(space);
  const gateway = resolveGateway(cidr, input.gatewayIp);
  const pools =
    input.allocationPools === undefined
      ? defaultPools(cidr, gateway)
      : validatePools(cidr, gateway, input.allocationPools);
  return {
    id: newId('sub'),
    cidr,
    name: input.name ?? null,
    space,
    gateway,
    pools,
    tags: input.tags ?? {},
    createdAt: now,
    updatedAt: now,
    version: 1,
    configVersion: 1,
    ...(input.poolId === undefined ? {} : { poolId: input.poolId }),
    reuseDelaySeconds: reuseDelay(input.reuseDelaySeconds ?? 0),
  };
}

/** The cool-down as given, if it is a whole number of seconds within LIMITS.reuseDelaySeconds. */
function reuseDelay(seconds: number): number {
  const { min, max } = LIMITS.reuseDelaySeconds;
  if (!Number.isInteger(seconds) || seconds < min || seconds > max) {
    throw new ValidationError(
      `reuseDelaySeconds must be a whole number of seconds from ${min} to ${max}.`,
      { field: 'reuseDelaySeconds' },
    );
  }
  return seconds;
}

export async function createSubnet(
  ctx: IpamContext,
  input: CreateSubnetInput,
): Promise<SubnetView> {
  const subnet = planSubnet(input, new Date(ctx.now()).toISOString());
  await insertSubnet(ctx, subnet);
  return subnetView(subnet, { all: 0n, inPools: 0n });
}

/** Writes a planned subnet unless it overlaps another of its space (SubnetOverlapError). */
export async function insertSubnet(ctx: IpamContext, subnet: Subnet): Promise<void> {
  const { shardCount } = geometryOf(subnet.cidr);
  const network = address(subnet.cidr.version, subnet.cidr.network);
  for (let attempt = 0; attempt < RETRY.attempts * 2; attempt++) {
    const head = await ctx.doc.send(
      new GetCommand({
        TableName: ctx.tableName,
        Key: keys.spaceHead(subnet.space),
        ConsistentRead: true,
      }),
    );
    const headVersion = Number(head.Item?.ver ?? 0);
    const conflict = await findOverlap(ctx, subnet.space, subnet.cidr);
    // Our own entry: an earlier attempt committed before its answer was lost.
    if (conflict?.subnetId === subnet.id) return;
    if (conflict !== undefined) throw overlapError(subnet.space, subnet.cidr, conflict);
    const outcome = await writeTransaction(ctx, [
      {
        Put: {
          TableName: ctx.tableName,
          Item: { ...toSubnetItem(subnet), ...writerStamps(whoOf(ctx)) },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: ctx.tableName,
          Item: {
            ...keys.spaceEntry(subnet.space, network),
            subnetId: subnet.id,
            cidr: formatCidr(subnet.cidr),
            lastKey: addressKey(address(subnet.cidr.version, cidrLast(subnet.cidr))),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: ctx.tableName,
          Item: { ...keys.spaceHead(subnet.space), ver: headVersion + 1 },
          ConditionExpression: headVersion === 0 ? 'attribute_not_exists(pk)' : 'ver = :ver',
          ...(headVersion === 0 ? {} : { ExpressionAttributeValues: { ':ver': headVersion } }),
        },
      },
      ...Array.from({ length: shardCount }, (_, shard) => ({
        Put: {
          TableName: ctx.tableName,
          Item: newCounterItem(subnet.id, shard, subnet.configVersion),
        },
      })),
    ]);
    if (outcome.canceled === undefined) return;
    // Another create in this space committed first (or ours did, unseen): check again.
    await sleep(backoffMs(attempt));
  }
  throw new AllocationContentionError(
    `Space ${subnet.space} is changing too quickly to add ${formatCidr(subnet.cidr)}; retry.`,
  );
}

function overlapError(
  space: string,
  cidr: Cidr,
  conflict: { subnetId: string; cidr: string },
): SubnetOverlapError {
  return new SubnetOverlapError(
    `${formatCidr(cidr)} overlaps subnet ${conflict.subnetId} (${conflict.cidr}) in space ${space}; ` +
      'choose a free range or another space.',
    { conflictingSubnetId: conflict.subnetId, conflictingCidr: conflict.cidr },
  );
}

/**
 * Subnets of a space are disjoint, so at most two queries decide: the entry that
 * starts at or before our first address (does it reach into us?), and any entry
 * that starts inside us.
 */
export async function findOverlap(
  ctx: IpamContext,
  space: string,
  cidr: Cidr,
): Promise<{ subnetId: string; cidr: string } | undefined> {
  const first = address(cidr.version, cidr.network);
  const last = address(cidr.version, cidrLast(cidr));
  const pk = keys.spaceHead(space).pk;
  const before = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
      ExpressionAttributeValues: {
        ':pk': pk,
        ':low': `NET#${cidr.version}#`,
        ':high': keys.spaceEntrySort(first),
      },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    }),
  );
  const previous = before.Items?.[0];
  if (previous !== undefined && String(previous.lastKey) >= addressKey(first)) {
    return { subnetId: String(previous.subnetId), cidr: String(previous.cidr) };
  }
  const inside = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
      ExpressionAttributeValues: {
        ':pk': pk,
        ':low': keys.spaceEntrySort(first),
        ':high': keys.spaceEntrySort(last),
      },
      Limit: 1,
      ConsistentRead: true,
    }),
  );
  const next = inside.Items?.[0];
  return next === undefined
    ? undefined
    : { subnetId: String(next.subnetId), cidr: String(next.cidr) };
}

export async function loadSubnet(ctx: IpamContext, subnetId: string): Promise<Subnet> {
  if (!isId('sub', subnetId)) throw new SubnetNotFoundError(subnetId);
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: keys.subnet(subnetId), ConsistentRead: true }),
  );
  if (result.Item === undefined) throw new SubnetNotFoundError(subnetId);
  return fromSubnetItem(result.Item);
}

/** Loads the subnet with its usage, retrying once if a pool change lands in between. */
export async function getSubnet(ctx: IpamContext, subnetId: string): Promise<SubnetView> {
  return onFreshSubnet(ctx, subnetId, async (subnet) =>
    subnetView(subnet, await liveUsage(ctx, subnet, await readCounters(ctx, subnet))),
  );
}

/**
 * Runs `use` on the subnet as stored now. A counter recounted under a newer
 * configuration than the one loaded (a concurrent PATCH of pools or gateway)
 * means the subnet changed under us: load it again. A subnet that keeps changing
 * answers a retryable contention error, never a 500.
 */
async function onFreshSubnet<T>(
  ctx: IpamContext,
  subnetId: string,
  use: (subnet: Subnet) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
    const subnet = await loadSubnet(ctx, subnetId);
    try {
      return await use(subnet);
    } catch (error) {
      if (!(error instanceof StaleSubnetError)) throw error;
    }
    await sleep(backoffMs(attempt));
  }
  throw new AllocationContentionError(
    `Subnet ${subnetId} kept changing (pools or gateway) while it was being read; retry.`,
  );
}

export interface ListSubnetsQuery {
  readonly space?: string;
  readonly limit: number;
  readonly cursor?: string;
}

export async function listSubnets(
  ctx: IpamContext,
  query: ListSubnetsQuery,
): Promise<Page<SubnetView>> {
  if (query.space !== undefined) assertSpace(query.space);
  const scope = subnetsScope(query.space);
  const startKey: Cursor | undefined = decodeCursor(scope, query.cursor);
  const result = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      IndexName: 'gsi1',
      KeyConditionExpression:
        query.space === undefined ? 'gsi1pk = :pk' : 'gsi1pk = :pk AND begins_with(gsi1sk, :space)',
      ExpressionAttributeValues: {
        ':pk': keys.allSubnets,
        ...(query.space === undefined ? {} : { ':space': `${query.space}#` }),
      },
      Limit: query.limit,
      ExclusiveStartKey: startKey,
    }),
  );
  const subnets = (result.Items ?? []).map(fromSubnetItem);
  const items = await Promise.all(
    subnets.map(async (subnet) => {
      try {
        return await getSubnetView(ctx, subnet);
      } catch (error) {
        // Deleted between the list and the counter read: leave it out.
        if (error instanceof SubnetNotFoundError) return undefined;
        throw error;
      }
    }),
  );
  return {
    items: items.filter((item): item is SubnetView => item !== undefined),
    nextCursor: encodeCursor(scope, result.LastEvaluatedKey),
  };
}

async function getSubnetView(ctx: IpamContext, subnet: Subnet): Promise<SubnetView> {
  try {
    return subnetView(subnet, await liveUsage(ctx, subnet, await readCounters(ctx, subnet)));
  } catch (error) {
    if (error instanceof StaleSubnetError) return getSubnet(ctx, subnet.id);
    throw error;
  }
}

/**
 * PATCH: name and tags freely; gateway and pools with the create rules. A change of
 * gateway, pools or reuseDelaySeconds bumps configVersion and is fenced in its own transaction: the
 * subnet, a check that no live allocation holds a new gateway, and every shard
 * counter's `pv` (configFence) commit together. So an allocation of the new gateway
 * either committed first (the PATCH answers IP_ALREADY_ALLOCATED) or fails its
 * counter condition and reloads the moved subnet; nothing lands under the old
 * configuration afterwards, and the shards whose counts change are recounted while
 * fenced, which no allocation can disturb.
 */
export async function updateSubnet(
  ctx: IpamContext,
  subnetId: string,
  input: UpdateSubnetInput,
): Promise<SubnetView> {
  for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
    const current = await loadSubnet(ctx, subnetId);
    const gateway =
      input.gatewayIp === undefined
        ? current.gateway
        : resolveGateway(current.cidr, input.gatewayIp);
    const pools =
      input.allocationPools === undefined
        ? current.pools
        : validatePools(current.cidr, gateway, input.allocationPools);
    assertGatewayOutsidePools(current.cidr.version, gateway, pools);
    const reuseDelaySeconds =
      input.reuseDelaySeconds === undefined
        ? current.reuseDelaySeconds
        : reuseDelay(input.reuseDelaySeconds);
    // A new cool-down is fenced like a pool change (its shards keep their counts, so
    // none is recounted): an allocator holding the subnet as it was fails its next
    // counter condition and reloads it, so every release and lease after this commit
    // uses the new delay — "the delay in force at release time".
    const configChanged =
      input.allocationPools !== undefined ||
      gateway !== current.gateway ||
      reuseDelaySeconds !== current.reuseDelaySeconds;
    const updatedAt = new Date(ctx.now()).toISOString();
    const next: Subnet = {
      ...current,
      name: input.name === undefined ? current.name : input.name,
      tags: input.tags ?? current.tags,
      reuseDelaySeconds,
      // The second of the PATCH itself stays with the old delay.
      ...(reuseDelaySeconds === current.reuseDelaySeconds
        ? {}
        : { reuseDelayFrom: Math.floor(Date.parse(updatedAt) / 1000) + 1 }),
      gateway,
      pools,
      updatedAt,
      version: current.version + 1,
      configVersion: current.configVersion + (configChanged ? 1 : 0),
    };
    const movedGateway = gateway !== null && gateway !== current.gateway ? gateway : undefined;
    const fence = configChanged
      ? configFence(ctx, current, next, await storedCounters(ctx, subnetId, shards(next), true))
      : { writes: [], recount: [] };
    const gatewayCheck = movedGateway === undefined ? [] : [gatewayFree(ctx, next, movedGateway)];
    const outcome = await writeTransaction(ctx, [
      {
        Put: {
          TableName: ctx.tableName,
          Item: { ...toSubnetItem(next), ...writerStamps(whoOf(ctx)) },
          ConditionExpression: 'version = :version',
          ExpressionAttributeValues: { ':version': current.version },
        },
      },
      ...gatewayCheck,
      ...fence.writes,
    ]);
    if (outcome.canceled !== undefined && !(outcome.ambiguous && (await landed(ctx, next)))) {
      const holder = outcome.canceled.CancellationReasons?.[1];
      if (movedGateway !== undefined && holder?.Code === 'ConditionalCheckFailed') {
        const item = (holder.Item === undefined ? {} : unmarshall(holder.Item as never)) as {
          owner?: string | null;
        };
        throw new IpAlreadyAllocatedError(
          formatIp(address(next.cidr.version, movedGateway)),
          item.owner ?? null,
        );
      }
      // The subnet (another PATCH) or a counter (a recount finished) moved: decide again.
      await sleep(backoffMs(attempt));
      continue;
    }
    if (input.reuseDelaySeconds !== undefined && next.reuseDelayFrom !== undefined) {
      // Leases expiring since the delay changed take it (API.md: the delay in force at
      // their expiry). Also when this PATCH repeats the delay: a retry completes the
      // rewrite of one that was cut short.
      await moveLeaseCoolDowns(ctx, next, next.reuseDelayFrom);
    }
    await Promise.all(
      fence.recount.map((shard) =>
        recountShard(ctx, next, shard).catch((error: unknown) => {
          // A later PATCH superseded this one; its own recount brings the shard up to date.
          if (!(error instanceof StaleSubnetError)) throw error;
        }),
      ),
    );
    return getSubnet(ctx, subnetId);
  }
  throw new AllocationContentionError(`Subnet ${subnetId} kept changing during the update; retry.`);
}

/** Every shard of a subnet, in order. */
function shards(subnet: Subnet): number[] {
  return Array.from({ length: geometryOf(subnet.cidr).shardCount }, (_, shard) => shard);
}

/** Whether the subnet as stored is `next`: an earlier attempt landed before its answer was lost. */
async function landed(ctx: IpamContext, next: Subnet): Promise<boolean> {
  const stored = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: keys.subnet(next.id), ConsistentRead: true }),
  );
  return stored.Item?.version === next.version && stored.Item?.updatedAt === next.updatedAt;
}

/**
 * The transaction's check that no live allocation holds `value` (the new gateway):
 * no allocation item, an ended lease's, or a cool-down's tombstone. Its cancellation carries the holder.
 */
function gatewayFree(ctx: IpamContext, subnet: Subnet, value: bigint): TransactItem {
  const pos = positionOf(geometryOf(subnet.cidr), value);
  return {
    ConditionCheck: {
      TableName: ctx.tableName,
      Key: keys.allocation(subnet.id, pos.shard, address(subnet.cidr.version, value)),
      ...notLiveCondition(ctx.now()),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/**
 * What has to follow a committed subnet delete outside the subnet's own items: a
 * subnet carved from a pool gives its block back (shared/pools' `onSubnetDeleted`).
 *
 * Why a required parameter and not an import: pools are built on subnets (a carve is
 * `planSubnet` + `insertSubnet`), so subnets importing pools would close a circle. The
 * composition roots — the /subnets handler, the CloudFormation provider, the pool code
 * itself — pass the give-back in; being required, no caller can forget it (a
 * forgotten one would strand the block until a carve or pool delete reclaims it), and
 * nothing hides in a module-level registration that an import order could skip.
 */
export type OnSubnetDeleted = (ctx: IpamContext, subnet: Subnet) => Promise<void>;

/**
 * Deletes a subnet that holds no allocations, then runs `onDeleted` with the deleted
 * subnet. Expired leases not yet swept, and addresses in their release cool-down,
 * do not hold it: they are freed first, each
 * on condition that its block still shows the expiry read (a reuse that wins makes
 * the address live, and the delete answers SUBNET_IN_USE). The counters are deleted
 * in the same transaction as the subnet on condition that they are zero, so an
 * allocation racing the delete either lands first (and the delete answers
 * SUBNET_IN_USE) or finds its counter gone (and answers SUBNET_NOT_FOUND).
 */
export async function deleteSubnet(
  ctx: IpamContext,
  subnetId: string,
  onDeleted: OnSubnetDeleted,
): Promise<void> {
  for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
    const { subnet, expired, live } = await onFreshSubnet(ctx, subnetId, async (subnet) => {
      const counters = await readCounters(ctx, subnet, true);
      const aside = await heldAside(ctx, subnet, counters, true);
      // Offsets in their cool-down hold nobody: the delete frees them with the expired leases.
      const expired = [...aside.expired, ...aside.cooling];
      return { subnet, expired, live: liveCounts(counters, aside.expired, aside.cooling).all };
    });
    if (live > 0n) throw subnetInUse(subnetId, live);
    if (expired.length > 0) {
      // Freed, or one changed meanwhile (reused, renewed, swept): decide again on a fresh read.
      await sweepExpiredLeases(ctx, subnet, expired);
      continue;
    }
    const { shardCount } = geometryOf(subnet.cidr);
    const outcome = await writeTransaction(ctx, [
      {
        Delete: {
          TableName: ctx.tableName,
          Key: keys.subnet(subnetId),
          ConditionExpression: 'version = :version',
          ExpressionAttributeValues: { ':version': subnet.version },
        },
      },
      {
        Delete: {
          TableName: ctx.tableName,
          Key: keys.spaceEntry(subnet.space, address(subnet.cidr.version, subnet.cidr.network)),
        },
      },
      ...deletionNote(ctx, subnet),
      ...Array.from({ length: shardCount }, (_, shard) => ({
        Delete: {
          TableName: ctx.tableName,
          Key: keys.counter(subnetId, shard),
          ConditionExpression: 'n = :zero',
          ExpressionAttributeValues: { ':zero': 0 },
        },
      })),
    ]);
    if (outcome.canceled === undefined) return afterDelete(ctx, subnet, shardCount, onDeleted);
    const gone = await ctx.doc.send(
      new GetCommand({
        TableName: ctx.tableName,
        Key: keys.subnet(subnetId),
        ConsistentRead: true,
      }),
    );
    // Our earlier attempt deleted it before its answer was lost.
    if (outcome.ambiguous && gone.Item === undefined) {
      return afterDelete(ctx, subnet, shardCount, onDeleted);
    }
    // The subnet changed (a PATCH), or an allocation landed first: decide again on a
    // fresh read, which answers SUBNET_IN_USE while that allocation is live.
    await sleep(backoffMs(attempt));
  }
  throw new AllocationContentionError(
    `Subnet ${subnetId} kept changing while it was being deleted; retry.`,
  );
}

/**
 * Kept beside the deleted subnet for the history: the stream's REMOVE of the subnet
 * carries no writer, so the processor reads who deleted it here; and its cidr and
 * space, for the records of its addresses that reach the processor after the
 * subnet is gone (another shard than the subnet's own: history/places.ts). It
 * outlives the stream's 24 h retention (so a late or redelivered record still finds
 * it), then the table's TTL removes it. A context that names no writer leaves none
 * (the entry's actor is then "unknown" either way).
 */
function deletionNote(ctx: IpamContext, subnet: Subnet): TransactItem[] {
  if (ctx.who === undefined) return [];
  const who = whoOf(ctx);
  return [
    {
      Put: {
        TableName: ctx.tableName,
        Item: {
          ...keys.subnetDeletionNote(subnet.id),
          type: 'deletionNote',
          cidr: formatCidr(subnet.cidr),
          space: subnet.space,
          deletedBy: who.actor,
          ...(who.requestId === null ? {} : { requestId: who.requestId }),
          [TTL_ATTRIBUTE]: Math.floor(ctx.now() / 1000) + DELETION_NOTE_SECONDS,
        },
      },
    },
  ];
}

/** Two days: longer than the stream keeps a record (24 h). */
const DELETION_NOTE_SECONDS = 2 * 24 * 3600;

function subnetInUse(subnetId: string, live: bigint): SubnetInUseError {
  return new SubnetInUseError(
    `Subnet ${subnetId} still holds ${live} allocation(s); release them before deleting it.`,
    { allocations: Number(live) },
  );
}

/** After a committed delete: `onDeleted` (a carved subnet's block goes back); empty blocks go. */
async function afterDelete(
  ctx: IpamContext,
  subnet: Subnet,
  shardCount: number,
  onDeleted: OnSubnetDeleted,
): Promise<void> {
  await onDeleted(ctx, subnet);
  await deleteEmptyBlocks(ctx, subnet.id, shardCount);
}

/** Block items left empty by releases; nothing can write them once the counters are gone. */
async function deleteEmptyBlocks(
  ctx: IpamContext,
  subnetId: string,
  shardCount: number,
): Promise<void> {
  for (let shard = 0; shard < shardCount; shard++) {
    for await (const items of queryPages(ctx, {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :block)',
      ExpressionAttributeValues: {
        ':pk': keys.shardPartition(subnetId, shard),
        ':block': PREFIX.block,
      },
      ProjectionExpression: 'pk, sk',
    })) {
      await Promise.all(
        items.map((item) =>
          ctx.doc
            .send(
              new DeleteCommand({
                TableName: ctx.tableName,
                Key: { pk: item.pk, sk: item.sk },
                ConditionExpression: 'attribute_not_exists(u)',
              }),
            )
            .catch((error: unknown) => {
              if (!isConditionalCheckFailed(error)) throw error;
            }),
        ),
      );
    }
  }
}
