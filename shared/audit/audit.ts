/**
 * The audit: walks the whole table in bounded memory, finds where the stored state
 * disagrees with itself, repairs what is safe to repair, and reports utilisation.
 *
 * **How it reads.** A Scan (optionally in parallel segments, `pageSize` items a page)
 * visits every item once. A subnet's `META` item starts that subnet's audit: its
 * pending records, then each shard partition `SUBNET#<id>#S#<k>`, read with two
 * consistent Queries walked side by side in address order — the blocks
 * (`BLOCK#…`) and the allocation items (`IP#…`) — so a block is joined with the
 * allocation items of its 256 addresses while neither query is held in memory.
 * Items of shard partitions and pending records whose subnet is gone are orphans,
 * found by the Scan itself. A last pass over the subnet list (gsi1, in address
 * order within each space) finds overlapping subnets with O(1) state.
 *
 * **How it repairs.** Every repair is one conditional write (mostly one
 * `TransactWriteItems`) that re-checks exactly what the audit saw — the block still
 * holds the offset with the same token and lease, the allocation item is still the
 * same request's, no pending record names it, the counter is still counted under
 * the same configuration — and moves the shard counter in the same transaction, so
 * counters stay exact. Nothing younger than the grace period is touched: its age
 * is the lease expiry, the item's or pending record's `createdAt`, or, for states
 * that carry no timestamp, the first sighting by an earlier audit (auditStore.ts).
 * A second audit finds nothing left to repair.
 *
 * **Checkpoints.** When `deadline()` says stop, every segment records where it is
 * (the key of the last item it finished, and inside a subnet the next shard), the
 * report so far and the checkpoint are saved, and a partial report is returned;
 * `resumeFrom` continues it. The smallest unit of work is one shard.
 */
import {
  GetCommand,
  QueryCommand,
  type QueryCommandOutput,
  ScanCommand,
  type ScanCommandOutput,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type AllocationItem, tokenAttribute, undoPending } from '../allocator/index.js';
import { AllocationContentionError, AuditNotFoundError, ValidationError } from '../errors.js';
import { cidrFirst, cidrLast, formatCidr, formatIp } from '../net/address.js';
import { isId, newId } from '../net/ids.js';
import type { IpamContext } from '../store/context.js';
import { keys, parseBlockSort } from '../store/keys.js';
import {
  isConditionalCheckFailed,
  isRetryableAwsError,
  isTransactionCanceled,
} from '../store/retry.js';
import { LIST_INDEX, TTL_ATTRIBUTE } from '../store/table.js';
import type { TransactItem } from '../store/transactions.js';
import { blockFromItem, leaseAttribute } from '../subnets/blocks.js';
import { newCounterItem, recountShard, StaleSubnetError } from '../subnets/counters.js';
import {
  addressAt,
  blockRange,
  type Geometry,
  geometryOf,
  positionOf,
} from '../subnets/geometry.js';
import { inPools } from '../subnets/rules.js';
import { address, type Count, fromSubnetItem, type Subnet, usageOf } from '../subnets/subnet.js';
import {
  AUDIT_PARTITION_PREFIX,
  CapacityMeter,
  forgetSighting,
  markLatest,
  readAudit,
  readLatestId,
  type Sighting,
  sight,
  writeAudit,
} from './reports.js';

// ---------------------------------------------------------------------------
// The report

