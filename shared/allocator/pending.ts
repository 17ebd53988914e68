/**
 * Requests too large for one transaction (over 100 items), all or nothing: a
 * pending record names the addresses, the reservation and the items are written
 * in several transactions, and deleting the record is the commit point. A failure
 * part-way undoes what carries the request's token; a crash leaves the record for
 * the audit, which calls undoPending after the grace period.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { AllocationContentionError, SubnetNotFoundError } from '../errors.js';
import { formatIp, type IpAddress, parseIp } from '../net/address.js';
import { type IpamContext, type Who, whoOf } from '../store/context.js';
import { keys } from '../store/keys.js';
import { backoffMs, RETRY, sleep } from '../store/retry.js';
import { type TransactItems, writeTransaction } from '../store/transactions.js';
import { blockFromItem, coolingAttribute, leaseAttribute } from '../subnets/blocks.js';
import { geometryOf, positionOf } from '../subnets/geometry.js';
import { inPools } from '../subnets/rules.js';
import { address, type Subnet } from '../subnets/subnet.js';
import { loadSubnet } from '../subnets/subnets.js';
import type { Candidate } from './candidate.js';
import type { AllocationItem } from './items.js';
import { chunk, packGroups, type WritePlan } from './reservationPlan.js';
import { type Lesson, transactChunks } from './transact.js';
import {
  counterWrite,
  type PlannedWrite,
  tokenAttribute,
  unchangedSince,
  undoneRequestNote,
} from './writes.js';

/**
 * A request too large for one transaction: record the plan as a pending item,
 * reserve, write the allocation items, then delete the record (the commit point).
 * A failure part-way undoes what was written; a crash leaves the record for the
 * audit, which undoes it after the grace period.
 */
export async function reserveInSteps(
  ctx: IpamContext,
  subnet: Subnet,
  plan: WritePlan,
  candidates: readonly Candidate[],
  token: string,
): Promise<Lesson | undefined> {
  const pendingKey = keys.pending(subnet.id, token);
  await writeTransaction(ctx, [
    {
      Put: {
        TableName: ctx.tableName,
        Item: {
          ...pendingKey,
          type: 'pending',
          subnetId: subnet.id,
          token,
          ips: candidates.map((candidate) =>
            formatIp(address(subnet.cidr.version, candidate.value)),
          ),
          createdAt: new Date(ctx.now()).toISOString(),
        },
      },
    },
  ]);
  let lesson: Lesson | undefined;
  const progress = { committed: 0, ambiguous: false };
  try {
    lesson = await transactChunks(
      ctx,
      [...packGroups(plan.reservation), ...chunk(plan.items.map(markedMultiStep))],
      progress,
    );
    if (lesson === undefined) {
      // The commit point: once the record is gone, the allocation stands.
      await writeTransaction(ctx, [{ Delete: { TableName: ctx.tableName, Key: pendingKey } }]);
      return undefined;
    }
  } catch (error) {
    // All or nothing: undo what was written, then report the failure. If the undo
    // fails too, the pending record stays for the audit to undo.
    const undone = await undoPending(ctx, subnet.id, token).catch(() => 0);
    // No record left means the commit above did land before its answer was lost.
    if (undone === undefined) return undefined;
    throw error;
  }
  if (progress.committed === 0 && !progress.ambiguous) {
    // The first transaction was refused outright: nothing was written but the record.
    await writeTransaction(ctx, [{ Delete: { TableName: ctx.tableName, Key: pendingKey } }]);
  } else {
    await undoPending(ctx, subnet.id, token);
  }
  return lesson;
}

/** An allocation item's write, marked as one of a multi-step request (see AllocationItem). */
function markedMultiStep(write: PlannedWrite): PlannedWrite {
  const put = write.item.Put;
  if (put === undefined) return write;
  return { ...write, item: { Put: { ...put, Item: { ...put.Item, multiStep: true } } } };
}

/**
 * Undoes a pending (multi-step) request: deletes its allocation items and frees
 * the offsets it reserved — each only where it still carries the request's token,
 * so nothing that another request holds is touched. Returns how many addresses
 * were freed, or undefined when no such pending record exists (already committed
 * or undone). Used on failure, and by the audit for a crashed request, which
 * passes `who` (itself). Before it deletes anything it writes the request's undo
 * note, so the history records nothing of a request that never committed — not its
 * items, nor whatever became of them meanwhile (history/held.ts).
 */
