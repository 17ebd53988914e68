/**
 * The stream processor: one batch of stream records → history entries and their
 * events, and the address map's summaries (shared/map/refresh.ts). Shared by the Lambda (functions/stream/) and the local poller
 * (local/streamPoller.ts).
 *
 * At-least-once in, once out: each entry's key comes from its record, so a
 * redelivered record finds its entry (conditional put) and writes nothing; an entry
 * is written `published: false`, its event published, then marked — a redelivered
 * record whose entry is marked publishes nothing. Records of one item are handled
 * in stream order; a record that fails holds back the later records of the same
 * item (they come again with it), while other items' records go on.
 */
import { createHash } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { eventOf } from '../events/event.js';
import type { EventPublisher } from '../events/publisher.js';
import { applyHints, hintsWanted, type ItemChange } from '../hints/index.js';
import { inParallel } from '../inParallel.js';
import { type BlockImage, refreshSummaries } from '../map/refresh.js';
import { parseCidr } from '../net/address.js';
import type { IpamContext } from '../store/context.js';
import { parseBlockSort, parseItemKey } from '../store/keys.js';
import { geometryOf } from '../subnets/geometry.js';
import { type DerivedEntry, deriveEntries, type HeldFor, withNote } from './derive.js';
import type { HistoryItem } from './entry.js';
import { heldEntries, holdEntry, stillPending, wasUndone } from './held.js';
import { historyKeys, isHistoryKey } from './keys.js';
import { type Place, SubnetPlaces } from './places.js';
import { type ChangeRecord, type StreamRecordInput, toChangeRecord } from './records.js';
import { historyRetentionDays } from './settings.js';
import { awaitPublished, type CapacityTally, markPublished, newTally, putEntry } from './store.js';

export interface ProcessOptions {
  readonly retentionDays?: number;
  /** Kept across batches (module default): subnets' cidr and space. */
  readonly places?: SubnetPlaces;
  /** Items handled at once (default 8; records of one item always one after another). */
  readonly concurrency?: number;
  /**
   * Also derive the blocks' hints from the allocation items' changes (shared/hints/;
   * issue 17 stage 2: written beside the blocks, read only by checks). Default:
   * `IPAM_HINTS` (hints/settings.ts), off.
   */
  readonly hints?: boolean;
}

export interface RecordFailure {
  readonly sequenceNumber: string | undefined;
  readonly error: unknown;
}

export interface ProcessResult {
  /** The earliest failed record of the batch (what Lambda checkpoints before). */
  readonly firstFailure: RecordFailure | undefined;
  /** Every failed record, held-back ones included, in batch order. */
  readonly failures: readonly RecordFailure[];
  readonly entriesWritten: number;
  readonly eventsPublished: number;
  readonly capacity: CapacityTally;
}

const defaultPlaces = new SubnetPlaces();

/** Processes a batch; never throws for a record (failures are in the result). */
export async function processStreamRecords(
  ctx: IpamContext,
  records: readonly StreamRecordInput[],
  publisher: EventPublisher,
  options: ProcessOptions = {},
): Promise<ProcessResult> {
  const run = {
    ctx,
    publisher,
    retentionDays: options.retentionDays ?? historyRetentionDays(),
    places: options.places ?? defaultPlaces,
    tally: newTally(),
    written: 0,
    published: 0,
  };
  // Records by item, in stream order: one item's records run one after another.
  const groups = new Map<string, number[]>();
  records.forEach((record, index) => {
    const keys = record.dynamodb?.Keys as Record<string, { S?: string } | undefined> | undefined;
    const item = `${keys?.pk?.S ?? `?${index}`}\u0000${keys?.sk?.S ?? ''}`;
    groups.set(item, [...(groups.get(item) ?? []), index]);
  });
  // Each record read once (an unreadable one fails where it is processed).
  const parsed = records.map(readRecord);
  const failed = new Map<number, unknown>();
  await inParallel([...groups.values()], options.concurrency, async (group) => {
    for (const [position, index] of group.entries()) {
      try {
        const read = parsed[index] as Parsed;
        if ('error' in read) throw read.error;
        await processRecord(run, read.record);
      } catch (error) {
        failed.set(index, error);
        // The item's later records wait for this one (they are redelivered with it).
        for (const later of group.slice(position + 1)) failed.set(later, error);
        break;
      }
    }
  });
  // The map's summaries and the blocks' hints are independent: written at once.
  await Promise.all([
    refreshMap(run, parsed, failed, options.concurrency),
    (options.hints ?? hintsWanted())
      ? refreshHints(run, parsed, failed, options.concurrency)
      : undefined,
  ]);
  const failures = [...failed.keys()]
    .sort((a, b) => a - b)
    .map((index) => ({
      sequenceNumber: records[index]?.dynamodb?.SequenceNumber,
      error: failed.get(index),
    }));
  return {
    firstFailure: failures[0],
    failures,
    entriesWritten: run.written,
    eventsPublished: run.published,
    capacity: run.tally,
  };
}

