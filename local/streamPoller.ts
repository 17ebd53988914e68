/**
 * The stream processor of `npm start` and the tests: polls DynamoDB Local's stream of
 * the table (every shard of its latest stream, parents before children) and hands
 * each batch to processStreamRecords, the same code the deployed Lambda runs.
 *
 * The checkpoint is in memory: a restarted poller begins again at TRIM_HORIZON, and
 * the processor's idempotency makes that safe (entries are found, not rewritten;
 * published events are not published again). A failed record is retried from
 * itself on the next poll; after `maxAttempts` it is logged and skipped, as the
 * Lambda's on-failure destination would take it.
 *
 * `realism` (tests and the soak; off by default) delivers as a Lambda event source
 * mapping may: shards overtaking each other, delays, batches redelivered from an
 * earlier record, restarts part-way through a batch (./streamRealism.ts).
 */
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { EventPublisher } from '../shared/events/index.js';
import {
  type ProcessOptions,
  type ProcessResult,
  processStreamRecords,
  type StreamRecordInput,
} from '../shared/history/index.js';
import type { IpamContext } from '../shared/store/context.js';
import { type Delivered, StreamDelivery, type StreamRealism } from './streamRealism.js';

export interface StreamPollerOptions {
  readonly ctx: IpamContext;
  /** The table's client (DescribeTable finds the stream). */
  readonly client: DynamoDBClient;
  /** DynamoDB Local's endpoint, for the streams client. */
  readonly endpoint: string;
  readonly region?: string;
  readonly publisher: EventPublisher;
  readonly intervalMs?: number;
  readonly maxAttempts?: number;
  readonly processOptions?: ProcessOptions;
  /** Where problems go (default: stderr). */
  readonly log?: (message: string, detail?: unknown) => void;
  /**
   * Deliver as AWS may (./streamRealism.ts): lanes, delays, redelivery, restarts;
   * the processor then uses the realism's own subnet cache. Off when omitted.
   */
  readonly realism?: StreamRealism;
}

interface ShardState {
  readonly shard: Shard;
  iterator: string | undefined;
  /** The last sequence number fully processed (the checkpoint). */
  checkpoint: string | undefined;
  /** Closed and read to its end. */
  done: boolean;
  /** Attempts at the record the shard is stuck on. */
  attempts: number;
}

export class StreamPoller {
  private readonly streams: DynamoDBStreamsClient;
  private readonly shards = new Map<string, ShardState>();
  private readonly intervalMs: number;
  private readonly maxAttempts: number;
  private readonly log: (message: string, detail?: unknown) => void;
  private streamArn: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private last: Promise<unknown> = Promise.resolve();
  /** Set by a simulated restart that lost every checkpoint: the next pass starts afresh. */
  private forgetShards = false;
  /** The realism mode, when asked for (its `counters` say what it injected). */
  readonly delivery: StreamDelivery | undefined;
  /** Records handed to the processor so far (for tests and the lag script). */
  recordsSeen = 0;
  /** Write capacity the processor spent so far. */
  writeCapacity = 0;
  /** History entries the processor wrote, and events it published, so far. */
  entriesWritten = 0;
  eventsPublished = 0;
  /** Of `recordsSeen`, those read before (restarts, failures: the shard gives them again). */
  recordsReadAgain = 0;
  /** Where the passes' time went (ms, summed): GetRecords, and the batches through the processor. */
  readonly timings = { reads: 0, readMs: 0, processMs: 0 };
  /** The newest sequence number read, and the newest checkpointed (any shard). */
  private newestRead = -1n;
  private newestCheckpointed = -1n;
  /** The newest sequence number `streamHead` saw in the stream. */
  private head = -1n;

