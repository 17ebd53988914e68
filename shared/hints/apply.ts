/**
 * Writing blocks' hints from a batch of allocation item changes: per block, one
 * consistent read of its hint, the batch's changes of that block applied in stream
 * order, one conditional put.
 *
 * Under redelivery a hint ends as the items are, with no sequence kept per offset:
 * DynamoDB Streams orders each item's changes (not a partition's: one transaction's
 * items, or a split partition's, may come in any order or at once), and an event
 * source mapping hands an item's changes over in that order, a retried or bisected
 * batch again from the failed record on. So each offset's last change applied is
 * its item's newest, and an older one applied again is followed by the newer ones
 * again. Meanwhile a hint may show an offset as it was a moment ago; that is all a
 * hint promises (the allocator's conditional write decides, issue 17). The put
 * conditions on the hint's `ver` as read, so two processors on one block (a
 * parallelization factor, a split) never lose each other's changes: the loser
 * reads again.
 *
 * A hint left with no held offset gets a `ttl` two days out (kept, not moved, while
 * it stays empty) — longer than the stream keeps a record, so no older change can
 * come back after the TTL removed it — which is how a deleted subnet's hints go
 * (its delete removed every item).
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { inParallel } from '../inParallel.js';
import type { IpamContext } from '../store/context.js';
import { keys } from '../store/keys.js';
import { RETRY } from '../store/retry.js';
import { TTL_ATTRIBUTE } from '../store/table.js';
import type { Geometry } from '../subnets/geometry.js';
import { hintAfter, type ItemChange, type OffsetHint, offsetHint, sameHint } from './derive.js';

/** How long an empty hint stays (seconds): longer than the stream's 24 h. */
const EMPTY_HINT_SECONDS = 2 * 24 * 3600;

export interface HintSource {
  /** The geometry of a subnet's cidr; undefined when it cannot be told (its changes are skipped). */
  geometryOf(subnetId: string): Promise<Geometry | undefined>;
  readonly concurrency?: number;
  /** Capacity units of the hint reads and writes, added up. */
  readonly tally?: { read: number; write: number };
}

/** The changes of one block in a batch, in stream order, and its hint's key. */
interface HintGroup {
  readonly key: Record<string, string>;
  readonly changes: ItemChange[];
  readonly hints: OffsetHint[];
}

/**
 * Applies `changes` (allocation items' changes, in stream order, of any subnets) to
 * their blocks' hints. Answers the changes whose hint could not be written, with the
 * error: the caller fails those records so they are delivered again.
 */
export async function applyHints(
  ctx: IpamContext,
  changes: readonly (ItemChange & { readonly subnetId: string })[],
  source: HintSource,
): Promise<Map<ItemChange, unknown>> {
  const byHint = new Map<string, HintGroup>();
  const failed = new Map<ItemChange, unknown>();
  for (const change of changes) {
    // A subnet whose geometry cannot be read now (a throttled read, a key this code
    // cannot parse) fails its own changes, so they come again; the others go on.
    let hint: OffsetHint;
    try {
      const g = await source.geometryOf(change.subnetId);
      if (g === undefined) continue;
      hint = offsetHint(g, change);
    } catch (error) {
      failed.set(change, error);
      continue;
    }
    const key = keys.hint(change.subnetId, hint.pos.shard, hint.pos.block);
    const id = `${key.pk}\u0000${key.sk}`;
    const group: HintGroup = byHint.get(id) ?? { key, changes: [], hints: [] };
    byHint.set(id, group);
    group.changes.push(change);
    group.hints.push(hint);
  }
  await inParallel([...byHint.values()], source.concurrency, async (group) => {
    try {
      await writeHint(ctx, group.key, group.hints, source.tally);
    } catch (error) {
      for (const change of group.changes) failed.set(change, error);
    }
  });
  return failed;
}

async function writeHint(
  ctx: IpamContext,
  key: Record<string, string>,
  hints: readonly OffsetHint[],
  tally: { read: number; write: number } | undefined,
): Promise<void> {
  for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
    const read = await ctx.doc.send(
      new GetCommand({
        TableName: ctx.tableName,
        Key: key,
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    if (tally !== undefined) tally.read += read.ConsumedCapacity?.CapacityUnits ?? 0;
    const stored = read.Item;
    const ver = typeof stored?.ver === 'number' ? stored.ver : undefined;
    const next = hintAfter(stored, hints);
    if (stored !== undefined && sameHint(stored, next)) return; // nothing new (a redelivery)
    try {
      const written = await ctx.doc.send(
        new PutCommand({
          TableName: ctx.tableName,
          Item: hintItem(key, next, stored, ctx.now()),
          ConditionExpression: ver === undefined ? 'attribute_not_exists(pk)' : 'ver = :ver',
          ...(ver === undefined ? {} : { ExpressionAttributeValues: { ':ver': ver } }),
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      if (tally !== undefined) tally.write += written.ConsumedCapacity?.CapacityUnits ?? 0;
      return;
    } catch (error) {
      if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
      // Another processor wrote it meanwhile: read again and apply what is still new.
    }
  }
  throw new Error(`the hint ${key.pk} ${key.sk} kept changing while it was written`);
}

/**
 * The hint item to put over `stored`: `next`'s attributes, `ver` one up, and an empty
 * hint's `ttl` (the one it has, or two days from now).
 */
export function hintItem(
  key: Record<string, string>,
  next: Record<string, unknown>,
  stored: Record<string, unknown> | undefined,
  nowMs: number,
): Record<string, unknown> {
  const ver = typeof stored?.ver === 'number' ? stored.ver : 0;
  return { ...key, ...next, ver: ver + 1, ...emptyTtl(next, stored, nowMs) };
}

/** An empty hint's `ttl`: the one it has, or two days from now. */
function emptyTtl(
  next: Record<string, unknown>,
  stored: Record<string, unknown> | undefined,
  nowMs: number,
): Record<string, number> {
  if (next.u !== undefined) return {};
  const kept = stored?.[TTL_ATTRIBUTE];
  return {
    [TTL_ATTRIBUTE]:
      typeof kept === 'number' ? kept : Math.floor(nowMs / 1000) + EMPTY_HINT_SECONDS,
  };
}
