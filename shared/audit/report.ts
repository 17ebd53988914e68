/**
 * The audit report: the finding types, why a finding was left unrepaired, the
 * report's shape, and how a finding is recorded in it (counted always, listed up
 * to a cap, the stored report kept below DynamoDB's item size).
 */
import { newId } from '../net/ids.js';
import type { IpamContext } from '../store/context.js';
import type { Count } from '../subnets/subnet.js';
import type { AuditSettings } from './options.js';

export const FindingType = {
  /** An item (allocation, block, counter, pending record, map summary) of a subnet that no longer exists. */
  ORPHAN_ALLOCATION: 'ORPHAN_ALLOCATION',
  /** A space entry naming a subnet that no longer exists: it blocks new subnets there. */
  ORPHAN_SPACE_ENTRY: 'ORPHAN_SPACE_ENTRY',
  /** The pending record of a multi-step request (crashed, or still running). */
  STALE_PENDING: 'STALE_PENDING',
  /** A shard counter that disagrees with its blocks (or is missing, or counted under old pools). */
  USAGE_DRIFT: 'USAGE_DRIFT',
  /**
   * A shard counter fenced by a pool or gateway change whose recount did not finish
   * (informational: no allocation can use it, and the next read of the counters
   * recounts it; a repair audit recounts it at once).
   */
  COUNTER_AWAITING_RECOUNT: 'COUNTER_AWAITING_RECOUNT',
  /** A lease past its expiry still held in its block, or its allocation item left over. */
  EXPIRED_LEASE: 'EXPIRED_LEASE',
  /** A block offset taken with no live allocation item and no pending request naming it. */
  BLOCK_WITHOUT_ALLOCATION: 'BLOCK_WITHOUT_ALLOCATION',
  /** A live allocation item whose offset is not taken in its block. */
  ALLOCATION_WITHOUT_BLOCK: 'ALLOCATION_WITHOUT_BLOCK',
  /** A live allocation item and its block offset name different requests (informational). */
  ALLOCATION_TOKEN_MISMATCH: 'ALLOCATION_TOKEN_MISMATCH',
  /** Live allocations outside the allocation pools, one finding per subnet (informational). */
  ALLOCATION_OUTSIDE_POOL: 'ALLOCATION_OUTSIDE_POOL',
  /** Two subnets of one space overlap: should never happen (reported, never repaired). */
  SUBNET_OVERLAP: 'SUBNET_OVERLAP',
  /** A subnet's pools are at least `highUtilizationPercent` allocated (informational). */
  HIGH_UTILIZATION: 'HIGH_UTILIZATION',
  /** A block's address-map summary is missing or disagrees with the block. */
  MAP_SUMMARY_STALE: 'MAP_SUMMARY_STALE',
  /**
   * A block's address-map summary lapsed: a lease expired or a cool-down began or ended
   * since it was written, with no write to the block (by design: views read below it).
   */
  MAP_SUMMARY_LAPSED: 'MAP_SUMMARY_LAPSED',
  /**
   * A block's hint (shared/hints/) says of some offset what its allocation items do
   * not, first seen now or within the grace period: the stream processor may still
   * apply the change (informational; seen the same later, it is HINT_STALE).
   */
  HINT_TRAILING: 'HINT_TRAILING',
  /**
   * A block's hint says of some offset what its allocation items do not, and an earlier
   * audit saw the same past the grace period: a change the processor lost.
   */
  HINT_STALE: 'HINT_STALE',
} as const;
export type FindingType = (typeof FindingType)[keyof typeof FindingType];

/** Why a repair audit left a finding as it was. */
export const NotRepaired = {
  /** The type is informational: there is nothing to repair. */
  INFORMATIONAL: 'INFORMATIONAL',
  /** Repairing this one automatically is not known to be safe: a human should look. */
  REPORT_ONLY: 'REPORT_ONLY',
  /** Younger than the grace period (or not yet seen by an earlier audit). */
  GRACE_PERIOD: 'GRACE_PERIOD',
  /** The state changed between the audit's read and its conditional write. */
  CHANGED: 'CHANGED',
  /** A multi-step request of the subnet is in flight: counters may lag its blocks. */
  IN_FLIGHT: 'IN_FLIGHT',
  /** The shard counter is missing or counted under another configuration. */
  COUNTER_NOT_CURRENT: 'COUNTER_NOT_CURRENT',
} as const;
export type NotRepaired = (typeof NotRepaired)[keyof typeof NotRepaired];

/** `true` when repaired, else why not. */
export type Outcome = true | NotRepaired;

export interface AuditFinding {
  type: FindingType;
  subnetId: string;
  ip?: string;
  detail: string;
  repaired: boolean;
  /** Repair audits only: why this finding was not repaired. */
  notRepaired?: NotRepaired;
}

/** A finding as a check states it, before its outcome is known. */
export type NewFinding = Omit<AuditFinding, 'repaired' | 'notRepaired'>;

export interface SubnetUtilization {
  subnetId: string;
  cidr: string;
  /** Addresses in the allocation pools (a decimal string beyond 2^53). */
  total: Count;
  /** Live allocations inside the pools. */
  allocated: Count;
  /** allocated / total in percent, two decimals; 0 for empty pools. */
  percent: number;
}

/** `running`: the job has not finished; `failed`: it cannot (see `reason`). */
export type AuditStatus = 'running' | 'complete' | 'failed';

export interface FindingCount {
  found: number;
  repaired: number;
}

