/**
 * The stream poller's opt-in delivery realism (tests and the soak): what a Lambda
 * event source mapping does to the processor, and one in-order reader of DynamoDB
 * Local's stream never does. Without it the poller hands each batch over once, as read.
 *
 * - Batches of at most `batchSize` records (default 100, the event source mapping's
 *   default) read at a time, not the poller's 1000.
 * - Shards. DynamoDB Local keeps a stream in one shard; DynamoDB keeps one per
 *   partition, each read on its own. Each batch read is dealt out to `lanes` by a
 *   hash of the partition key (one item's records stay in one lane, in order), and
 *   the lanes are processed at once, each as a batch of its own.
 * - Delay. Each delivery of a lane first waits a random 0..`delayMs`: one lane's
 *   records overtake another's, and the table runs further ahead of the stream.
 * - Redelivery. With probability `redeliver`, a lane's delivery is cut after a random
 *   prefix and the lane delivered again from an earlier record: its start (Lambda
 *   retrying a batch that failed part-way) or a random one (a bisected half). That
 *   can repeat, so a record may be processed two times or more, in order in its lane.
 * - Restart. With probability `restarts` (default `redeliver` / 4), the poller "restarts" part-way
 *   through a batch: each lane processes a random prefix of its records, the
 *   checkpoint stays before the batch (the shard gives it again at the next poll,
 *   with whatever came since), and the subnet cache starts empty (a cold container).
 *   One restart in five forgets every checkpoint and reads from TRIM_HORIZON again,
 *   as a restarted `npm start` does.
 *
 * Every choice for a batch is drawn before any of it is processed, from one seeded
 * generator, so a run can be replayed by its seed as far as the timing of the reads
 * allows; `counters` says what was injected.
 */
import {
  type ProcessResult,
  type RecordFailure,
  type StreamRecordInput,
  SubnetPlaces,
} from '../shared/history/index.js';
import { seededRandom } from './seededRandom.js';

export interface StreamRealism {
  /** Each delivery waits a random 0..delayMs first (default 0). */
  readonly delayMs?: number;
  /** Probability that a delivery is cut and comes again from an earlier record (default 0). */
  readonly redeliver?: number;
  /** Probability that a batch is cut short by a simulated restart (default redeliver / 4). */
  readonly restarts?: number;
  /** Shards simulated over DynamoDB Local's one (default 4). */
  readonly lanes?: number;
  /** Records read from the shard at a time (default 100). */
  readonly batchSize?: number;
  /** Seed of the generator behind every choice (default 1). */
  readonly seed?: number;
}

export interface StreamRealismCounters {
  /** Batches read from the shard (a restarted one counts again). */
  batches: number;
  /** Records handed to the processor, redeliveries included. */
  delivered: number;
  /** Deliveries that began again at an earlier record. */
  redeliveries: number;
  /** Simulated restarts part-way through a batch (`fromStart`: back to TRIM_HORIZON). */
  restarts: number;
  fromStart: number;
}

/** What the processor made of a batch, and whether the poller is to act restarted. */
export interface Delivered extends ProcessResult {
  /** `batch`: read the batch again from the checkpoint; `fromStart`: every shard from TRIM_HORIZON. */
  readonly restart: 'batch' | 'fromStart' | undefined;
}

interface Step {
  readonly waitMs: number;
  readonly from: number;
  readonly to: number;
}

/** Redeliveries per lane and batch at most (a bound on what `redeliver` near 1 costs). */
const MAX_REDELIVERIES = 4;

export class StreamDelivery {
  readonly counters: StreamRealismCounters = {
    batches: 0,
    delivered: 0,
    redeliveries: 0,
    restarts: 0,
    fromStart: 0,
  };
  /** The processor's subnet cache: a new one after each restart. */
  places = new SubnetPlaces();
  /** Records to read from the shard at a time. */
  readonly batchSize: number;
  private readonly random: () => number;
  private readonly delayMs: number;
  private readonly redeliver: number;
  private readonly restarts: number;
  private readonly lanes: number;