interface Run {
  readonly ctx: IpamContext;
  readonly publisher: EventPublisher;
  readonly retentionDays: number;
  readonly places: SubnetPlaces;
  readonly tally: CapacityTally;
  written: number;
  published: number;
}

/**
 * The address map's summaries (shared/map/refresh.ts) from the batch's block
 * records; a block whose summaries could not be written fails its newest record
 * (the one whose image counts), so it is delivered again.
 */
async function refreshMap(
  run: Run,
  records: readonly Parsed[],
  failed: Map<number, unknown>,
  concurrency: number | undefined,
): Promise<void> {
  const indexOf = new Map<BlockImage, number>();
  for (const { index, record, subnetId } of shardRecords(records, 'block')) {
    if (failed.has(index)) continue;
    const image: BlockImage = {
      subnetId,
      block: parseBlockSort(record.sk),
      sequenceNumber: record.sequenceNumber,
      image: record.newImage,
    };
    indexOf.set(image, index);
  }
  if (indexOf.size === 0) return;
  const failures = await refreshSummaries(run.ctx, [...indexOf.keys()], {
    cidrOf: async (subnetId) => {
      const place = await run.places.of(run.ctx, subnetId, run.tally);
      return place.cidr === null ? undefined : parseCidr(place.cidr);
    },
    tally: run.tally,
    ...(concurrency === undefined ? {} : { concurrency }),
  });
  for (const [image, error] of failures) failed.set(indexOf.get(image) as number, error);
}

/**
 * The blocks' hints (shared/hints/) from every allocation record of the batch, also
 * those whose history failed: they come again with their item's later records, in
 * order, and a hint applies each item's changes in order either way. A hint that
 * could not be written fails its records, so they come again.
 */
async function refreshHints(
  run: Run,
  records: readonly Parsed[],
  failed: Map<number, unknown>,
  concurrency: number | undefined,
): Promise<void> {
  const indexOf = new Map<ItemChange, number>();
  const changes: (ItemChange & { subnetId: string })[] = [];
  for (const { index, record, subnetId } of shardRecords(records, 'allocation')) {
    const change = {
      subnetId,
      pk: record.pk,
      sk: record.sk,
      sequenceNumber: record.sequenceNumber,
      newImage: record.newImage,
    };
    changes.push(change);
    indexOf.set(change, index);
  }
  if (changes.length === 0) return;
  const failures = await applyHints(run.ctx, changes, {
    geometryOf: async (subnetId) => {
      const place = await run.places.of(run.ctx, subnetId, run.tally);
      return place.cidr === null ? undefined : geometryOf(parseCidr(place.cidr));
    },
    tally: run.tally,
    ...(concurrency === undefined ? {} : { concurrency }),
  });
  for (const [change, error] of failures) failed.set(indexOf.get(change) as number, error);
}

/** A stream record as read, or why it could not be. */
type Parsed = { readonly record: ChangeRecord } | { readonly error: unknown };

function readRecord(input: StreamRecordInput): Parsed {
  try {
    return { record: toChangeRecord(input) };
  } catch (error) {
    return { error };
  }
}

/** The batch's records of shard items of one kind, with their place in the batch (unreadable ones failed already). */
function shardRecords(
  records: readonly Parsed[],
  what: 'allocation' | 'block',
): { index: number; record: ChangeRecord; subnetId: string }[] {
  const found: { index: number; record: ChangeRecord; subnetId: string }[] = [];
  records.forEach((read, index) => {
    if ('error' in read) return;
    const key = parseItemKey(read.record.pk, read.record.sk);
    if (key.kind === 'shardItem' && key.what === what) {
      found.push({ index, record: read.record, subnetId: key.subnetId });
    }
  });
  return found;
}

async function processRecord(run: Run, record: ChangeRecord): Promise<void> {
  const ended = endedRequest(record);
  if (ended !== undefined) {
    await releaseHeld(run, ended.subnetId, ended.token);
    return;
  }
  for (const derived of deriveEntries(record)) {
    const entry =
      derived.note === undefined
        ? derived
        : withNote(derived, await readNote(run, derived.note.key));
    const item = await itemOf(run, record, entry);
    if (entry.held !== undefined && !(await heldUntilCommitted(run, entry.held, item))) continue;
    await store(run, item);
  }
}

