/**
 * The stream processor's half of the map: block images in, summaries out.
 *
 * Per batch, only each block's newest image matters. Its summary is put on
 * condition `attribute_not_exists(v) OR v <= :v` (`v` = the record's sequence
 * number, 40 digits, so strings compare as numbers): a redelivered or older record
 * writes the same or nothing, never over a newer one. Then each summary above it
 * (./tree.ts `ancestorsOf`), lowest level first and once per batch however many of
 * its blocks changed, is recomputed: read its `rev`, then its children (one
 * consistent Query), and put the sum on condition that `rev` is still what was
 * read (a sum equal to the stored one is not written). Two processors racing on one
 * sum (two stream shards) cannot leave an old one: whoever read its children last
 * read `rev` after the other's child write, so a write between them fails its
 * condition and reads again. Redelivery recomputes the same sums: nothing doubles.
 *
 * Summaries left empty (nothing held, no lease) get a `ttl` two days out — longer
 * than the stream keeps a record, so no older record can come back after the TTL
 * deleted one — and a deleted subnet's summaries go by themselves (its empty
 * blocks' REMOVEs empty them).
 *
 * The audit rebuilds what the stream left missing, wrong or lapsed
 * ({@link rebuildBlockSummary}, then {@link recomputeSums}: the same sums, the same
 * `rev` conditions). It knows no sequence number, so it keeps the `v` it read: every
 * record written after that one still wins, and its write is conditioned on the
 * summary being exactly as read — before the block was read again — so it never
 * lands on a newer image's summary.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { inParallel } from '../inParallel.js';
import type { Cidr } from '../net/address.js';
import type { IpamContext } from '../store/context.js';
import { mapKeys } from '../store/keys.js';
import { backoffMs, isConditionalCheckFailed, RETRY, sleep } from '../store/retry.js';
import { TTL_ATTRIBUTE } from '../store/table.js';
import { type BlockState, blockFromItem } from '../subnets/blocks.js';
import {
  blockSummary,
  isEmpty,
  readSummaries,
  type Summary,
  sameSummary,
  summaryAttributes,
  summaryFromItem,
  sumOf,
} from './summaries.js';
import { ancestorsOf, childrenOf, hasSummaries, type Node } from './tree.js';

/** One block record of the stream: its new image (undefined: the block was deleted). */
export interface BlockImage {
  readonly subnetId: string;
  readonly block: bigint;
  readonly sequenceNumber: string;
  readonly image: Record<string, unknown> | undefined;
}

export interface MapTally {
  read: number;
  write: number;
}

export interface RefreshOptions {
  /** The subnet's CIDR (cached by the caller), undefined when it is not known. */
  readonly cidrOf: (subnetId: string) => Promise<Cidr | undefined>;
  readonly tally: MapTally;
  readonly concurrency?: number;
}

/** Longer than the stream's 24 h: no record older than an empty summary outlives it. */
const EMPTY_TTL_SECONDS = 2 * 24 * 3600;
const SEQUENCE_DIGITS = 40;

/** A sum kept changing under its recompute (every attempt's condition failed). */
export class SummaryContentionError extends Error {
  override readonly name = 'SummaryContentionError';
}

/**
 * Applies a batch's block images. Returns the images whose summaries (or a sum
 * above them) could not be written, with the error: their records are to be
 * delivered again.
 */
export async function refreshSummaries(
  ctx: IpamContext,
  images: readonly BlockImage[],
  options: RefreshOptions,
): Promise<Map<BlockImage, unknown>> {
  const failed = new Map<BlockImage, unknown>();
  const newest = new Map<string, BlockImage>();
  for (const image of images) {
    const id = `${image.subnetId}/${image.block}`;
    const known = newest.get(id);
    if (known === undefined || BigInt(known.sequenceNumber) < BigInt(image.sequenceNumber)) {
      newest.set(id, image);
    }
  }
  const now = Math.floor(ctx.now() / 1000);
  // Sums to recompute, by level, each with the images below it.
  const sums = new Map<
    number,
    Map<string, { subnetId: string; node: Node; below: BlockImage[] }>
  >();
  await inParallel([...newest.values()], options.concurrency, async (image) => {
    try {
      const cidr = await options.cidrOf(image.subnetId);
      if (cidr === undefined || !hasSummaries(cidr)) return;
      const written = await putBlockSummary(ctx, image, now, options.tally);
      if (!written) return; // a newer image is there: its own record recomputes above it
      for (const node of ancestorsOf(cidr, image.block)) {
        const level = sums.get(node.level) ?? new Map();
        sums.set(node.level, level);
        const id = `${image.subnetId}/${node.index}`;
        const entry = level.get(id) ?? { subnetId: image.subnetId, node, below: [] };
        entry.below.push(image);
        level.set(id, entry);
      }
    } catch (error) {
      failed.set(image, error);
    }
  });
  for (const level of [...sums.keys()].sort((x, y) => x - y)) {
    const entries = [...(sums.get(level)?.values() ?? [])].filter((entry) =>
      entry.below.some((image) => !failed.has(image)),
    );
    await inParallel(entries, options.concurrency, async ({ subnetId, node, below }) => {
      try {
        await recomputeSum(ctx, subnetId, node, now, options.tally);
      } catch (error) {
        for (const image of below) if (!failed.has(image)) failed.set(image, error);
      }
    });
  }
  return failed;
}