  constructor(options: StreamRealism) {
    this.random = seededRandom(options.seed ?? 1);
    this.delayMs = options.delayMs ?? 0;
    this.redeliver = options.redeliver ?? 0;
    this.restarts = options.restarts ?? this.redeliver / 4;
    this.lanes = Math.max(1, Math.floor(options.lanes ?? 4));
    this.batchSize = Math.max(1, Math.floor(options.batchSize ?? 100));
  }

  /** Delivers one batch read from a shard through `process`, as planned. */
  async deliver(
    records: readonly StreamRecordInput[],
    process: (records: readonly StreamRecordInput[]) => Promise<ProcessResult>,
  ): Promise<Delivered> {
    this.counters.batches += 1;
    const restart =
      this.random() < this.restarts
        ? this.random() < 0.2
          ? ('fromStart' as const)
          : ('batch' as const)
        : undefined;
    const lanes = this.deal(records).map((lane) => ({
      records: lane,
      steps: restart === undefined ? this.steps(lane.length) : [this.prefix(lane.length)],
    }));
    const results = await Promise.all(
      lanes.map(async ({ records: lane, steps }) => {
        const done: ProcessResult[] = [];
        for (const step of steps) {
          if (step.waitMs > 0) await new Promise((resolve) => setTimeout(resolve, step.waitMs));
          if (step.to === step.from) continue;
          this.counters.delivered += step.to - step.from;
          const result = await process(lane.slice(step.from, step.to));
          done.push(result);
          if (result.firstFailure !== undefined) break; // the poller retries from it
        }
        return done;
      }),
    );
    if (restart !== undefined) {
      this.counters.restarts += 1;
      if (restart === 'fromStart') this.counters.fromStart += 1;
      this.places = new SubnetPlaces();
    }
    return { ...merged(records, results.flat()), restart };
  }

  /** The batch by lane, each in stream order; empty lanes left out. */
  private deal(records: readonly StreamRecordInput[]): StreamRecordInput[][] {
    const lanes = Array.from({ length: this.lanes }, () => [] as StreamRecordInput[]);
    for (const record of records) {
      const pk = (record.dynamodb?.Keys as Record<string, { S?: string }> | undefined)?.pk?.S;
      lanes[laneOf(pk ?? '', this.lanes)]?.push(record);
    }
    return lanes.filter((lane) => lane.length > 0);
  }

  /** The deliveries of a lane of `n` records: cut and again from earlier, then to its end. */
  private steps(n: number): Step[] {
    const steps: Step[] = [];
    let from = 0;
    while (steps.length < MAX_REDELIVERIES && this.random() < this.redeliver) {
      const to = from + 1 + Math.floor(this.random() * (n - from));
      steps.push({ waitMs: this.wait(), from, to });
      from = this.random() < 0.5 ? 0 : Math.floor(this.random() * to);
      this.counters.redeliveries += 1;
    }
    steps.push({ waitMs: this.wait(), from, to: n });
    return steps;
  }

  /** A restart's only delivery: a random prefix, maybe empty. */
  private prefix(n: number): Step {
    return { waitMs: this.wait(), from: 0, to: Math.floor(this.random() * (n + 1)) };
  }

  private wait(): number {
    return Math.floor(this.random() * (this.delayMs + 1));
  }
}

/** FNV-1a of the partition key: one item's records always in the same lane. */
function laneOf(pk: string, lanes: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < pk.length; i++) {
    hash ^= pk.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % lanes;
}

/** The deliveries' results as one: failures in batch order, counts and capacity summed. */
function merged(records: readonly StreamRecordInput[], results: ProcessResult[]): ProcessResult {
  const position = new Map(records.map((record, i) => [record.dynamodb?.SequenceNumber, i]));
  const failures: RecordFailure[] = results
    .flatMap((result) => result.failures)
    .sort((a, b) => (position.get(a.sequenceNumber) ?? 0) - (position.get(b.sequenceNumber) ?? 0));
  const sum = (of: (result: ProcessResult) => number) =>
    results.reduce((total, result) => total + of(result), 0);
  return {
    firstFailure: failures[0],
    failures,
    entriesWritten: sum((result) => result.entriesWritten),
    eventsPublished: sum((result) => result.eventsPublished),
    capacity: {
      read: sum((result) => result.capacity.read),
      write: sum((result) => result.capacity.write),
    },
  };
}