export async function undoPending(
  ctx: IpamContext,
  subnetId: string,
  token: string,
  who?: Who,
): Promise<number | undefined> {
  const pendingKey = keys.pending(subnetId, token);
  const record = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: pendingKey, ConsistentRead: true }),
  );
  if (record.Item === undefined) return undefined;
  await writeTransaction(ctx, [undoneRequestNote(ctx, subnetId, token, who ?? whoOf(ctx))]);
  let freed = 0;
  try {
    const current = { subnet: await loadSubnet(ctx, subnetId) };
    for (const text of record.Item.ips as string[]) {
      freed += await undoOne(ctx, current, parseIp(text), token);
    }
  } catch (error) {
    // Its counters and blocks went with it; the audit deletes what is left.
    if (!(error instanceof SubnetNotFoundError)) throw error;
  }
  await writeTransaction(ctx, [{ Delete: { TableName: ctx.tableName, Key: pendingKey } }]);
  return freed;
}

/**
 * Frees one address of a pending request if it still carries the request's token.
 * A cancelled undo (the pools changed, say) is re-read and retried; if it keeps
 * failing it throws, and the pending record stays for the audit.
 */
async function undoOne(
  ctx: IpamContext,
  current: { subnet: Subnet },
  ip: IpAddress,
  token: string,
): Promise<number> {
  for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
    // Reloaded after a cancellation: the pools may have changed under the undo.
    if (attempt > 0) current.subnet = await loadSubnet(ctx, current.subnet.id);
    const subnet = current.subnet;
    const pos = positionOf(geometryOf(subnet.cidr), ip.value);
    const tokenName = tokenAttribute(pos.offset);
    const read = (key: Record<string, string>) =>
      ctx.doc.send(new GetCommand({ TableName: ctx.tableName, Key: key, ConsistentRead: true }));
    const block = await read(keys.block(subnet.id, pos.shard, pos.block));
    const item = await read(keys.allocation(subnet.id, pos.shard, ip));
    const writes: TransactItems = [];
    if (item.Item?.reqToken === token) {
      writes.push({
        Delete: {
          TableName: ctx.tableName,
          Key: keys.allocation(subnet.id, pos.shard, ip),
          ...unchangedSince(item.Item as AllocationItem),
        },
      });
    }
    const reserved = block.Item?.[tokenName] === token;
    if (reserved) {
      const state = blockFromItem(pos.block, block.Item);
      const inPool = inPools(subnet.pools, ip.value) ? -1 : 0;
      const lease = leaseAttribute(pos.offset);
      const leaseRead = block.Item?.[lease];
      // The lease as read decides the lease-count delta: a renewal since then cancels the undo.
      const leaseAsRead =
        leaseRead === undefined ? `attribute_not_exists(${lease})` : `${lease} = :lease`;
      writes.push(
        {
          Update: {
            TableName: ctx.tableName,
            Key: keys.block(subnet.id, pos.shard, pos.block),
            UpdateExpression: `DELETE u :offset REMOVE ${lease}, ${tokenName}, ${coolingAttribute(pos.offset)}`,
            ConditionExpression: `${tokenName} = :token AND ${leaseAsRead}`,
            ExpressionAttributeValues: {
              ':offset': new Set([pos.offset]),
              ':token': token,
              ...(leaseRead === undefined ? {} : { ':lease': leaseRead }),
            },
          },
        },
        counterWrite(ctx, subnet, pos.shard, -1, inPool, state.leases.has(pos.offset) ? -1 : 0)
          .item,
      );
    }
    if (writes.length === 0) return 0;
    const outcome = await writeTransaction(ctx, writes);
    if (outcome.canceled === undefined) return reserved ? 1 : 0;
    await sleep(backoffMs(attempt));
  }
  throw new AllocationContentionError(
    `The reservation of ${formatIp(ip)} could not be undone while subnet ${current.subnet.id} kept changing; ` +
      'the audit will free it after the grace period.',
  );
}
