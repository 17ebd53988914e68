/**
 * The audit job's own items (beside the reports of auditStore.ts):
 *
 * | item            | pk                    | sk             | attributes                                                       |
 * | --------------- | --------------------- | -------------- | ---------------------------------------------------------------- |
 * | lock            | `AUDIT#LOCK`          | `LOCK`         | auditId, leaseUntil (ms) — one audit at a time                   |
 * | latest started  | `AUDIT#LATEST`        | `STARTED`      | auditId (GET /audits/latest)                                     |
 * | segment         | `AUDIT#<id>`          | `SEG#<k>`      | done, scannedItems, invocations, `ver`, chunks                   |
 * | segment state   | `AUDIT#<id>#STATE`    | `SEG#<k>#<c>`  | `data` (a slice of the checkpoint's JSON), `ttl` (a week)        |
 *
 * **The lock** is taken by a conditional put (`attribute_not_exists(pk) OR
 * leaseUntil < :now`) when a job starts, renewed in the same transaction as every
 * segment checkpoint (on condition it is still this job's), and deleted when the
 * job completes or fails. A crashed job therefore blocks new audits for at most
 * {@link LOCK_LEASE_MS} after its last checkpoint.
 *
 * **A checkpoint** is one `TransactWriteItems`: the segment item (on condition its
 * `ver` is the one this invocation read, so two runs of one segment cannot both
 * save), the state's chunks, and the lock's renewal. The segment item is small, so
 * reading a running job's progress costs a few reads whatever its state's size.
 */

import { randomInt } from 'node:crypto';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  paginateQuery,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { IpamContext } from '../store/context.js';
import { auditKeys } from '../store/keys.js';
import { isConditionalCheckFailed, isTransactionCanceled, sleep } from '../store/retry.js';
import type { TransactItem } from '../store/transactions.js';
import type { CapacityMeter } from './auditStore.js';
import { newSegmentState, type SegmentState } from './checkpoint.js';

/**
 * How long a job's lock outlives its last checkpoint. Longer than a segment
 * invocation (a Lambda runs at most 15 minutes and checkpoints every few seconds),
 * so a live job never loses it; short enough that a crashed job does not block
 * audits for long.
 */
export const LOCK_LEASE_MS = 15 * 60 * 1000;

/** A checkpoint's JSON is cut into slices of this many characters (items stay below 400 KB). */
const CHUNK_CHARS = 350_000;
/** TransactWriteItems carries at most 4 MB: state beyond this fails the job (more segments help). */
const MAX_CHUNKS = 10;
const STATE_LIFETIME_SECONDS = 7 * 24 * 3600;
/** Tries of a checkpoint whose transaction conflicted with another segment's. */
const CHECKPOINT_ATTEMPTS = 8;

/** The job cannot go on (its lock was taken over, its state outgrew a checkpoint, …). */
export class AuditJobError extends Error {
  override readonly name: string = 'AuditJobError';
}

/** Thrown when another invocation saved the same segment meanwhile. */
export class SegmentConflictError extends AuditJobError {
  override readonly name = 'SegmentConflictError';
}

/** What taking the lock found: another live job's id, or the job whose lease had expired. */
export interface LockAttempt {
  readonly holder?: string;
  readonly expired?: string;
}

/** Takes the lock for `auditId`, unless another job holds it with a live lease. */
export async function acquireLock(
  ctx: IpamContext,
  meter: CapacityMeter,
  auditId: string,
): Promise<LockAttempt> {
  const now = ctx.now();
  try {
    const result = await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: { ...auditKeys.lock, type: 'auditLock', auditId, leaseUntil: now + LOCK_LEASE_MS },
        ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now OR auditId = :id',
        ExpressionAttributeValues: { ':now': now, ':id': auditId },
        ReturnValues: 'ALL_OLD',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    meter.write(result.ConsumedCapacity);
    const before = result.Attributes?.auditId;
    return typeof before === 'string' && before !== auditId ? { expired: before } : {};
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
    // The document client leaves the error's item marshalled: { auditId: { S: … } }.
    const old = (error as { Item?: Record<string, { S?: unknown } | undefined> }).Item?.auditId;
    if (typeof old?.S === 'string') return { holder: old.S };
    // The old item was not returned: read it.
    const found = await ctx.doc.send(
      new GetCommand({ TableName: ctx.tableName, Key: auditKeys.lock, ConsistentRead: true }),
    );
    return { holder: String(found.Item?.auditId ?? 'unknown') };
  }
}

