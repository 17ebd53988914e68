/**
 * The stream poller's opt-in delivery realism (tests and the soak): what a Lambda
 * event source mapping does to the processor, and one in-order reader of DynamoDB
 * Local's stream never does. Without it the poller hands each batch over once, as read.
 *
 * - Shards. DynamoDB Local keeps a stream in one shard; DynamoDB keeps one per
 *   partition, each read on its own. What is read from the shard at a time (up to
 *   `readSize`, default 10 × `batchSize`) is dealt out to `lanes` by a hash of the
 *   partition key (one item's records stay in one lane, in order), and each lane
 *   delivers its part on its own, in batches of at most `batchSize` (default 100,
 *   the event source mapping's default), without waiting for the other lanes: one
 *   lane's records overtake another's. The next read waits for every lane.
 * - Delay. Each delivery of a lane is due a random 0..`delayMs` after the lane's
 *   previous delivery began (the first, after the read): it waits only for what is
 *   left of that, so delays overlap the processing instead of adding to it, and the
 *   table runs further ahead of the stream.
 * - Redelivery. With probability `redeliver`, a lane's delivery is cut after a random
 *   prefix and delivered again from an earlier record: its start (Lambda retrying a
 *   batch that failed part-way) or a random one (a bisected half). That can repeat,
 *   so a record may be processed two times or more, in order in its lane.
 * - Restart. With probability `restarts` (default `redeliver` / 4) per `batchSize`
 *   records read, the poller "restarts" part-way through them: each lane processes a
 *   random prefix of its records among those, the checkpoint stays before them (the
 *   shard gives them again at the next poll, with whatever came since), and the
 *   subnet cache starts empty (a cold container). One restart in five forgets every
 *   checkpoint and reads from TRIM_HORIZON again, as a restarted `npm start` does —
 *   at most `fromStartAtMost` times (default: no limit), since each one processes
 *   the whole stream so far again.
 *
 * Every choice for a read is drawn before any of it is processed, from one seeded
 * generator, so a run can be replayed by its seed as far as the timing of the reads
 * allows; `counters` says what was injected, `timings` where the lanes' time went.
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
  /** Records a lane delivers at a time at most (default 100). */
  readonly batchSize?: number;
  /** Records read from the shard at a time, dealt out to the lanes (default 10 × batchSize). */
  readonly readSize?: number;
  /** Restarts that go back to TRIM_HORIZON at most (default: no limit); later ones restart the batch. */
  readonly fromStartAtMost?: number;
  /** Seed of the generator behind every choice (default 1). */
  readonly seed?: number;
}

export interface StreamRealismCounters {
  /** Reads from the shard (a restarted one counts again). */
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
  /** `batch`: read again from `restartAt`; `fromStart`: every shard from TRIM_HORIZON. */
  readonly restart: 'batch' | 'fromStart' | undefined;
  /**
   * The first record (its index in what was read) that a restart left unfinished:
   * every record before it was delivered to its end (unless it failed). The length
   * of the read when there was no restart.
   */
  readonly restartAt: number;
}

/** Where the lanes' time went (ms, summed over the lanes). */
export interface StreamRealismTimings {
  /** Waiting for deliveries to fall due (what of the delays the processing did not cover). */
  waitMs: number;
  /** In the processor. */
  processMs: number;
}

/** One delivery of a lane: its records `from`..`to` (exclusive), due `waitMs` after the one before began. */
interface Step {
  readonly waitMs: number;
  readonly from: number;
  readonly to: number;
}