/**
 * How long a record that finds its entry written but unpublished waits for the
 * writer's mark before it publishes the event itself (the writer may have died).
 */
const PUBLISH_WAIT_MS = 5000;

/**
 * Writes the entry (once) and publishes its event: once, unless a writer dies
 * between its put and its mark (then the next delivery publishes it again — the
 * event id is the same, so consumers can tell).
 */
async function store(run: Run, item: HistoryItem): Promise<void> {
  const stored = await putEntry(run.ctx, item, run.tally);
  if (stored === undefined) run.written += 1;
  if (!run.publisher.publishes || stored?.published === true) return;
  if (stored !== undefined && (await awaitPublished(run.ctx, stored, run.tally, PUBLISH_WAIT_MS)))
    return;
  await run.publisher.publish(eventOf(item));
  run.published += 1;
  await markPublished(run.ctx, { pk: item.pk, sk: item.sk }, run.tally);
}

/**
 * An entry of a multi-step request's item: held aside, and stored now only if the
 * request has already committed (see ./held.ts for why no entry is lost between).
 */
async function heldUntilCommitted(run: Run, held: HeldFor, item: HistoryItem): Promise<boolean> {
  await holdEntry(run.ctx, held, item, run.tally);
  if (await stillPending(run.ctx, held.subnetId, held.token, run.tally)) return false;
  return !(await wasUndone(run.ctx, held.subnetId, held.token, run.tally));
}

/** The request whose pending record this REMOVE deleted: committed, or undone. */
function endedRequest(record: ChangeRecord): { subnetId: string; token: string } | undefined {
  if (isHistoryKey(record.pk) || record.newImage !== undefined) return undefined;
  const key = parseItemKey(record.pk, record.sk);
  return key.kind === 'pending' ? { subnetId: key.subnetId, token: key.token } : undefined;
}

/** Stores the held entries of a request whose pending record is gone, unless it was undone. */
async function releaseHeld(run: Run, subnetId: string, token: string): Promise<void> {
  if (await wasUndone(run.ctx, subnetId, token, run.tally)) return;
  for (const entry of await heldEntries(run.ctx, subnetId, token, run.tally)) {
    await store(run, entry);
  }
}

async function itemOf(run: Run, record: ChangeRecord, entry: DerivedEntry): Promise<HistoryItem> {
  const target = entry.target;
  const place = await placeOf(run, entry);
  const pk =
    target.kind === 'address'
      ? historyKeys.addressPartition(target.subnetId, target.addressHex)
      : historyKeys.subnetPartition(target.subnetId);
  const sk = historyKeys.entrySort(entry.at, record.sequenceNumber, entry.index);
  return {
    pk,
    sk,
    type: 'history',
    at: entry.at,
    action: entry.action,
    actor: entry.actor,
    requestId: entry.requestId,
    owner: entry.owner,
    before: entry.before,
    after: entry.after,
    subnetId: target.subnetId,
    ip: target.kind === 'address' ? target.ip : null,
    cidr: place.cidr,
    space: place.space,
    eventId: eventIdOf(pk, sk),
    published: !run.publisher.publishes,
    ttl: Math.floor(Date.parse(entry.at) / 1000) + run.retentionDays * 86_400,
  };
}

async function placeOf(run: Run, entry: DerivedEntry): Promise<Place> {
  if (entry.cidr !== undefined) {
    const place = { cidr: entry.cidr, space: entry.space ?? null };
    run.places.note(entry.target.subnetId, place);
    return place;
  }
  return run.places.of(run.ctx, entry.target.subnetId, run.tally);
}

/**
 * The note beside a deletion (a subnet's deletion note, an allocation's release
 * note), read consistently: the transaction that wrote it committed before its
 * REMOVE reached the stream, and the note outlives the stream's 24 h.
 */
async function readNote(
  run: Run,
  key: { readonly pk: string; readonly sk: string },
): Promise<Record<string, unknown> | undefined> {
  const output = await run.ctx.doc.send(
    new GetCommand({
      TableName: run.ctx.tableName,
      Key: key,
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  run.tally.read += output.ConsumedCapacity?.CapacityUnits ?? 0;
  return output.Item;
}

/** A stable event id: the same entry key, the same id, on every delivery. */
function eventIdOf(pk: string, sk: string): string {
  return `evt_${createHash('sha256').update(`${pk}\u0000${sk}`).digest('base64url').slice(0, 22)}`;
}