export const FindingType = {
  /** An item (allocation, block, counter, pending record) of a subnet that no longer exists. */
  ORPHAN_ALLOCATION: 'ORPHAN_ALLOCATION',
  /** A space entry naming a subnet that no longer exists: it blocks new subnets there. */
  ORPHAN_SPACE_ENTRY: 'ORPHAN_SPACE_ENTRY',
  /** The pending record of a multi-step request (crashed, or still running). */
  STALE_PENDING: 'STALE_PENDING',
  /** A shard counter that disagrees with its blocks (or is missing, or counted under old pools). */
  USAGE_DRIFT: 'USAGE_DRIFT',
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

export interface AuditFinding {
  type: FindingType;
  subnetId: string;
  ip?: string;
  detail: string;
  repaired: boolean;
  /** Repair audits only: why this finding was not repaired. */
  notRepaired?: NotRepaired;
}

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

export type AuditStatus = 'complete' | 'partial';

export interface FindingCount {
  found: number;
  repaired: number;
}

export interface AuditReport {
  id: string;
  startedAt: string;
  /** null while the audit is partial. */
  finishedAt: string | null;
  repair: boolean;
  /** `partial`: stopped at a deadline; `runAudit({resumeFrom: id})` continues it. */
  status: AuditStatus;
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
  /** How many runs (1 + resumes) this report took. */
  invocations: number;
}

export interface AuditOptions {
  repair: boolean;
  /** Default 15 minutes. */
  gracePeriodMs?: number;
  /** Default 90. */
  highUtilizationPercent?: number;
  /** Parallel Scan segments, default 1 (more for large tables). */
  segments?: number;
  /** Items per Scan/Query page (bounded memory), default 500. */
  pageSize?: number;
  /** True when the caller must stop: the audit saves a checkpoint and returns a partial report. */
  deadline?: () => boolean;
  /** Continue this partial audit from its checkpoint (its own options apply, not these). */
  resumeFrom?: string;
  /** Findings kept in the stored report, default 500 (counts are always complete). */
  maxStoredFindings?: number;
}

export const AUDIT_DEFAULTS = {
  gracePeriodMs: 15 * 60 * 1000,
  highUtilizationPercent: 90,
  segments: 1,
  pageSize: 500,
  maxStoredFindings: 500,
} as const;

/**
 * A pending record is undone only when older than this, whatever the grace period:
 * a multi-step request can run as long as its Lambda (at most 15 minutes), and
 * undoing one that is still running would free addresses it is about to confirm.
 */
export const PENDING_MIN_AGE_MS = 15 * 60 * 1000;

const MAX_UTILIZATION_ENTRIES = 1000;
/** The stored report stays well below DynamoDB's 400 KB item limit. */
const MAX_REPORT_BYTES = 300_000;
const MAX_DETAIL_LENGTH = 400;
const OUTSIDE_POOL_SAMPLES = 5;
const MAX_PENDING_TOKENS = 10_000;
const MAX_EXISTENCE_CACHE = 50_000;

// ---------------------------------------------------------------------------
// Public API

export async function runAudit(ctx: IpamContext, options: AuditOptions): Promise<AuditReport> {
  const pageSize = integerOption(options.pageSize, AUDIT_DEFAULTS.pageSize, 1, 1000, 'pageSize');
  const meter = new CapacityMeter();
  let report: AuditReport;
  let checkpoint: Checkpoint;
  let version: number | undefined;
  if (options.resumeFrom !== undefined) {
    const stored = isId('aud', options.resumeFrom)
      ? await readAudit(ctx, meter, options.resumeFrom)
      : undefined;
    if (stored === undefined) throw new AuditNotFoundError(options.resumeFrom);
    report = stored.report as AuditReport;
    if (report.status === 'complete' || stored.checkpoint === undefined) return report;
    checkpoint = stored.checkpoint as Checkpoint;
    version = stored.version;
    report.invocations += 1;
  } else {
    const settings: CheckpointOptions = {
      repair: options.repair,
      gracePeriodMs: integerOption(
        options.gracePeriodMs,
        AUDIT_DEFAULTS.gracePeriodMs,
        0,
        Number.MAX_SAFE_INTEGER,
        'gracePeriodMs',
      ),
      highUtilizationPercent: numberOption(
        options.highUtilizationPercent,
        AUDIT_DEFAULTS.highUtilizationPercent,
        0,
        100,
        'highUtilizationPercent',
      ),
      segments: integerOption(options.segments, AUDIT_DEFAULTS.segments, 1, 1000, 'segments'),
      maxStoredFindings: integerOption(
        options.maxStoredFindings,
        AUDIT_DEFAULTS.maxStoredFindings,
        0,
        10_000,
        'maxStoredFindings',
      ),
    };
    report = newReport(ctx, settings);
    checkpoint = {
      format: 1,
      options: settings,
      segments: Array.from({ length: settings.segments }, () => ({ done: false })),
      overlap: { done: false },
    };
  }
  const run = new AuditRun(ctx, meter, report, checkpoint, pageSize, options.deadline);
  const save = async (complete: boolean) => {
    report.consumedReadCapacity = round(report.consumedReadCapacity + meter.readUnits);
    report.consumedWriteCapacity = round(report.consumedWriteCapacity + meter.writeUnits);
    meter.readUnits = 0;
    meter.writeUnits = 0;
    if (complete) {
      report.status = 'complete';
      report.finishedAt = new Date(ctx.now()).toISOString();
    }
    finishUtilization(report);
    fitReport(report);
    await writeAudit(ctx, meter, report, complete ? undefined : checkpoint, version);
    if (complete) await markLatest(ctx, meter, report.id, report.finishedAt ?? '');
  };
  let complete: boolean;
  try {
    complete = await run.execute();
  } catch (error) {
    // Keep what was done: the checkpoint only ever points past finished work.
    await save(false).catch(() => undefined);
    throw error;
  }
  await save(complete);
  return report;
}

export async function getAudit(ctx: IpamContext, auditId: string): Promise<AuditReport> {
  if (!isId('aud', auditId)) throw new AuditNotFoundError(auditId);
  const stored = await readAudit(ctx, new CapacityMeter(), auditId);
  if (stored === undefined) throw new AuditNotFoundError(auditId);
  return stored.report as AuditReport;
}

/** The complete audit that finished last. */
export async function getLatestAudit(ctx: IpamContext): Promise<AuditReport> {
  const id = await readLatestId(ctx, new CapacityMeter());
  if (id === undefined) throw new AuditNotFoundError('latest');
  return getAudit(ctx, id);
}

export interface AuditMetric {
  name: string;
  unit: 'Count' | 'Percent';
  value: number;
  dimensions: Record<string, string>;
}

/**
 * What a handler publishes (Powertools Metrics, one metric per entry with its own
 * dimensions) for a complete report: utilisation per subnet, and findings and
 * repairs per type (zeros included, so alarms see data). A partial report
 * publishes nothing: its counts would be misleading until it is resumed.
 */
export function utilizationMetrics(report: AuditReport): AuditMetric[] {
  if (report.status !== 'complete') return [];
  const metrics: AuditMetric[] = [];
  for (const entry of report.utilization) {
    const dimensions = { SubnetId: entry.subnetId, Cidr: entry.cidr };
    metrics.push(
      { name: 'SubnetUtilization', unit: 'Percent', value: entry.percent, dimensions },
      {
        name: 'SubnetAllocatedAddresses',
        unit: 'Count',
        value: Number(entry.allocated),
        dimensions,
      },
      { name: 'SubnetTotalAddresses', unit: 'Count', value: Number(entry.total), dimensions },
    );
  }
  for (const type of Object.values(FindingType)) {
    const count = report.findingCounts[type];
    const dimensions = { FindingType: type };
    metrics.push(
      { name: 'AuditFindings', unit: 'Count', value: count?.found ?? 0, dimensions },
      { name: 'AuditRepairs', unit: 'Count', value: count?.repaired ?? 0, dimensions },
    );
  }
  metrics.push(
    { name: 'AuditScannedSubnets', unit: 'Count', value: report.scanned.subnets, dimensions: {} },
    {
      name: 'AuditScannedAllocations',
      unit: 'Count',
      value: report.scanned.allocations,
      dimensions: {},
    },
    {
      // One number the 90 % alarm watches (infra/constructs/IpamAlarms.ts).
      name: 'MaxSubnetUtilization',
      unit: 'Percent',
      value: report.utilization.reduce((max, entry) => Math.max(max, entry.percent), 0),
      dimensions: {},
    },
  );
  return metrics;
}

// ---------------------------------------------------------------------------
// Checkpoint

type Key = Record<string, unknown>;

interface CheckpointOptions {
  repair: boolean;
  gracePeriodMs: number;
  highUtilizationPercent: number;
  segments: number;
  maxStoredFindings: number;
}

/** Where a subnet's audit stopped: the next shard, and what its finished shards added up to. */
interface SubnetProgress {
  subnetId: string;
  nextShard: number;
  /** Sums of the shards' effective counters (decimal strings). */
  all: string;
  inPools: string;
  outside: number;
  outsideSample: string[];
}

interface SegmentState {
  done: boolean;
  /** The key of the last item finished (Scan's ExclusiveStartKey on resume). */
  startKey?: Key;
  /** Subnets begun but not finished, by id (rarely more than one). */
  subnets?: Record<string, SubnetProgress>;
}

interface OverlapState {
  done: boolean;
  startKey?: Key;
  /** `<space>#<ip version>` of the subnet reaching furthest so far. */
  group?: string;
  maxLast?: string;
  holderId?: string;
  holderCidr?: string;
}

interface Checkpoint {
  format: 1;
  options: CheckpointOptions;
  segments: SegmentState[];
  overlap: OverlapState;
}

// ---------------------------------------------------------------------------
// The run

interface Tally {
  n: number;
  p: number;
  l: number;
}

/** One shard's audit in progress. */
interface ShardScan {
  readonly subnet: Subnet;
  readonly g: Geometry;
  readonly shard: number;
  readonly pending: Set<string>;
  readonly progress: SubnetProgress;
  /** The counter exists under the subnet's configVersion: repairs may move it. */
  readonly current: boolean;
  readonly nowSeconds: number;
  /** What the blocks held when read. */
  readonly truth: Tally;
  /** What this audit's own repairs changed since. */
  readonly ours: Tally;
  /** This audit's committed writes to the counter (each bumps `ver` by one). */
  writes: number;
}

/** One taken block offset as the audit read it. */
interface SeenOffset {
  readonly block: bigint;
  readonly offset: number;
  readonly value: bigint;
  readonly inPool: boolean;
  readonly expiry: number | undefined;
  readonly token: string | undefined;
  /** The allocation item of the address, if any (maybe expired). */
  readonly item: AllocationItem | undefined;
}

/** `true` when repaired, else why not. */
type Outcome = true | NotRepaired;

class AuditRun {
  private stopped = false;
  private progressed = false;
  private readonly existence = new Map<string, boolean>();
  private readonly orphanSightings = new Map<string, Sighting>();
  private readonly options: CheckpointOptions;

  constructor(
    private readonly ctx: IpamContext,
    private readonly meter: CapacityMeter,
    private readonly report: AuditReport,
    private readonly checkpoint: Checkpoint,
    private readonly pageSize: number,
    private readonly deadline: (() => boolean) | undefined,
  ) {
    this.options = checkpoint.options;
  }

  /** Runs until done (true) or told to stop (false). */
  async execute(): Promise<boolean> {
    const results = await Promise.allSettled(
      this.checkpoint.segments.map((state, index) => this.runSegment(index, state)),
    );
    const failure = results.find((result) => result.status === 'rejected');
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
    if (this.checkpoint.segments.some((state) => !state.done)) return false;
    await this.runOverlap();
    return this.checkpoint.overlap.done;
  }

  /** Sticky; never stops before this run has done something, so every resume progresses. */
  private shouldStop(): boolean {
    if (this.stopped) return true;
    if (this.progressed && this.deadline?.() === true) this.stopped = true;
    return this.stopped;
  }

  // --- The scan ------------------------------------------------------------

  private async runSegment(index: number, state: SegmentState): Promise<void> {
    const total = this.checkpoint.segments.length;
    try {
      while (!state.done) {
        if (this.shouldStop()) return;
        const page: ScanCommandOutput = await this.ctx.doc.send(
          new ScanCommand({
            TableName: this.ctx.tableName,
            Limit: this.pageSize,
            ExclusiveStartKey: state.startKey,
            ReturnConsumedCapacity: 'TOTAL',
            ...(total > 1 ? { Segment: index, TotalSegments: total } : {}),
          }),
        );
        this.meter.read(page.ConsumedCapacity);
        for (const item of page.Items ?? []) {
          if (!(await this.visit(item, state))) return;
          if (!String(item.pk).startsWith(AUDIT_PARTITION_PREFIX)) this.report.scanned.items += 1;
          state.startKey = { pk: item.pk, sk: item.sk };
        }
        this.progressed = true;
        if (page.LastEvaluatedKey === undefined) state.done = true;
        else state.startKey = page.LastEvaluatedKey;
      }
    } catch (error) {
      this.stopped = true;
      throw error;
    }
  }

  /** Handles one scanned item; false when told to stop inside a subnet. */
  private async visit(item: Record<string, unknown>, state: SegmentState): Promise<boolean> {
    const pk = String(item.pk ?? '');
    const sk = String(item.sk ?? '');
    if (pk.startsWith(AUDIT_PARTITION_PREFIX)) return true;
    if (pk.startsWith('SUBNET#')) {
      const rest = pk.slice('SUBNET#'.length);
      const cut = rest.indexOf('#S#');
      if (cut >= 0) {
        await this.visitShardItem(rest.slice(0, cut), item, sk);
        return true;
      }
      if (sk === 'META') return this.auditSubnet(rest, state);
      if (sk.startsWith('PENDING#') && !(await this.subnetExists(rest))) {
        await this.orphan(rest, item, 'pending record of a multi-step request');
      }
      return true;
    }
    if (pk.startsWith('SPACE#') && sk.startsWith('NET#')) await this.visitSpaceEntry(item);
    return true;
  }

  private async visitShardItem(
    subnetId: string,
    item: Record<string, unknown>,
    sk: string,
  ): Promise<void> {
    if (await this.subnetExists(subnetId)) return; // audited with its subnet
    if (sk.startsWith('IP#')) {
      this.report.scanned.allocations += 1;
      const ip = typeof item.ip === 'string' ? item.ip : undefined;
      await this.orphan(subnetId, item, `allocation ${ip ?? sk}`, ip);
    } else if (sk.startsWith('BLOCK#')) {
      await this.orphan(subnetId, item, `address block ${sk}`);
    } else {
      await this.orphan(subnetId, item, `${sk.toLowerCase()} item of ${String(item.pk)}`);
    }
  }

  private async visitSpaceEntry(item: Record<string, unknown>): Promise<void> {
    const subnetId = item.subnetId;
    if (typeof subnetId !== 'string' || (await this.subnetExists(subnetId))) return;
    const space = String(item.pk).slice('SPACE#'.length);
    const finding = {
      type: FindingType.ORPHAN_SPACE_ENTRY,
      subnetId,
      detail:
        `Space ${space} still lists ${String(item.cidr)} for subnet ${subnetId}, which no longer ` +
        'exists; the entry keeps overlapping subnets from being created there.',
    };
    const outcome = await this.deleteOrphan(subnetId, item, {
      ConditionExpression: 'subnetId = :subnet',
      ExpressionAttributeValues: { ':subnet': subnetId },
    });
    this.add(finding, outcome);
  }

  private async orphan(
    subnetId: string,
    item: Record<string, unknown>,
    what: string,
    ip?: string,
  ): Promise<void> {
    const finding = {
      type: FindingType.ORPHAN_ALLOCATION,
      subnetId,
      ...(ip === undefined ? {} : { ip }),
      detail: `The ${what} belongs to subnet ${subnetId}, which no longer exists.`,
    };
    const outcome = await this.deleteOrphan(subnetId, item, {
      ConditionExpression: 'attribute_exists(pk)',
    });
    this.add(finding, outcome);
  }

  /** Deletes an item of a vanished subnet, on condition that the subnet is still gone. */
  private deleteOrphan(
    subnetId: string,
    item: Record<string, unknown>,
    condition: { ConditionExpression: string; ExpressionAttributeValues?: Record<string, unknown> },
  ) {
    return this.repairOrphan(subnetId, async () =>
      this.transact([
        this.subnetGone(subnetId),
        {
          Delete: {
            TableName: this.ctx.tableName,
            Key: { pk: item.pk, sk: item.sk },
            ...condition,
          },
        },
      ]),
    );
  }

  /**
   * Orphans carry no age of their own: they are deleted once an earlier audit saw
   * their subnet gone and that is longer ago than the grace period. Subnet ids are
   * never reused and nothing can be confirmed in a deleted subnet (every
   * reservation checks its counter, deleted with the subnet), so this is safe.
   */
  private async repairOrphan(subnetId: string, repair: () => Promise<boolean>): Promise<Outcome> {
    let sighting = this.orphanSightings.get(subnetId);
    if (sighting === undefined) {
      sighting = await sight(
        this.ctx,
        this.meter,
        this.report.id,
        subnetId,
        'ORPHAN',
        'subnet-missing',
      );
      this.orphanSightings.set(subnetId, sighting);
    }
    if (!this.options.repair) return NotRepaired.REPORT_ONLY;
    if (!this.seenLongEnough(sighting)) return NotRepaired.GRACE_PERIOD;
    return (await repair()) ? true : NotRepaired.CHANGED;
  }

  private subnetGone(subnetId: string): TransactItem {
    return {
      ConditionCheck: {
        TableName: this.ctx.tableName,
        Key: keys.subnet(subnetId),
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }

  private async subnetExists(subnetId: string): Promise<boolean> {
    const known = this.existence.get(subnetId);
    if (known !== undefined) return known;
    const item = await this.get(keys.subnet(subnetId));
    if (this.existence.size >= MAX_EXISTENCE_CACHE) this.existence.clear();
    this.existence.set(subnetId, item !== undefined);
    return item !== undefined;
  }

  // --- One subnet ------------------------------------------------------------

  private async auditSubnet(subnetId: string, state: SegmentState): Promise<boolean> {
    // Re-read consistently: the Scan's copy may predate a pool change.
    const item = await this.get(keys.subnet(subnetId));
    if (item === undefined) return true; // deleted meanwhile; leftovers are orphans
    const subnet = parseSubnet(item);
    if (subnet === undefined) return true;
    const g = geometryOf(subnet.cidr);
    const resumed = state.subnets?.[subnet.id];
    const progress: SubnetProgress = resumed ?? {
      subnetId: subnet.id,
      nextShard: 0,
      all: '0',
      inPools: '0',
      outside: 0,
      outsideSample: [],
    };
    const pending = await this.pendingRequests(subnet, resumed === undefined);
    // Kept in the checkpoint as shards finish, so a resume (after a deadline or an
    // error) continues at the next shard.
    state.subnets = { ...state.subnets, [subnet.id]: progress };
    for (; progress.nextShard < g.shardCount; progress.nextShard++) {
      if (this.shouldStop()) return false;
      const counted = await this.auditShard(subnet, g, progress.nextShard, pending, progress);
      progress.all = (BigInt(progress.all) + BigInt(counted.n)).toString();
      progress.inPools = (BigInt(progress.inPools) + BigInt(counted.p)).toString();
      this.progressed = true;
    }
    const { [subnet.id]: _finished, ...unfinished } = state.subnets;
    state.subnets = Object.keys(unfinished).length > 0 ? unfinished : undefined;
    this.finishSubnet(subnet, progress);
    return true;
  }

  private finishSubnet(subnet: Subnet, progress: SubnetProgress): void {
    if (progress.outside > 0) {
      this.add(
        {
          type: FindingType.ALLOCATION_OUTSIDE_POOL,
          subnetId: subnet.id,
          ...(progress.outsideSample[0] === undefined ? {} : { ip: progress.outsideSample[0] }),
          detail:
            `${progress.outside} live allocation(s) lie outside the allocation pools ` +
            `(e.g. ${progress.outsideSample.join(', ')}); they are valid but not counted in ` +
            'usage.allocated.',
        },
        NotRepaired.INFORMATIONAL,
      );
    }
    const usage = usageOf(subnet, { all: BigInt(progress.all), inPools: BigInt(progress.inPools) });
    const total = BigInt(usage.total);
    const allocated = BigInt(usage.allocated);
    const percent = total > 0n ? Number((allocated * 10_000n) / total) / 100 : 0;
    const cidr = formatCidr(subnet.cidr);
    this.report.utilization.push({
      subnetId: subnet.id,
      cidr,
      total: usage.total,
      allocated: usage.allocated,
      percent,
    });
    if (this.report.utilization.length > 2 * MAX_UTILIZATION_ENTRIES) {
      finishUtilization(this.report);
    }
    if (total > 0n && percent >= this.options.highUtilizationPercent) {
      this.add(
        {
          type: FindingType.HIGH_UTILIZATION,
          subnetId: subnet.id,
          detail: `${cidr}: ${usage.allocated} of ${usage.total} pool addresses are allocated (${percent} %).`,
        },
        NotRepaired.INFORMATIONAL,
      );
    }
    this.report.scanned.subnets += 1;
  }

  /**
   * The subnet's pending records: reported at any age (on a fresh visit), and
   * undone (undoPending: only what still carries the request's token) once older
   * than both the grace period and the longest a request can run.
   * Returns the tokens still pending.
   */
  private async pendingRequests(subnet: Subnet, report: boolean): Promise<Set<string>> {
    const tokens = new Set<string>();
    for await (const record of this.partition(keys.subnet(subnet.id).pk, 'PENDING#')) {
      const token = String(record.sk).slice('PENDING#'.length);
      const ips = Array.isArray(record.ips) ? record.ips.map(String) : [];
      const createdMs = Date.parse(String(record.createdAt));
      if (!report) {
        if (tokens.size < MAX_PENDING_TOKENS) tokens.add(token);
        continue;
      }
      const finding = {
        type: FindingType.STALE_PENDING,
        subnetId: subnet.id,
        ...(ips[0] === undefined ? {} : { ip: ips[0] }),
        detail:
          `A multi-step request for ${ips.length} address(es) has been pending since ` +
          `${Number.isNaN(createdMs) ? 'an unknown time' : new Date(createdMs).toISOString()}.`,
      };
      let outcome: Outcome = NotRepaired.REPORT_ONLY;
      if (this.options.repair) {
        const minimumAge = Math.max(this.options.gracePeriodMs, PENDING_MIN_AGE_MS);
        if (Number.isNaN(createdMs)) outcome = NotRepaired.REPORT_ONLY;
        else if (this.ctx.now() - createdMs < minimumAge) outcome = NotRepaired.GRACE_PERIOD;
        else {
          try {
            const freed = await undoPending(this.ctx, subnet.id, token);
            // undefined: the record went away meanwhile (the request committed or undid itself).
            if (freed === undefined) outcome = NotRepaired.CHANGED;
            else {
              finding.detail += ` Undone: ${freed} address(es) freed.`;
              outcome = true;
            }
          } catch (error) {
            if (!isTransactionCanceled(error)) throw error;
            outcome = NotRepaired.CHANGED;
          }
        }
      }
      this.add(finding, outcome);
      if (outcome !== true && tokens.size < MAX_PENDING_TOKENS) tokens.add(token);
    }
    return tokens;
  }

  // --- One shard -------------------------------------------------------------

  /** Audits one shard partition; returns the counts its counter holds after the audit. */
  private async auditShard(
    subnet: Subnet,
    g: Geometry,
    shard: number,
    pending: Set<string>,
    progress: SubnetProgress,
  ): Promise<Tally> {
    const partition = keys.shardPartition(subnet.id, shard);
    const before = counterOf(await this.get(keys.counter(subnet.id, shard)));
    const nowMs = this.ctx.now();
    const sh: ShardScan = {
      subnet,
      g,
      shard,
      pending,
      progress,
      current: before !== undefined && before.pv === subnet.configVersion,
      nowSeconds: Math.floor(nowMs / 1000),
      truth: { n: 0, p: 0, l: 0 },
      ours: { n: 0, p: 0, l: 0 },
      writes: 0,
    };
    // Blocks and allocation items, both in address order: a merge join, one page of each.
    const items = this.partition(partition, 'IP#');
    let next = await items.next();
    for await (const blockItem of this.partition(partition, 'BLOCK#')) {
      const block = parseBlockSort(String(blockItem.sk));
      const range = blockRange(g, block);
      while (!next.done && itemValue(next.value) < range.start) {
        await this.loneItem(sh, next.value as unknown as AllocationItem);
        next = await items.next();
      }
      const here = new Map<number, AllocationItem>();
      while (!next.done && itemValue(next.value) <= range.end) {
        here.set(
          Number(itemValue(next.value) - range.start),
          next.value as unknown as AllocationItem,
        );
        next = await items.next();
      }
      await this.auditBlock(sh, block, blockItem, here);
    }
    while (!next.done) {
      await this.loneItem(sh, next.value as unknown as AllocationItem);
      next = await items.next();
    }
    return this.settleCounter(sh, before);
  }

  private async auditBlock(
    sh: ShardScan,
    block: bigint,
    blockItem: Record<string, unknown>,
    here: Map<number, AllocationItem>,
  ): Promise<void> {
    this.report.scanned.allocations += here.size;
    const state = blockFromItem(block, blockItem);
    for (const offset of [...state.used].sort((a, b) => a - b)) {
      const value = addressAt(sh.g, block, offset);
      const token = blockItem[tokenAttribute(offset)];
      const seen: SeenOffset = {
        block,
        offset,
        value,
        inPool: inPools(sh.subnet.pools, value),
        expiry: state.leases.get(offset),
        token: typeof token === 'string' ? token : undefined,
        item: here.get(offset),
      };
      here.delete(offset);
      sh.truth.n += 1;
      if (seen.inPool) sh.truth.p += 1;
      if (seen.expiry !== undefined) sh.truth.l += 1;
      const live = seen.item !== undefined && isLive(seen.item, sh.nowSeconds);
      if (seen.expiry !== undefined && seen.expiry <= sh.nowSeconds) {
        await this.expiredLease(sh, seen, live);
      } else if (!live) {
        await this.blockWithoutAllocation(sh, seen);
      } else {
        await this.liveAllocation(sh, seen);
      }
    }
    // Items whose offset the block does not hold.
    for (const item of here.values()) await this.loneItem(sh, item, false);
  }

  private async liveAllocation(sh: ShardScan, seen: SeenOffset): Promise<void> {
    const item = seen.item;
    if (item === undefined) return;
    if (
      seen.token !== undefined &&
      item.reqToken !== seen.token &&
      (await this.mismatch(sh, seen))
    ) {
      this.add(
        {
          type: FindingType.ALLOCATION_TOKEN_MISMATCH,
          subnetId: sh.subnet.id,
          ip: this.ipText(sh, seen.value),
          detail:
            'The allocation item and its block offset were written by different requests; ' +
            'the address stays held.',
        },
        NotRepaired.INFORMATIONAL,
      );
    }
    if (!seen.inPool) {
      sh.progress.outside += 1;
      if (sh.progress.outsideSample.length < OUTSIDE_POOL_SAMPLES) {
        sh.progress.outsideSample.push(this.ipText(sh, seen.value));
      }
    }
  }

  /** Whether block and item still name different requests, read as one snapshot. */
  private async mismatch(sh: ShardScan, seen: SeenOffset): Promise<boolean> {
    const pos = positionOf(sh.g, seen.value);
    const [block, item] = await this.snapshot([
      keys.block(sh.subnet.id, pos.shard, seen.block),
      this.itemKey(sh, seen.value),
    ]);
    const token = block?.[tokenAttribute(seen.offset)];
    return (
      blockFromItem(seen.block, block).used.has(seen.offset) &&
      typeof token === 'string' &&
      item !== undefined &&
      isLive(item as unknown as AllocationItem, Math.floor(this.ctx.now() / 1000)) &&
      item.reqToken !== token
    );
  }

  /**
   * EXPIRED_LEASE, block side: the offset's lease expired (so it is already free to
   * the allocator). Repair, once it expired longer ago than the grace period: one
   * transaction removes the offset on condition that the block still holds it with
   * the same expiry and token (no reclaim or renewal happened), deletes the
   * allocation item if it is still the same expired one (or checks that no live one
   * appeared), and decrements the counter on condition it is counted under the same
   * configuration.
   */
  private async expiredLease(sh: ShardScan, seen: SeenOffset, itemLive: boolean): Promise<void> {
    const expiry = seen.expiry ?? 0;
    const ip = this.ipText(sh, seen.value);
    if (itemLive) {
      this.add(
        {
          type: FindingType.EXPIRED_LEASE,
          subnetId: sh.subnet.id,
          ip,
          detail:
            `The block's lease expired at ${isoSeconds(expiry)}, but the allocation item is ` +
            `live until ${isoSeconds(Number(seen.item?.ttl ?? 0))}; left for a human to judge.`,
        },
        NotRepaired.REPORT_ONLY,
      );
      return;
    }
    const finding = {
      type: FindingType.EXPIRED_LEASE,
      subnetId: sh.subnet.id,
      ip,
      detail:
        `The lease expired at ${isoSeconds(expiry)} but its block still holds the address` +
        `${seen.item === undefined ? '' : ' and its allocation item is still stored'}.`,
    };
    let outcome: Outcome;
    if (!this.options.repair || misplaced(sh, seen.value)) outcome = NotRepaired.REPORT_ONLY;
    else if (!sh.current) outcome = NotRepaired.COUNTER_NOT_CURRENT;
    else if (expiry > this.graceCutoffSeconds()) outcome = NotRepaired.GRACE_PERIOD;
    else outcome = await this.freeOffset(sh, seen, false);
    this.add(finding, outcome);
  }

  /**
   * BLOCK_WITHOUT_ALLOCATION: a taken offset that no live allocation item and no
   * pending request names — an address nobody holds and nobody can get. Every
   * writer puts the block offset and the allocation item in one transaction, or (a
   * multi-step request) behind a pending record, so this state is never a step of
   * live work. Still, the block carries no age: it is freed only when an earlier
   * audit saw the very same state (offset, token, lease) longer ago than the grace
   * period, by a transaction that re-checks all of it — the block unchanged, no live
   * allocation item, no pending record of its token — and decrements the counter.
   */
  private async blockWithoutAllocation(sh: ShardScan, seen: SeenOffset): Promise<void> {
    if (seen.token !== undefined && sh.pending.has(seen.token)) return; // in flight
    // Read again, as one snapshot: the two queries are not one, and neither are
    // separate reads (a release between them would look exactly like this).
    const pos = positionOf(sh.g, seen.value);
    const [block, item, pendingRecord] = await this.snapshot([
      keys.block(sh.subnet.id, pos.shard, seen.block),
      this.itemKey(sh, seen.value),
      ...(seen.token === undefined ? [] : [keys.pending(sh.subnet.id, seen.token)]),
    ]);
    const state = blockFromItem(seen.block, block);
    if (
      !state.used.has(seen.offset) ||
      block?.[tokenAttribute(seen.offset)] !== seen.token ||
      state.leases.get(seen.offset) !== seen.expiry
    ) {
      return;
    }
    // Judged at one instant: a lease that expired meanwhile is EXPIRED_LEASE, next time.
    const nowSeconds = Math.floor(this.ctx.now() / 1000);
    if (seen.expiry !== undefined && seen.expiry <= nowSeconds) return;
    if (item !== undefined && isLive(item as unknown as AllocationItem, nowSeconds)) return;
    if (pendingRecord !== undefined && seen.token !== undefined) {
      sh.pending.add(seen.token);
      return;
    }
    const fresh: SeenOffset = { ...seen, item: item as unknown as AllocationItem | undefined };
    const what = `BWA#${keys.blockSort(seen.block)}#${seen.offset}`;
    const sighting = await sight(
      this.ctx,
      this.meter,
      this.report.id,
      sh.subnet.id,
      what,
      `${seen.token ?? '-'}|${seen.expiry ?? '-'}|${item?.reqToken ?? '-'}`,
    );
    const finding = {
      type: FindingType.BLOCK_WITHOUT_ALLOCATION,
      subnetId: sh.subnet.id,
      ip: this.ipText(sh, seen.value),
      detail:
        'The block holds the address, but no live allocation item ' +
        `${item === undefined ? '' : '(only an expired one) '}and no pending request name it, ` +
        `so nobody holds it and nobody can get it (first seen ${new Date(sighting.firstSeenMs).toISOString()}).`,
    };
    let outcome: Outcome;
    if (!this.options.repair || misplaced(sh, seen.value)) outcome = NotRepaired.REPORT_ONLY;
    else if (!sh.current) outcome = NotRepaired.COUNTER_NOT_CURRENT;
    else if (!this.seenLongEnough(sighting)) outcome = NotRepaired.GRACE_PERIOD;
    else outcome = await this.freeOffset(sh, fresh, true);
    if (outcome === true) await forgetSighting(this.ctx, this.meter, sh.subnet.id, what);
    this.add(finding, outcome);
  }

  /** Frees a taken offset exactly as seen (see expiredLease and blockWithoutAllocation). */
  private async freeOffset(
    sh: ShardScan,
    seen: SeenOffset,
    checkPending: boolean,
  ): Promise<Outcome> {
    const lease = leaseAttribute(seen.offset);
    const token = tokenAttribute(seen.offset);
    const values: Record<string, unknown> = {
      ':o': seen.offset,
      ':offset': new Set([seen.offset]),
    };
    const conditions = ['contains(u, :o)'];
    if (seen.expiry === undefined) conditions.push(`attribute_not_exists(${lease})`);
    else {
      conditions.push(`${lease} = :x`);
      values[':x'] = seen.expiry;
    }
    if (seen.token === undefined) conditions.push(`attribute_not_exists(${token})`);
    else {
      conditions.push(`${token} = :t`);
      values[':t'] = seen.token;
    }
    const writes: TransactItem[] = [
      {
        Update: {
          TableName: this.ctx.tableName,
          Key: keys.block(sh.subnet.id, sh.shard, seen.block),
          UpdateExpression: `DELETE u :offset REMOVE ${lease}, ${token}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeValues: values,
        },
      },
      this.noLiveItem(sh, seen),
    ];
    if (checkPending && seen.token !== undefined) {
      writes.push({
        ConditionCheck: {
          TableName: this.ctx.tableName,
          Key: keys.pending(sh.subnet.id, seen.token),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      });
    }
    const delta = { n: -1, p: seen.inPool ? -1 : 0, l: seen.expiry === undefined ? 0 : -1 };
    writes.push(this.counterDelta(sh, delta));
    if (!(await this.transact(writes))) return NotRepaired.CHANGED;
    addTally(sh.ours, delta);
    sh.writes += 1;
    return true;
  }

  /** Deletes the expired allocation item seen (if still the same), else checks none is live. */
  private noLiveItem(sh: ShardScan, seen: SeenOffset): TransactItem {
    const key = seen.item === undefined ? this.itemKey(sh, seen.value) : itemKeyOf(seen.item);
    if (seen.item !== undefined) {
      return {
        Delete: {
          TableName: this.ctx.tableName,
          Key: key,
          ...sameItemCondition(seen.item),
        },
      };
    }
    return {
      ConditionCheck: {
        TableName: this.ctx.tableName,
        Key: key,
        ConditionExpression: 'attribute_not_exists(pk) OR #ttl <= :now',
        ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
        ExpressionAttributeValues: { ':now': Math.floor(this.ctx.now() / 1000) },
      },
    };
  }

  /**
   * An allocation item whose offset its block does not hold.
   *
   * Expired (EXPIRED_LEASE, item side): a dead item the table's TTL has not removed
   * yet; the address is free. Deleted, once expired longer ago than the grace period,
   * on condition it is still the same request's item with the same expiry.
   *
   * Live (ALLOCATION_WITHOUT_BLOCK): the holder has the address but the allocator
   * sees it free (its reservations then fail on the live item). Repaired, once the
   * item is older than the grace period, by taking the offset for the item's request
   * — on condition the block still does not hold it and the item is unchanged and
   * live — and counting it. This only ever marks an address held, never frees one.
   */
  private async loneItem(sh: ShardScan, item: AllocationItem, count = true): Promise<void> {
    if (count) this.report.scanned.allocations += 1;
    const value = itemValue(item as unknown as Record<string, unknown>);
    const ip = this.ipText(sh, value);
    if (!isLive(item, sh.nowSeconds)) {
      const expiry = Number(item.ttl ?? 0);
      const finding = {
        type: FindingType.EXPIRED_LEASE,
        subnetId: sh.subnet.id,
        ip,
        detail: `The lease expired at ${isoSeconds(expiry)}; its allocation item is left over (the address is free).`,
      };
      let outcome: Outcome;
      if (!this.options.repair) outcome = NotRepaired.REPORT_ONLY;
      else if (expiry > this.graceCutoffSeconds()) outcome = NotRepaired.GRACE_PERIOD;
      else {
        const deleted = await this.transact([
          {
            Delete: {
              TableName: this.ctx.tableName,
              Key: itemKeyOf(item),
              ...sameItemCondition(item),
            },
          },
        ]);
        outcome = deleted ? true : NotRepaired.CHANGED;
      }
      this.add(finding, outcome);
      return;
    }
    // Read again, as one snapshot: the block may have been written after its query passed.
    const pos = positionOf(sh.g, value);
    const blockKey = keys.block(sh.subnet.id, pos.shard, pos.block);
    const [blockNow, itemNow] = await this.snapshot([blockKey, itemKeyOf(item)]);
    if (blockFromItem(pos.block, blockNow).used.has(pos.offset)) return;
    const now = itemNow as unknown as AllocationItem | undefined;
    if (now?.reqToken !== item.reqToken || !isLive(now, Math.floor(this.ctx.now() / 1000))) return;
    const leased = typeof now.ttl === 'number';
    const inPool = inPools(sh.subnet.pools, value);
    const finding = {
      type: FindingType.ALLOCATION_WITHOUT_BLOCK,
      subnetId: sh.subnet.id,
      ip,
      detail:
        `The address is allocated${now.owner === null ? '' : ` to ${JSON.stringify(now.owner)}`} ` +
        'but its block does not hold it, so usage misses it and requests that pick it fail.',
    };
    let outcome: Outcome;
    const createdMs = Date.parse(now.createdAt);
    if (!this.options.repair || misplaced(sh, value)) outcome = NotRepaired.REPORT_ONLY;
    else if (!sh.current) outcome = NotRepaired.COUNTER_NOT_CURRENT;
    else if (Number.isNaN(createdMs) || this.ctx.now() - createdMs < this.options.gracePeriodMs) {
      outcome = NotRepaired.GRACE_PERIOD;
    } else {
      const lease = leaseAttribute(pos.offset);
      const values: Record<string, unknown> = {
        ':o': pos.offset,
        ':offset': new Set([pos.offset]),
        ':tok': now.reqToken,
      };
      if (leased) values[':x'] = now.ttl;
      const delta = { n: 1, p: inPool ? 1 : 0, l: leased ? 1 : 0 };
      const ok = await this.transact([
        {
          Update: {
            TableName: this.ctx.tableName,
            Key: blockKey,
            UpdateExpression:
              `ADD u :offset SET ${tokenAttribute(pos.offset)} = :tok` +
              (leased ? `, ${lease} = :x` : ` REMOVE ${lease}`),
            ConditionExpression: 'NOT contains(u, :o)',
            ExpressionAttributeValues: values,
          },
        },
        {
          ConditionCheck: {
            TableName: this.ctx.tableName,
            Key: itemKeyOf(now),
            ConditionExpression: leased
              ? 'reqToken = :tok AND #ttl = :ttl AND #ttl > :now'
              : 'reqToken = :tok AND attribute_not_exists(#ttl)',
            ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
            ExpressionAttributeValues: {
              ':tok': now.reqToken,
              ...(leased ? { ':ttl': now.ttl, ':now': Math.floor(this.ctx.now() / 1000) } : {}),
            },
          },
        },
        this.counterDelta(sh, delta),
      ]);
      if (ok) {
        addTally(sh.ours, delta);
        sh.writes += 1;
        outcome = true;
      } else outcome = NotRepaired.CHANGED;
    }
    this.add(finding, outcome);
  }

  /**
   * USAGE_DRIFT: compares the counter with the blocks. The comparison only counts
   * when the counter's `ver` moved by exactly this audit's own writes between the
   * reads before and after the blocks (every allocator write to a block moves it in
   * the same transaction), so the blocks read are a snapshot as of the counter.
   * The recount is then written on condition `ver` and `pv` are still those — and
   * only when no pending record exists (checked after the blocks were read): a
   * multi-step request may write blocks in one transaction and its counter in the
   * next. Counters of an older configVersion are recounted by counters.ts.
   * Returns the counts the counter holds afterwards (for utilisation).
   */
  private async settleCounter(sh: ShardScan, before: StoredCounter | undefined): Promise<Tally> {
    const key = keys.counter(sh.subnet.id, sh.shard);
    const after = counterOf(await this.get(key));
    const expected = {
      n: sh.truth.n + sh.ours.n,
      p: sh.truth.p + sh.ours.p,
      l: sh.truth.l + sh.ours.l,
    };
    const configVersion = sh.subnet.configVersion;
    const finding = (detail: string) => ({
      type: FindingType.USAGE_DRIFT,
      subnetId: sh.subnet.id,
      detail: `Shard ${sh.shard}: ${detail}`,
    });
    if (before === undefined && after === undefined) {
      // Deleted meanwhile (the subnet and its counters go in one transaction)?
      if ((await this.get(keys.subnet(sh.subnet.id))) === undefined) return expected;
      let outcome: Outcome = NotRepaired.REPORT_ONLY;
      if (this.options.repair) {
        if (await this.hasPending(sh.subnet.id)) outcome = NotRepaired.IN_FLIGHT;
        else {
          const created = await this.transact([
            {
              ConditionCheck: {
                TableName: this.ctx.tableName,
                Key: keys.subnet(sh.subnet.id),
                ConditionExpression: 'configVersion = :cv',
                ExpressionAttributeValues: { ':cv': configVersion },
              },
            },
            {
              Put: {
                TableName: this.ctx.tableName,
                Item: { ...newCounterItem(sh.subnet.id, sh.shard, configVersion), ...expected },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ]);
          outcome = created ? true : NotRepaired.CHANGED;
        }
      }
      this.add(
        finding(
          `the usage counter is missing, so every allocation in the shard fails; the blocks hold ${tallyText(expected)}.`,
        ),
        outcome,
      );
      return expected;
    }
    if (before === undefined || after === undefined) {
      this.report.unstableShards += 1;
      return after ?? expected;
    }
    if (after.pv < configVersion && before.pv === after.pv) {
      let outcome: Outcome = NotRepaired.REPORT_ONLY;
      let counted: Tally = expected;
      if (this.options.repair) {
        try {
          counted = await recountShard(this.ctx, sh.subnet, sh.shard);
          outcome = true;
        } catch (error) {
          if (!(error instanceof StaleSubnetError || error instanceof AllocationContentionError)) {
            throw error;
          }
          outcome = NotRepaired.CHANGED;
        }
      }
      this.add(
        finding(
          `the counter was counted under configuration ${after.pv}, the subnet is at ` +
            `${configVersion} (a pool change that did not finish its recount).`,
        ),
        outcome,
      );
      return counted;
    }
    if (after.pv !== configVersion || after.ver !== before.ver + sh.writes) {
      this.report.unstableShards += 1;
      return after;
    }
    if (after.n === expected.n && after.p === expected.p && after.l === expected.l) return after;
    let outcome: Outcome = NotRepaired.REPORT_ONLY;
    if (this.options.repair) {
      if (await this.hasPending(sh.subnet.id)) outcome = NotRepaired.IN_FLIGHT;
      else {
        const written = await this.conditionalUpdate(key, expected, after.ver, configVersion);
        outcome = written ? true : NotRepaired.CHANGED;
      }
    }
    this.add(
      finding(`the counter says ${tallyText(after)}, the blocks hold ${tallyText(expected)}.`),
      outcome,
    );
    return outcome === true ? expected : after;
  }

  private async conditionalUpdate(
    key: Key,
    counts: Tally,
    ver: number,
    configVersion: number,
  ): Promise<boolean> {
    try {
      const result = await this.ctx.doc.send(
        new UpdateCommand({
          TableName: this.ctx.tableName,
          Key: key,
          UpdateExpression: 'SET n = :n, p = :p, l = :l, ver = :next',
          ConditionExpression: 'ver = :ver AND pv = :pv',
          ExpressionAttributeValues: {
            ':n': counts.n,
            ':p': counts.p,
            ':l': counts.l,
            ':ver': ver,
            ':next': ver + 1,
            ':pv': configVersion,
          },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter.write(result.ConsumedCapacity);
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  private async hasPending(subnetId: string): Promise<boolean> {
    const result: QueryCommandOutput = await this.ctx.doc.send(
      new QueryCommand({
        TableName: this.ctx.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :pending)',
        ExpressionAttributeValues: { ':pk': keys.subnet(subnetId).pk, ':pending': 'PENDING#' },
        ConsistentRead: true,
        Limit: 1,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter.read(result.ConsumedCapacity);
    return (result.Items?.length ?? 0) > 0;
  }

  private counterDelta(sh: ShardScan, delta: Tally): TransactItem {
    return {
      Update: {
        TableName: this.ctx.tableName,
        Key: keys.counter(sh.subnet.id, sh.shard),
        UpdateExpression: 'ADD n :n, p :p, l :l, ver :one',
        ConditionExpression: 'pv = :pv',
        ExpressionAttributeValues: {
          ':n': delta.n,
          ':p': delta.p,
          ':l': delta.l,
          ':one': 1,
          ':pv': sh.subnet.configVersion,
        },
      },
    };
  }

  // --- Overlaps ----------------------------------------------------------------

  /**
   * SUBNET_OVERLAP: gsi1 lists every subnet by space, IP version and network, so
   * one pass keeping the subnet that reaches furthest finds every overlap. The
   * index is eventually consistent: both subnets are re-read before reporting.
   */
  private async runOverlap(): Promise<void> {
    const state = this.checkpoint.overlap;
    while (!state.done) {
      if (this.shouldStop()) return;
      const page: QueryCommandOutput = await this.ctx.doc.send(
        new QueryCommand({
          TableName: this.ctx.tableName,
          IndexName: LIST_INDEX.name,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': LIST_INDEX.partition },
          ExpressionAttributeValues: { ':pk': keys.allSubnets },
          Limit: this.pageSize,
          ExclusiveStartKey: state.startKey,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter.read(page.ConsumedCapacity);
      for (const item of page.Items ?? []) {
        const subnet = parseSubnet(item);
        if (subnet === undefined) continue;
        const group = `${subnet.space}#${subnet.cidr.version}`;
        const first = cidrFirst(subnet.cidr);
        const last = cidrLast(subnet.cidr);
        const sameGroup = state.group === group && state.maxLast !== undefined;
        if (sameGroup && first <= BigInt(state.maxLast ?? '0')) {
          await this.overlap(subnet, state.holderId ?? '', state.holderCidr ?? '');
        }
        if (!sameGroup || last > BigInt(state.maxLast ?? '0')) {
          state.group = group;
          state.maxLast = last.toString();
          state.holderId = subnet.id;
          state.holderCidr = formatCidr(subnet.cidr);
        }
      }
      this.progressed = true;
      if (page.LastEvaluatedKey === undefined) state.done = true;
      else state.startKey = page.LastEvaluatedKey;
    }
  }

  private async overlap(subnet: Subnet, otherId: string, otherCidr: string): Promise<void> {
    if (otherId === subnet.id) return;
    const [mine, other] = await Promise.all([
      this.get(keys.subnet(subnet.id)),
      this.get(keys.subnet(otherId)),
    ]);
    if (mine === undefined || other === undefined) return;
    this.add(
      {
        type: FindingType.SUBNET_OVERLAP,
        subnetId: subnet.id,
        detail:
          `${formatCidr(subnet.cidr)} overlaps ${otherCidr} (subnet ${otherId}) in space ` +
          `${subnet.space}; one of them must be moved or deleted by hand.`,
      },
      NotRepaired.REPORT_ONLY,
    );
  }

  // --- Helpers -------------------------------------------------------------------

  private add(finding: Omit<AuditFinding, 'repaired' | 'notRepaired'>, outcome: Outcome): void {
    const repaired = outcome === true;
    const full: AuditFinding = {
      ...finding,
      detail: clip(finding.detail),
      repaired,
      ...(this.options.repair && outcome !== true ? { notRepaired: outcome } : {}),
    };
    const counts = this.report.findingCounts[full.type] ?? { found: 0, repaired: 0 };
    counts.found += 1;
    if (repaired) counts.repaired += 1;
    this.report.findingCounts[full.type] = counts;
    if (this.report.findings.length < this.options.maxStoredFindings) {
      this.report.findings.push(full);
    } else {
      this.report.findingsTruncated = true;
    }
  }

  /** An earlier audit saw it, longer ago than the grace period. */
  private seenLongEnough(sighting: Sighting): boolean {
    return (
      sighting.byEarlierAudit && this.ctx.now() - sighting.firstSeenMs >= this.options.gracePeriodMs
    );
  }

  /** Leases that expired at or before this (epoch seconds) are past the grace period. */
  private graceCutoffSeconds(): number {
    return Math.floor((this.ctx.now() - this.options.gracePeriodMs) / 1000);
  }

  private ipText(sh: ShardScan, value: bigint): string {
    return formatIp(address(sh.subnet.cidr.version, value));
  }

  private itemKey(sh: ShardScan, value: bigint): Key {
    const ip = address(sh.subnet.cidr.version, value);
    return keys.allocation(sh.subnet.id, positionOf(sh.g, value).shard, ip);
  }

  private async get(key: Key): Promise<Record<string, unknown> | undefined> {
    const result = await this.ctx.doc.send(
      new GetCommand({
        TableName: this.ctx.tableName,
        Key: key,
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter.read(result.ConsumedCapacity);
    return result.Item;
  }

  /** Several items as of one instant (TransactGetItems); undefined where an item is missing. */
  private async snapshot(itemKeys: Key[]): Promise<(Record<string, unknown> | undefined)[]> {
    const result = await this.ctx.doc.send(
      new TransactGetCommand({
        TransactItems: itemKeys.map((key) => ({
          Get: { TableName: this.ctx.tableName, Key: key },
        })),
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter.read(result.ConsumedCapacity);
    return itemKeys.map((_, index) => result.Responses?.[index]?.Item);
  }

  /** Consistent, paged Query of one partition's items whose sort key starts with `prefix`. */
  private async *partition(pk: string, prefix: string): AsyncGenerator<Record<string, unknown>> {
    let startKey: Key | undefined;
    do {
      const page: QueryCommandOutput = await this.ctx.doc.send(
        new QueryCommand({
          TableName: this.ctx.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': pk, ':prefix': prefix },
          ConsistentRead: true,
          Limit: this.pageSize,
          ExclusiveStartKey: startKey,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter.read(page.ConsumedCapacity);
      yield* page.Items ?? [];
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  /**
   * True when committed; false when a condition failed, the items conflicted, or
   * DynamoDB stayed unavailable through the SDK's retries (which reuse one
   * ClientRequestToken). In that last case the write may have landed: the shard's
   * `ver` then moved by more than this audit counted, so its drift is not judged,
   * and the next audit sees the outcome.
   */
  private async transact(items: TransactItem[]): Promise<boolean> {
    try {
      const result = await this.ctx.doc.send(
        new TransactWriteCommand({ TransactItems: items, ReturnConsumedCapacity: 'TOTAL' }),
      );
      this.meter.write(result.ConsumedCapacity);
      return true;
    } catch (error) {
      if (isTransactionCanceled(error) || isRetryableAwsError(error)) return false;
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------
// Small pure helpers

interface StoredCounter extends Tally {
  ver: number;
  pv: number;
}

function counterOf(item: Record<string, unknown> | undefined): StoredCounter | undefined {
  if (item === undefined) return undefined;
  return {
    n: Number(item.n ?? 0),
    p: Number(item.p ?? 0),
    l: Number(item.l ?? 0),
    ver: Number(item.ver ?? 0),
    pv: Number(item.pv ?? 0),
  };
}

/** An item stored in another shard's partition than its address belongs to (only by hand). */
function misplaced(sh: ShardScan, value: bigint): boolean {
  return positionOf(sh.g, value).shard !== sh.shard;
}

function parseSubnet(item: Record<string, unknown>): Subnet | undefined {
  try {
    return fromSubnetItem(item);
  } catch {
    return undefined; // not a subnet this code can read; nothing to audit against
  }
}

function addTally(into: Tally, delta: Tally): void {
  into.n += delta.n;
  into.p += delta.p;
  into.l += delta.l;
}

function tallyText(tally: Tally): string {
  return `${tally.n} allocated (${tally.p} in the pools, ${tally.l} leases)`;
}

/** The absolute address of an allocation item, from its sort key `IP#<hex>`. */
function itemValue(item: Record<string, unknown>): bigint {
  return BigInt(`0x${String(item.sk).slice('IP#'.length)}`);
}

function itemKeyOf(item: AllocationItem): Key {
  return { pk: item.pk, sk: item.sk };
}

function isLive(item: AllocationItem, nowSeconds: number): boolean {
  return typeof item.ttl !== 'number' || item.ttl > nowSeconds;
}

/** Condition: still the same request's item with the same expiry. */
function sameItemCondition(item: AllocationItem) {
  const names = { '#ttl': TTL_ATTRIBUTE };
  const hasToken = typeof item.reqToken === 'string';
  const hasTtl = typeof item.ttl === 'number';
  return {
    ConditionExpression: [
      hasToken ? 'reqToken = :tok' : 'attribute_not_exists(reqToken)',
      hasTtl ? '#ttl = :ttl' : 'attribute_not_exists(#ttl)',
    ].join(' AND '),
    ExpressionAttributeNames: names,
    ...(hasToken || hasTtl
      ? {
          ExpressionAttributeValues: {
            ...(hasToken ? { ':tok': item.reqToken } : {}),
            ...(hasTtl ? { ':ttl': item.ttl } : {}),
          },
        }
      : {}),
  };
}

function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function clip(text: string): string {
  return text.length <= MAX_DETAIL_LENGTH ? text : `${text.slice(0, MAX_DETAIL_LENGTH - 1)}…`;
}

function round(units: number): number {
  return Math.round(units * 1000) / 1000;
}

function newReport(ctx: IpamContext, options: CheckpointOptions): AuditReport {
  return {
    id: newId('aud'),
    startedAt: new Date(ctx.now()).toISOString(),
    finishedAt: null,
    repair: options.repair,
    status: 'partial',
    scanned: { subnets: 0, allocations: 0, items: 0 },
    findings: [],
    findingCounts: {},
    findingsTruncated: false,
    utilization: [],
    utilizationTruncated: false,
    unstableShards: 0,
    gracePeriodMs: options.gracePeriodMs,
    highUtilizationPercent: options.highUtilizationPercent,
    consumedReadCapacity: 0,
    consumedWriteCapacity: 0,
    invocations: 1,
  };
}

/** Highest utilisation first, at most MAX_UTILIZATION_ENTRIES. */
function finishUtilization(report: AuditReport): void {
  report.utilization.sort((a, b) => b.percent - a.percent || (a.subnetId < b.subnetId ? -1 : 1));
  if (report.utilization.length > MAX_UTILIZATION_ENTRIES) {
    report.utilization.length = MAX_UTILIZATION_ENTRIES;
    report.utilizationTruncated = true;
  }
}

/** Halves the longer list until the stored report fits its budget. */
function fitReport(report: AuditReport): void {
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

function integerOption(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  field: string,
): number {
  return numberOption(value, fallback, min, max, field, true);
}

function numberOption(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  field: string,
  integer = false,
): number {
  if (value === undefined) return fallback;
  const valid = integer ? Number.isInteger(value) : Number.isFinite(value);
  if (!valid || value < min || value > max) {
    throw new ValidationError(
      `${field} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}.`,
      {
        field,
      },
    );
  }
  return value;
}