/** A lane's records as read, and its deliveries of them. */
interface LanePlan {
  readonly records: readonly StreamRecordInput[];
  readonly steps: readonly Step[];
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
  readonly timings: StreamRealismTimings = { waitMs: 0, processMs: 0 };
  /** The processor's subnet cache: a new one after each restart. */
  places = new SubnetPlaces();
  /** Records to read from the shard at a time. */
  readonly readSize: number;
  private readonly batchSize: number;
  private readonly fromStartAtMost: number;
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
    this.readSize = Math.max(1, Math.floor(options.readSize ?? 10 * this.batchSize));
    this.fromStartAtMost = options.fromStartAtMost ?? Number.POSITIVE_INFINITY;
  }

  /** Delivers what was read from a shard through `process`, as planned. */
  async deliver(
    records: readonly StreamRecordInput[],
    process: (records: readonly StreamRecordInput[]) => Promise<ProcessResult>,
  ): Promise<Delivered> {
    this.counters.batches += 1;
    const { restart, restartAt } = this.restartPoint(records.length);
    const plans = this.plan(records, restartAt, restart !== undefined);
    const readAt = Date.now();
    const results = await Promise.all(plans.map((plan) => this.run(plan, readAt, process)));
    if (restart !== undefined) {
      this.counters.restarts += 1;
      if (restart === 'fromStart') this.counters.fromStart += 1;
      this.places = new SubnetPlaces();
    }
    return { ...merged(records, results.flat()), restart, restartAt };
  }

  /** A lane's deliveries, one after another; a failure ends them (the poller retries from it). */
  private async run(
    plan: LanePlan,
    readAt: number,
    process: (records: readonly StreamRecordInput[]) => Promise<ProcessResult>,
  ): Promise<ProcessResult[]> {
    const done: ProcessResult[] = [];
    let previousStart = readAt;
    for (const step of plan.steps) {
      const wait = previousStart + step.waitMs - Date.now();
      if (wait > 0) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        this.timings.waitMs += wait;
      }
      previousStart = Date.now();
      if (step.to === step.from) continue;
      this.counters.delivered += step.to - step.from;
      const result = await process(plan.records.slice(step.from, step.to));
      this.timings.processMs += Date.now() - previousStart;
      done.push(result);
      if (result.firstFailure !== undefined) break;
    }
    return done;
  }

  /**
   * Whether a restart cuts this read, and where: each `batchSize` records in turn
   * may (as when each was read on its own); those before are delivered in full.
   */
  private restartPoint(n: number): Pick<Delivered, 'restart' | 'restartAt'> {
    for (let at = 0; at < n; at += this.batchSize) {
      if (this.random() < this.restarts) {
        const back = this.random() < 0.2 && this.counters.fromStart < this.fromStartAtMost;
        return { restart: back ? 'fromStart' : 'batch', restartAt: at };
      }
    }
    return { restart: undefined, restartAt: n };
  }

  /**
   * Each lane's records and deliveries: those before `restartAt` in batches, each
   * maybe redelivered; after a restart, a random prefix of the lane's records of
   * the `batchSize` from `restartAt` (maybe none), once.
   */
  private plan(
    records: readonly StreamRecordInput[],
    restartAt: number,
    restarted: boolean,
  ): LanePlan[] {
    const whole = this.deal(records.slice(0, restartAt));
    const cut = restarted
      ? this.deal(records.slice(restartAt, restartAt + this.batchSize))
      : whole.map(() => []);
    const plans: LanePlan[] = [];
    for (const [lane, mine] of whole.entries()) {
      const rest = cut[lane] ?? [];
      if (mine.length + rest.length === 0) continue;
      const steps: Step[] = [];
      for (let from = 0; from < mine.length; from += this.batchSize) {
        steps.push(...this.steps(from, Math.min(mine.length, from + this.batchSize)));
      }
      if (restarted) steps.push(this.prefix(mine.length, mine.length + rest.length));
      plans.push({ records: [...mine, ...rest], steps });
    }
    return plans;
  }

  /** Every lane's records, in stream order (empty lanes too). */
  private deal(records: readonly StreamRecordInput[]): StreamRecordInput[][] {
    const lanes = Array.from({ length: this.lanes }, () => [] as StreamRecordInput[]);
    for (const record of records) {
      const pk = (record.dynamodb?.Keys as Record<string, { S?: string }> | undefined)?.pk?.S;
      lanes[laneOf(pk ?? '', this.lanes)]?.push(record);
    }
    return lanes;
  }

  /** The deliveries of a lane's records `start`..`end`: cut and again from earlier, then to the end. */
  private steps(start: number, end: number): Step[] {
    const steps: Step[] = [];
    let from = start;
    while (steps.length < MAX_REDELIVERIES && this.random() < this.redeliver) {
      const to = from + 1 + Math.floor(this.random() * (end - from));
      steps.push({ waitMs: this.wait(), from, to });
      from = this.random() < 0.5 ? start : start + Math.floor(this.random() * (to - start));
      this.counters.redeliveries += 1;
    }
    steps.push({ waitMs: this.wait(), from, to: end });
    return steps;
  }

  /** A restart's only delivery of the lane's records `start`..`end`: a random prefix, maybe empty. */
  private prefix(start: number, end: number): Step {
    const to = start + Math.floor(this.random() * (end - start + 1));
    return { waitMs: this.wait(), from: start, to };
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