/** Deletes the lock if `auditId` still holds it. */
export async function releaseLock(
  ctx: IpamContext,
  meter: CapacityMeter,
  auditId: string,
): Promise<void> {
  try {
    const result = await ctx.doc.send(
      new DeleteCommand({
        TableName: ctx.tableName,
        Key: auditKeys.lock,
        ConditionExpression: 'auditId = :id',
        ExpressionAttributeValues: { ':id': auditId },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    meter.write(result.ConsumedCapacity);
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
}

/** Renews the lock of a job that is still working (the merge, which writes no checkpoint). */
export async function renewLock(
  ctx: IpamContext,
  meter: CapacityMeter,
  auditId: string,
): Promise<void> {
  try {
    const result = await ctx.doc.send(new UpdateCommand({ ...lockRenewal(ctx, auditId) }));
    meter.write(result.ConsumedCapacity);
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
    throw lostLock(auditId);
  }
}

function lockRenewal(ctx: IpamContext, auditId: string) {
  return {
    TableName: ctx.tableName,
    Key: auditKeys.lock,
    UpdateExpression: 'SET leaseUntil = :until',
    ConditionExpression: 'auditId = :id',
    ExpressionAttributeValues: { ':id': auditId, ':until': ctx.now() + LOCK_LEASE_MS },
    ReturnConsumedCapacity: 'TOTAL' as const,
  };
}

function lostLock(auditId: string): AuditJobError {
  return new AuditJobError(
    `Audit ${auditId} lost its lock (no checkpoint for ${LOCK_LEASE_MS / 60_000} minutes, so ` +
      'another audit could start); start a new audit.',
  );
}

/** Points `AUDIT#LATEST`/`STARTED` at a job that just started. */
export async function markStarted(
  ctx: IpamContext,
  meter: CapacityMeter,
  auditId: string,
): Promise<void> {
  const result = await ctx.doc.send(
    new PutCommand({
      TableName: ctx.tableName,
      Item: { ...auditKeys.latestStarted, type: 'auditPointer', auditId },
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  meter.write(result.ConsumedCapacity);
}

/** A segment's state as stored, and the `ver` its next checkpoint must find. */
export interface StoredSegment {
  readonly state: SegmentState;
  readonly ver: number;
}

/** A segment's small progress item, as a running job's report shows it. */
export interface SegmentProgress {
  readonly done: boolean;
  readonly scannedItems: number;
  readonly invocations: number;
}

/** Reads a segment's checkpoint (a new segment's empty state when it has none). */
export async function readSegment(
  ctx: IpamContext,
  meter: CapacityMeter,
  auditId: string,
  segment: number,
): Promise<StoredSegment> {
  const head = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: auditKeys.segment(auditId, segment),
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  meter.read(head.ConsumedCapacity);
  if (head.Item === undefined) return { state: newSegmentState(), ver: 0 };
  const ver = Number(head.Item.ver ?? 0);
  const chunks = Number(head.Item.chunks ?? 0);
  const prefix = auditKeys.segmentStateChunk(auditId, segment, 0).sk.slice(0, -2);
  const slices = new Map<string, string>();
  const pages = paginateQuery(
    { client: ctx.doc },
    {
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: {
        ':pk': auditKeys.segmentStatePartition(auditId),
        ':prefix': prefix,
      },
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL',
    },
  );
  for await (const page of pages) {
    meter.read(page.ConsumedCapacity);
    for (const item of page.Items ?? []) {
      // Only this checkpoint's slices: a version's slices carry its ver.
      if (Number(item.ver) === ver) slices.set(String(item.sk), String(item.data));
    }
  }
  let json = '';
  for (let chunk = 0; chunk < chunks; chunk++) {
    const slice = slices.get(auditKeys.segmentStateChunk(auditId, segment, chunk).sk);
    if (slice === undefined) {
      throw new AuditJobError(`Audit ${auditId}: segment ${segment}'s checkpoint is incomplete.`);
    }
    json += slice;
  }
  return { state: JSON.parse(json) as SegmentState, ver };
}

/**
 * Saves a segment's checkpoint and renews the job's lock, in one transaction;
 * returns the new `ver`. SegmentConflictError when another invocation saved the
 * segment since `ver` was read; AuditJobError when the job lost its lock.
 */
export async function writeSegment(
  ctx: IpamContext,
  meter: CapacityMeter,
  auditId: string,
  segment: number,
  state: SegmentState,
  ver: number,
): Promise<number> {
  const json = JSON.stringify(state);
  const chunks = Math.max(1, Math.ceil(json.length / CHUNK_CHARS));
  if (chunks > MAX_CHUNKS) {
    throw new AuditJobError(
      `Audit ${auditId}: segment ${segment}'s state outgrew a checkpoint ` +
        `(${json.length} characters); run the audit with more segments.`,
    );
  }
  const next = ver + 1;
  const ttl = Math.floor(ctx.now() / 1000) + STATE_LIFETIME_SECONDS;
  const items: TransactItem[] = [
    {
      Put: {
        TableName: ctx.tableName,
        Item: {
          ...auditKeys.segment(auditId, segment),
          type: 'auditSegment',
          done: state.done,
          scannedItems: state.part.scanned.items,
          invocations: state.invocations,
          chunks,
          ver: next,
          ttl,
        },
        ConditionExpression: ver === 0 ? 'attribute_not_exists(pk)' : 'ver = :ver',
        ...(ver === 0 ? {} : { ExpressionAttributeValues: { ':ver': ver } }),
      },
    },
    { Update: lockRenewal(ctx, auditId) },
  ];
  for (let chunk = 0; chunk < chunks; chunk++) {
    items.push({
      Put: {
        TableName: ctx.tableName,
        Item: {
          ...auditKeys.segmentStateChunk(auditId, segment, chunk),
          type: 'auditSegmentState',
          data: json.slice(chunk * CHUNK_CHARS, (chunk + 1) * CHUNK_CHARS),
          ver: next,
          ttl,
        },
      },
    });
  }
  // Every segment renews the one lock item: concurrent checkpoints can conflict
  // (TransactionConflict), which says nothing about this segment — try again.
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await ctx.doc.send(
        new TransactWriteCommand({ TransactItems: items, ReturnConsumedCapacity: 'TOTAL' }),
      );
      meter.write(result.ConsumedCapacity);
      break;
    } catch (error) {
      if (!isTransactionCanceled(error)) throw error;
      const reasons =
        (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
      if (reasons[1]?.Code === 'ConditionalCheckFailed') throw lostLock(auditId);
      if (reasons[0]?.Code === 'ConditionalCheckFailed') {
        throw new SegmentConflictError(
          `Audit ${auditId}: segment ${segment} was saved by another invocation meanwhile.`,
        );
      }
      if (attempt >= CHECKPOINT_ATTEMPTS) throw error;
      await sleep(randomInt(10, 50 * 2 ** attempt));
    }
  }
  return next;
}

/** Every segment's progress item of a job, by segment number. */
export async function readSegmentProgress(
  ctx: IpamContext,
  meter: CapacityMeter,
  auditId: string,
): Promise<Map<number, SegmentProgress>> {
  const found = new Map<number, SegmentProgress>();
  const pages = paginateQuery(
    { client: ctx.doc },
    {
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :seg)',
      ExpressionAttributeValues: { ':pk': auditKeys.report(auditId).pk, ':seg': 'SEG#' },
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL',
    },
  );
  for await (const page of pages) {
    meter.read(page.ConsumedCapacity);
    for (const item of page.Items ?? []) {
      found.set(Number(String(item.sk).slice(4)), {
        done: item.done === true,
        scannedItems: Number(item.scannedItems ?? 0),
        invocations: Number(item.invocations ?? 0),
      });
    }
  }
  return found;
}
