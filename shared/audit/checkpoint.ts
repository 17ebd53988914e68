/**
 * What a scan segment keeps between its invocations (its checkpoint), and the gate
 * that decides when an invocation stops at its deadline.
 *
 * A segment finishes a partition (all items of one partition key) before it counts
 * it: the checkpoint's `startKey` is the key of the last item of the last finished
 * partition, so a resumed segment reads the unfinished partition again from its
 * first item and nothing is counted twice. What the finished partitions found is in
 * `part` (findings, counts) and `subnets` (each subnet's shard counters, for
 * utilisation at the merge).
 */
import type { AuditSettings } from './options.js';
import type { AuditFinding, FindingCount, FindingType } from './report.js';

/** A DynamoDB key (Scan's or Query's ExclusiveStartKey). */
export type Key = Record<string, unknown>;

/**
 * What a subnet's shards added up to, in one segment: per shard its counter's
 * counts after the audit `[n, p]` (a shard seen twice keeps one value, never a
 * sum), and live allocations outside the pools with a few examples.
 */
export interface SubnetTally extends OutsidePools {
  shards: Record<string, ShardTally>;
}

/**
 * One shard: its counter's `n` and `p` after the audit, then what of them nobody
 * holds (expired leases left, cool-downs: all, in the pools, in a cool-down in the
 * pools; shardAudit.ts `ShardCount`). Checkpoints written before those were kept
 * have two numbers: the rest count as 0.
 */
export type ShardTally = [n: number, p: number, asideN?: number, asideP?: number, q?: number];

/** The tally of a shard from its audit's counts. */
export function shardTally(counted: {
  n: number;
  p: number;
  aside: { n: number; p: number; q: number };
}): ShardTally {
  return [counted.n, counted.p, counted.aside.n, counted.aside.p, counted.aside.q];
}

/** Live allocations outside the pools: how many, and a few of their addresses. */
export interface OutsidePools {
  outside: number;
  outsideSample: string[];
}

/** The part of the report one segment produced. */
export interface PartialReport {
  scanned: { allocations: number; items: number };
  findings: AuditFinding[];
  findingCounts: Partial<Record<FindingType, FindingCount>>;
  findingsTruncated: boolean;
  unstableShards: number;
  consumedReadCapacity: number;
  consumedWriteCapacity: number;
}

export interface SegmentState {
  done: boolean;
  /** The key of the last item of the last finished partition (Scan's ExclusiveStartKey on resume). */
  startKey?: Key;
  /** Invocations of this segment so far. */
  invocations: number;
  part: PartialReport;
  subnets: Record<string, SubnetTally>;
}

/** The settings of a job and how it is cut, stored with its report. */
export interface JobPlan {
  format: 2;
  options: AuditSettings;
  /** DescribeTable's item count when the job started (approximate; may be 0 or stale). */
  estimatedItems: number;
}

export function newPartialReport(): PartialReport {
  return {
    scanned: { allocations: 0, items: 0 },
    findings: [],
    findingCounts: {},
    findingsTruncated: false,
    unstableShards: 0,
    consumedReadCapacity: 0,
    consumedWriteCapacity: 0,
  };
}

export function newSegmentState(): SegmentState {
  return { done: false, invocations: 0, part: newPartialReport(), subnets: {} };
}

/**
 * Decides when an invocation stops: sticky once it said stop, and never before this
 * invocation has done something (finished a partition), so every resume progresses.
 */
export class DeadlineGate {
  private stopped = false;
  private progressed = false;

  constructor(private readonly deadline: (() => boolean) | undefined) {}

  shouldStop(): boolean {
    if (this.stopped) return true;
    if (this.progressed && this.deadline?.() === true) this.stopped = true;
    return this.stopped;
  }

  /** A unit of work (a partition, a page of the subnet list) is finished and recorded. */
  progress(): void {
    this.progressed = true;
  }

  /** Stops every segment (one of them failed). */
  stop(): void {
    this.stopped = true;
  }
}