export interface AuditReport {
  id: string;
  startedAt: string;
  /** null while the audit runs. */
  finishedAt: string | null;
  repair: boolean;
  status: AuditStatus;
  /** While running: items the segments finished, and DescribeTable's estimate of the table. */
  progress?: { scannedItems: number; estimatedItems: number; estimateNote?: string };
  /** Why a `failed` audit could not finish. */
  reason?: string;
  /** Subnets audited, allocation items examined, and every item the Scan visited. */
  scanned: { subnets: number; allocations: number; items: number };
  /** At most `maxStoredFindings` of them; `findingCounts` counts them all. */
  findings: AuditFinding[];
  findingCounts: Partial<Record<FindingType, FindingCount>>;
  /** Some findings were left out of `findings` to keep the report small. */
  findingsTruncated: boolean;
  /** Highest utilisation first; at most 1000 subnets. */
  utilization: SubnetUtilization[];
  utilizationTruncated: boolean;
  /** Shards whose counter changed while the audit read them, so drift could not be judged. */
  unstableShards: number;
  gracePeriodMs: number;
  highUtilizationPercent: number;
  /** Capacity units of the audit's own reads and writes (all runs of a resumed audit). */
  consumedReadCapacity: number;
  consumedWriteCapacity: number;
  /** Invocations of the longest segment (1 when no segment had to continue past a deadline). */
  invocations: number;
  /** Parallel Scan segments of the job. */
  segments?: number;
}

/**
 * Types listed only as a few samples (counted in full): one finding per block, and a
 * first audit of a table older than the map meets every block of every large subnet
 * — listed in full, they would crowd every other finding out of the list.
 */
const LISTED_AT_MOST: Partial<Record<FindingType, number>> = {
  [FindingType.MAP_SUMMARY_STALE]: 20,
  [FindingType.MAP_SUMMARY_LAPSED]: 20,
  [FindingType.HINT_TRAILING]: 20,
  [FindingType.HINT_STALE]: 20,
};

/** Whether a finding of `type` still gets a place in `listed` (the cap, the per-type samples). */
export function hasRoomFor(
  listed: readonly AuditFinding[],
  type: FindingType,
  maxStoredFindings: number,
): boolean {
  if (listed.length >= maxStoredFindings) return false;
  const samples = LISTED_AT_MOST[type];
  if (samples === undefined) return true;
  let same = 0;
  for (const finding of listed) if (finding.type === type && ++same >= samples) return false;
  return true;
}

/** The stored report stays well below DynamoDB's 400 KB item limit. */
const MAX_REPORT_BYTES = 300_000;
const MAX_DETAIL_LENGTH = 400;

/** A fresh, running report for an audit with these settings. */
export function newReport(ctx: IpamContext, settings: AuditSettings): AuditReport {
  return {
    id: newId('aud'),
    startedAt: new Date(ctx.now()).toISOString(),
    finishedAt: null,
    repair: settings.repair,
    status: 'running',
    scanned: { subnets: 0, allocations: 0, items: 0 },
    findings: [],
    findingCounts: {},
    findingsTruncated: false,
    utilization: [],
    utilizationTruncated: false,
    unstableShards: 0,
    gracePeriodMs: settings.gracePeriodMs,
    highUtilizationPercent: settings.highUtilizationPercent,
    consumedReadCapacity: 0,
    consumedWriteCapacity: 0,
    invocations: 1,
    segments: settings.segments,
  };
}

/** Where findings are recorded: a report, or the part of it one segment produced. */
export type FindingSink = Pick<AuditReport, 'findings' | 'findingCounts' | 'findingsTruncated'>;

/**
 * Records findings in a report: every one counted, at most `maxStoredFindings`
 * listed (and of the types in {@link LISTED_AT_MOST}, a few samples).
 */
export class Findings {
  constructor(
    private readonly report: FindingSink,
    private readonly settings: Pick<AuditSettings, 'repair' | 'maxStoredFindings'>,
  ) {}

  /** Adds a finding with its outcome (`true`: repaired; else why not, kept on repair audits). */
  add(finding: NewFinding, outcome: Outcome): void {
    const repaired = outcome === true;
    const full: AuditFinding = {
      ...finding,
      detail: clip(finding.detail),
      repaired,
      ...(this.settings.repair && outcome !== true ? { notRepaired: outcome } : {}),
    };
    const counts = this.report.findingCounts[full.type] ?? { found: 0, repaired: 0 };
    counts.found += 1;
    if (repaired) counts.repaired += 1;
    this.report.findingCounts[full.type] = counts;
    if (hasRoomFor(this.report.findings, full.type, this.settings.maxStoredFindings)) {
      this.report.findings.push(full);
    } else {
      this.report.findingsTruncated = true;
    }
  }
}

/** Halves the longer list until the stored report fits its budget. */
export function fitReport(report: AuditReport): void {
  while (Buffer.byteLength(JSON.stringify(report)) > MAX_REPORT_BYTES) {
    if (report.findings.length === 0 && report.utilization.length === 0) return;
    if (report.findings.length >= report.utilization.length) {
      report.findings.length = Math.floor(report.findings.length / 2);
      report.findingsTruncated = true;
    } else {
      report.utilization.length = Math.floor(report.utilization.length / 2);
      report.utilizationTruncated = true;
    }
  }
}

function clip(text: string): string {
  return text.length <= MAX_DETAIL_LENGTH ? text : `${text.slice(0, MAX_DETAIL_LENGTH - 1)}…`;
}