/** Puts a block's summary unless a newer image's is there; true when written. */
async function putBlockSummary(
  ctx: IpamContext,
  image: BlockImage,
  now: number,
  tally: MapTally,
): Promise<boolean> {
  const summary = blockSummary(blockFromItem(image.block, image.image), now);
  try {
    const output = await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: {
          ...mapKeys.summary(image.subnetId, 0, image.block),
          ...itemOf(summary, now),
          v: image.sequenceNumber.padStart(SEQUENCE_DIGITS, '0'),
        },
        ConditionExpression: 'attribute_not_exists(v) OR v <= :v',
        ExpressionAttributeValues: { ':v': image.sequenceNumber.padStart(SEQUENCE_DIGITS, '0') },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    tally.write += output.ConsumedCapacity?.CapacityUnits ?? 0;
    return true;
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
    tally.write += 1; // a failed condition is billed too
    return false;
  }
}

/**
 * The audit's rebuild of one block's summary from `block`, read consistently after
 * `read` (the summary item as read; undefined: there was none): put on condition
 * that the item is still exactly `read`, keeping its `v`, so a record processed
 * meanwhile (a newer image) makes it write nothing and any later record still
 * wins. True when written.
 */
export async function rebuildBlockSummary(
  ctx: IpamContext,
  subnetId: string,
  block: BlockState,
  read: Record<string, unknown> | undefined,
  now: number,
  tally: MapTally,
): Promise<boolean> {
  const key = mapKeys.summary(subnetId, 0, block.block);
  const kept = read?.v;
  try {
    const output = await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: {
          ...key,
          ...itemOf(blockSummary(block, now), now),
          ...(kept === undefined ? {} : { v: kept }),
        },
        ...unchangedSince(read),
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    tally.write += output.ConsumedCapacity?.CapacityUnits ?? 0;
    return true;
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
    tally.write += 1;
    return false;
  }
}

/** The summary attributes a write may change, each as read (or still absent). */
const WRITTEN = ['a', 'l', 'q', 'at', 'next', 'v'] as const;

function unchangedSince(read: Record<string, unknown> | undefined) {
  if (read === undefined) return { ConditionExpression: 'attribute_not_exists(pk)' };
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const terms = WRITTEN.map((name, i) => {
    names[`#n${i}`] = name;
    if (read[name] === undefined) return `attribute_not_exists(#n${i})`;
    values[`:v${i}`] = read[name];
    return `#n${i} = :v${i}`;
  });
  return {
    ConditionExpression: terms.join(' AND '),
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length === 0 ? {} : { ExpressionAttributeValues: values }),
  };
}

/**
 * Recomputes the sums above `blocks` of one subnet, lowest level first, each once
 * (the processor's code and conditions: {@link recomputeSum}).
 */
export async function recomputeSums(
  ctx: IpamContext,
  subnetId: string,
  cidr: Cidr,
  blocks: Iterable<bigint>,
  now: number,
  tally: MapTally,
): Promise<void> {
  const byLevel = new Map<number, Map<bigint, Node>>();
  for (const block of blocks) {
    for (const node of ancestorsOf(cidr, block)) {
      const level = byLevel.get(node.level) ?? new Map<bigint, Node>();
      byLevel.set(node.level, level);
      level.set(node.index, node);
    }
  }
  for (const level of [...byLevel.keys()].sort((x, y) => x - y)) {
    const nodes = [...(byLevel.get(level)?.values() ?? [])];
    await inParallel(nodes, undefined, (node) => recomputeSum(ctx, subnetId, node, now, tally));
  }
}

/** Recomputes one sum from its children, optimistically on its `rev`. */
async function recomputeSum(
  ctx: IpamContext,
  subnetId: string,
  node: Node,
  now: number,
  tally: MapTally,
): Promise<void> {
  const key = mapKeys.summary(subnetId, node.level, node.index);
  const children = childrenOf(node);
  for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
    // `rev` first, then the children: see the header for why this order.
    const current = await ctx.doc.send(
      new GetCommand({
        TableName: ctx.tableName,
        Key: key,
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    tally.read += current.ConsumedCapacity?.CapacityUnits ?? 0;
    const stored =
      current.Item === undefined ? undefined : summaryFromItem(current.Item, node.index);
    const parts = await readSummaries(
      ctx,
      subnetId,
      children.level,
      children.first,
      children.last,
      true,
      tally,
    );
    const sum = sumOf(parts.values());
    if (stored === undefined ? isEmpty(sum) : sameSummary(stored, sum)) return;
    try {
      const output = await ctx.doc.send(
        new PutCommand({
          TableName: ctx.tableName,
          Item: { ...key, ...itemOf(sum, now), rev: (stored?.rev ?? 0) + 1 },
          ...(stored?.rev === undefined
            ? { ConditionExpression: 'attribute_not_exists(rev)' }
            : {
                ConditionExpression: 'rev = :rev',
                ExpressionAttributeValues: { ':rev': stored.rev },
              }),
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      tally.write += output.ConsumedCapacity?.CapacityUnits ?? 0;
      return;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      tally.write += 1;
      await sleep(backoffMs(attempt));
    }
  }
  throw new SummaryContentionError(
    `map summary ${key.pk} ${key.sk} kept changing while it was recomputed; the record is retried`,
  );
}

function itemOf(summary: Summary, now: number): Record<string, unknown> {
  return {
    ...summaryAttributes(summary),
    ...(isEmpty(summary) ? { [TTL_ATTRIBUTE]: now + EMPTY_TTL_SECONDS } : {}),
  };
}
