/**
 * Where a partial audit stopped, stored with its report so that `resumeFrom`
 * continues it, and the gate that decides when a run stops at its deadline.
 *
 * Every segment records the key of the last item it finished and, inside a
 * subnet, the next shard; the overlap pass records its page and the subnet that
 * reaches furthest. The smallest unit of work is one shard.
 */
import type { AuditSettings } from './options.js';

/** A DynamoDB key (Scan's or Query's ExclusiveStartKey). */
export type Key = Record<string, unknown>;

/** Where a subnet's audit stopped: the next shard, and what its finished shards added up to. */
export interface SubnetProgress {
  subnetId: string;
  nextShard: number;
  /** Sums of the shards' effective counters (decimal strings). */
  all: string;
  inPools: string;
  outside: number;
  outsideSample: string[];
}

export interface SegmentState {
  done: boolean;
  /** The key of the last item finished (Scan's ExclusiveStartKey on resume). */
  startKey?: Key;
  /** Subnets begun but not finished, by id (rarely more than one). */
  subnets?: Record<string, SubnetProgress>;
}

export interface OverlapState {
  done: boolean;
  startKey?: Key;
  /** `<space>#<ip version>` of the subnet reaching furthest so far. */
  group?: string;
  maxLast?: string;
  holderId?: string;
  holderCidr?: string;
}

export interface Checkpoint {
  format: 1;
  options: AuditSettings;
  segments: SegmentState[];
  overlap: OverlapState;
}

/** The checkpoint of an audit that has not started. */
export function newCheckpoint(settings: AuditSettings): Checkpoint {
  return {
    format: 1,
    options: settings,
    segments: Array.from({ length: settings.segments }, () => ({ done: false })),
    overlap: { done: false },
  };
}

/** A subnet's progress before its first shard. */
export function newSubnetProgress(subnetId: string): SubnetProgress {
  return { subnetId, nextShard: 0, all: '0', inPools: '0', outside: 0, outsideSample: [] };
}

/**
 * Decides when a run stops: sticky once it said stop, and never before this run
 * has done something (a page or a shard), so every resume progresses.
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

  /** A unit of work (a page, a shard) is finished and recorded in the checkpoint. */
  progress(): void {
    this.progressed = true;
  }

  /** Stops every segment (one of them failed). */
  stop(): void {
    this.stopped = true;
  }
}