  constructor(private readonly options: StreamPollerOptions) {
    this.streams = new DynamoDBStreamsClient({
      region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
      endpoint: options.endpoint,
      // DynamoDB Local accepts any credentials.
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    this.intervalMs = options.intervalMs ?? 250;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.log =
      options.log ??
      ((message, detail) =>
        console.error(message, detail instanceof Error ? detail.message : (detail ?? '')));
    this.delivery = options.realism === undefined ? undefined : new StreamDelivery(options.realism);
  }

  /**
   * Starts polling: a poll that found records is followed by the next at once (the
   * shard may hold more), any other begins `intervalMs` after the previous one ended.
   */
  start(): this {
    const tick = () => {
      if (this.stopped) return;
      let found = false;
      this.running = this.pollOnce()
        .then((processed) => {
          found = processed > 0;
        })
        .catch((error: unknown) => this.log('stream poll failed; polling on', error))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, found ? 0 : this.intervalMs);
        });
    };
    tick();
    return this;
  }

  /** Stopped (or stopping): polls no more, and its streams client is gone. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Stops after the poll under way (nothing is left half-processed). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
    this.streams.destroy();
  }

  /**
   * One pass over every readable shard; returns how many records it processed.
   * Passes never overlap (a test may call this while the timer polls).
   */
  pollOnce(): Promise<number> {
    const pass = this.last.then(() => this.pass());
    this.last = pass.catch(() => undefined);
    return pass;
  }

  private async pass(): Promise<number> {
    if (this.forgetShards) {
      this.shards.clear(); // every shard from TRIM_HORIZON again
      this.forgetShards = false;
    }
    await this.discoverShards();
    let processed = 0;
    for (const state of this.shards.values()) {
      if (state.done || !this.parentDone(state)) continue;
      processed += await this.readShard(state);
    }
    return processed;
  }

  private async discoverShards(): Promise<void> {
    if (this.streamArn === undefined) {
      const { Table } = await this.options.client.send(
        new DescribeTableCommand({ TableName: this.options.ctx.tableName }),
      );
      this.streamArn = Table?.LatestStreamArn;
      if (this.streamArn === undefined) {
        throw new Error(`Table ${this.options.ctx.tableName} has no stream enabled.`);
      }
    }
    let start: string | undefined;
    do {
      const { StreamDescription } = await this.streams.send(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: start }),
      );
      for (const shard of StreamDescription?.Shards ?? []) {
        const id = shard.ShardId;
        if (id === undefined || this.shards.has(id)) continue;
        this.shards.set(id, {
          shard,
          iterator: undefined,
          checkpoint: undefined,
          done: false,
          attempts: 0,
        });
      }
      start = StreamDescription?.LastEvaluatedShardId;
    } while (start !== undefined);
  }

  /** A child shard waits until its parent is read to the end (per-item order). */
  private parentDone(state: ShardState): boolean {
    const parent = state.shard.ParentShardId;
    if (parent === undefined) return true;
    const known = this.shards.get(parent);
    return known === undefined || known.done; // a parent trimmed away is done
  }

  private async readShard(state: ShardState): Promise<number> {
    state.iterator ??= await this.iteratorFor(state);
    if (state.iterator === undefined) {
      state.done = true; // nothing left to read in it
      return 0;
    }
    let output: Awaited<ReturnType<typeof this.getRecords>>;
    try {
      const started = Date.now();
      output = await this.getRecords(state.iterator);
      this.timings.reads += 1;
      this.timings.readMs += Date.now() - started;
    } catch (error) {
      if (
        error instanceof ExpiredIteratorException ||
        error instanceof TrimmedDataAccessException
      ) {
        state.iterator = undefined; // from the checkpoint again on the next poll
        return 0;
      }
      throw error;
    }
    const records = (output.Records ?? []) as StreamRecordInput[];
    if (records.length === 0) {
      state.iterator = output.NextShardIterator;
      if (state.iterator === undefined) state.done = true; // closed and read
      return 0;
    }
    for (const record of records) {
      const sequence = sequenceOf(record);
      if (sequence <= this.newestRead) this.recordsReadAgain += 1;
      else this.newestRead = sequence;
    }
    const started = Date.now();
    const result = await this.process(records);
    this.timings.processMs += Date.now() - started;
    this.recordsSeen += records.length;
    this.writeCapacity += result.capacity.write;
    this.entriesWritten += result.entriesWritten;
    this.eventsPublished += result.eventsPublished;
    const first = result.firstFailure;
    const firstIndex =
      first === undefined
        ? -1
        : records.findIndex((record) => record.dynamodb?.SequenceNumber === first.sequenceNumber);
    if (result.restart !== undefined) {
      // A simulated restart part-way through: again from where it cut (or the first
      // failure before that), whatever else the lanes got to.
      const cut = result.restartAt ?? 0;
      const done = firstIndex >= 0 && firstIndex < cut ? firstIndex : cut;
      this.checkpointAt(state, records[done - 1]);
      state.iterator = undefined;
      if (result.restart === 'fromStart') this.forgetShards = true;
      return records.length;
    }
    if (first === undefined || firstIndex < 0) {
      this.checkpointAt(state, records.at(-1));
      state.iterator = output.NextShardIterator;
      state.attempts = 0;
      if (state.iterator === undefined) state.done = true;
      return records.length;
    }
    state.attempts += 1;
    if (state.attempts >= this.maxAttempts) {
      // What the Lambda's on-failure destination would receive: give up on it, go on.
      this.log(
        `stream record ${first.sequenceNumber} failed ${state.attempts} times; skipped`,
        first.error,
      );
      state.checkpoint = first.sequenceNumber;
      state.attempts = 0;
    } else {
      this.log(`stream record ${first.sequenceNumber} failed; retrying`, first.error);
      state.checkpoint = records[firstIndex - 1]?.dynamodb?.SequenceNumber ?? state.checkpoint;
    }
    state.iterator = undefined; // re-read from the checkpoint
    return firstIndex;
  }

  /** Moves the shard's checkpoint to `record` (none: it stays). */
  private checkpointAt(state: ShardState, record: StreamRecordInput | undefined): void {
    if (record?.dynamodb?.SequenceNumber === undefined) return;
    state.checkpoint = record.dynamodb.SequenceNumber;
    const sequence = sequenceOf(record);
    if (sequence > this.newestCheckpointed) this.newestCheckpointed = sequence;
  }

  /**
   * About how many records the stream holds beyond the newest checkpoint (for the
   * soak's progress lines): sequence numbers apart, which counts records where they
   * are dense — DynamoDB Local numbers the records of all its tables in one
   * sequence, so with one table streaming. `undefined` until `streamHead` found one.
   */
  backlog(): number | undefined {
    if (this.head < 0n) return undefined;
    const behind = this.head - this.newestCheckpointed;
    return Number(behind > 0n ? behind : 0n);
  }

  /**
   * Looks for the newest record of the stream: a LATEST iterator of each open shard
   * gives what is written after it, so this waits `settleMs` for the next write and
   * reads one record. Finds nothing while nothing is written (the head stays as last
   * seen). A few requests: meant for now and then, not per pass.
   */
  async streamHead(settleMs = 1000): Promise<void> {
    if (this.streamArn === undefined) return;
    const open = [...this.shards.values()].filter((state) => !state.done);
    const iterators = await Promise.all(
      open.map(async ({ shard }) => {
        const { ShardIterator } = await this.streams.send(
          new GetShardIteratorCommand({
            StreamArn: this.streamArn,
            ShardId: shard.ShardId,
            ShardIteratorType: 'LATEST',
          }),
        );
        return ShardIterator;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    for (const iterator of iterators) {
      if (iterator === undefined) continue;
      const { Records } = await this.streams.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: 1 }),
      );
      const first = Records?.[0] as StreamRecordInput | undefined;
      if (first !== undefined && sequenceOf(first) > this.head) this.head = sequenceOf(first);
    }
    if (this.newestRead > this.head) this.head = this.newestRead;
  }

  /** The batch through the processor: once, or as the realism mode plans it. */
  private async process(
    records: StreamRecordInput[],
  ): Promise<ProcessResult & Partial<Pick<Delivered, 'restart' | 'restartAt'>>> {
    const { ctx, publisher, processOptions } = this.options;
    const delivery = this.delivery;
    if (delivery === undefined)
      return processStreamRecords(ctx, records, publisher, processOptions);
    return delivery.deliver(records, (part) =>
      processStreamRecords(ctx, part, publisher, { ...processOptions, places: delivery.places }),
    );
  }

  private getRecords(iterator: string) {
    const limit = this.delivery?.readSize ?? 1000;
    return this.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }));
  }

  private async iteratorFor(state: ShardState): Promise<string | undefined> {
    const { ShardIterator } = await this.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: state.shard.ShardId,
        ...(state.checkpoint === undefined
          ? { ShardIteratorType: 'TRIM_HORIZON' }
          : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: state.checkpoint }),
      }),
    );
    return ShardIterator;
  }
}

/** A record's sequence number as a number (-1 when it has none). */
function sequenceOf(record: StreamRecordInput): bigint {
  const sequence = record.dynamodb?.SequenceNumber;
  return sequence !== undefined && /^[0-9]+$/.test(sequence) ? BigInt(sequence) : -1n;
}

/**
 * Every record of a table's stream so far, every shard from TRIM_HORIZON (tests and
 * scripts that look at what the stream holds; the poller itself reads on from a
 * checkpoint).
 */
export async function readStreamFromStart(
  endpoint: string,
  client: DynamoDBClient,
  tableName: string,
): Promise<_Record[]> {
  const streams = new DynamoDBStreamsClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const arn = Table?.LatestStreamArn;
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: arn }));
    const records: _Record[] = [];
    for (const shard of StreamDescription?.Shards ?? []) {
      let iterator = (
        await streams.send(
          new GetShardIteratorCommand({
            StreamArn: arn,
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        )
      ).ShardIterator;
      while (iterator !== undefined) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
        records.push(...(page.Records ?? []));
        if ((page.Records ?? []).length === 0) break; // an open shard: read to its end
        iterator = page.NextShardIterator;
      }
    }
    return records;
  } finally {
    streams.destroy();
  }
}
