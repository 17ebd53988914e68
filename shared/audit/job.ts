/**
 * The audit as a job in three steps, each a plain function of the table, so that
 * Step Functions (a Lambda per step, functions/audit/) and the in-process runner
 * (localRunner.ts) run the very same code:
 *
 * 1. {@link startAuditJob}: takes the lock (one audit at a time), cuts the table
 *    into Scan segments from DescribeTable's item count, writes the `running` report.
 * 2. {@link runAuditSegment} for each segment k of N, in parallel: reads its part of
 *    the table once (segmentScan.ts), checkpointing; past its deadline it returns
 *    `{done: false}` and the next invocation continues from the checkpoint.
 * 3. {@link finishAudit} once every segment is done: adds up the segments, runs the
 *    subnet pass (overlaps, utilisation, shards the scan did not meet), writes the
 *    complete report, moves the latest pointer and releases the lock.
 *
 * {@link failAudit} marks a job that cannot finish `failed`, with the reason.
 *
 * **How it repairs.** Every repair is one conditional write (mostly one
 * `TransactWriteItems`) that re-checks exactly what the audit saw — the block still
 * holds the offset with the same token and lease, the allocation item is still the
 * same request's, no pending record names it, the counter is still counted under
 * the same configuration — and moves the shard counter in the same transaction, so
 * counters stay exact. Nothing younger than the grace period is touched: its age
 * is the lease expiry, the item's or pending record's `createdAt`, or, for states
 * that carry no timestamp, the first sighting by an earlier audit (auditStore.ts).
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { AuditNotFoundError, AuditRunningError } from '../errors.js';
import { isId } from '../net/ids.js';
import type { IpamContext } from '../store/context.js';
import { geometryOf } from '../subnets/geometry.js';
import type { Subnet } from '../subnets/subnet.js';
import { CapacityMeter, markLatest, readAudit, writeAudit } from './auditStore.js';
import {
  DeadlineGate,
  type JobPlan,
  newPartialReport,
  type PartialReport,
  type SubnetTally,
  shardTally,
} from './checkpoint.js';
import { AuditIo } from './io.js';
import {
  AuditJobError,
  acquireLock,
  markStarted,
  readSegment,
  readSegmentProgress,
  releaseLock,
  renewLock,
  writeSegment,
} from './jobStore.js';
import {
  type AuditOptions,
  parseCheckpointInterval,
  parsePageSize,
  parseSettings,
} from './options.js';
import { findOverlaps, type OverlapState } from './overlaps.js';
import { AuditReader } from './reader.js';
import { type AuditReport, Findings, fitReport, hasRoomFor, newReport } from './report.js';
import type { AuditScope } from './scope.js';
import { SegmentScan, SubnetCache } from './segmentScan.js';
import { auditShardByQuery } from './shardAudit.js';
import { finishSubnet, finishUtilization } from './utilization.js';

/** A stored job: its report, its plan and the report item's version. */
interface StoredJob {
  readonly report: AuditReport;
  readonly plan: JobPlan;
  readonly version: number;
}

/** Reads a job; AuditNotFoundError for an unknown or malformed id. */
export async function readJob(
  ctx: IpamContext,
  meter: CapacityMeter,
  auditId: string,
): Promise<StoredJob> {
  const stored = isId('aud', auditId) ? await readAudit(ctx, meter, auditId) : undefined;
  if (stored === undefined) throw new AuditNotFoundError(auditId);
  const report = stored.report as AuditReport;
  const plan = (stored.checkpoint as JobPlan | undefined) ?? {
    format: 2,
    options: {
      repair: report.repair,
      gracePeriodMs: report.gracePeriodMs,
      highUtilizationPercent: report.highUtilizationPercent,
      segments: report.segments ?? 1,
      maxStoredFindings: 0,
    },
    estimatedItems: 0,
  };
  return { report, plan, version: stored.version };
}

/**
 * Starts an audit job: checks the options, takes the lock (AuditRunningError, with
 * the running audit's id, while another job holds it), decides the segment count
 * from the table's estimated size and saves the `running` report. A job whose lock
 * had expired (it stopped without finishing) is marked `failed`.
 */
export async function startAuditJob(ctx: IpamContext, options: AuditOptions): Promise<AuditReport> {
  parseSettings(options); // reject bad options before any write
  const meter = new CapacityMeter();
  const draft = newReport(ctx, parseSettings(options));
  const acquired = await acquireLock(ctx, meter, draft.id);
  if (acquired.holder !== undefined) throw new AuditRunningError(acquired.holder);
  try {
    const [estimate] = await Promise.all([
      estimateItems(ctx),
      acquired.expired === undefined
        ? undefined
        : failAudit(
            ctx,
            acquired.expired,
            'The job stopped without finishing (no checkpoint for the lock lease); a new audit took over.',
            false,
          ).catch(() => undefined),
    ]);
    const settings = parseSettings(options, estimate);
    const report: AuditReport = {
      ...draft,
      segments: settings.segments,
      progress: progressOf(0, estimate),
    };
    const plan: JobPlan = { format: 2, options: settings, estimatedItems: estimate };
    await Promise.all([
      writeAudit(ctx, meter, report, plan, undefined),
      markStarted(ctx, meter, report.id),
    ]);
    return report;
  } catch (error) {
    await releaseLock(ctx, meter, draft.id).catch(() => undefined);
    throw error;
  }
}

/** What a segment invocation may be told. */
export interface SegmentOptions {
  /** True when the invocation must stop (it checkpoints first). */
  readonly deadline?: () => boolean;
  /** Items per Scan page, default 500. */
  readonly pageSize?: number;
  /** How often to checkpoint while running, default 10 s. */
  readonly checkpointEveryMs?: number;
}

/**
 * Runs segment `segment` of the job from its checkpoint until the segment's end
 * (`done: true`) or the deadline (`done: false`: invoke it again). A segment of a
 * job that is no longer running is done.
 */
export async function runAuditSegment(
  ctx: IpamContext,
  auditId: string,
  segment: number,
  options: SegmentOptions = {},
): Promise<{ done: boolean }> {
  const meter = new CapacityMeter();
  if (!Number.isInteger(segment) || segment < 0) {
    throw new AuditJobError(`Audit ${auditId} has no segment ${segment}.`);
  }
  const [job, stored] = await Promise.all([
    readJob(ctx, meter, auditId),
    readSegment(ctx, meter, auditId, segment),
  ]);
  if (job.report.status !== 'running') return { done: true };
  const total = job.plan.options.segments;
  if (segment >= total) {
    throw new AuditJobError(`Audit ${auditId} has segments 0 to ${total - 1}, not ${segment}.`);
  }
  const state = stored.state;
  if (state.done) return { done: true };
  let ver = stored.ver;
  state.invocations += 1;
  const pageSize = parsePageSize(options);
  const scope = scopeOf(ctx, meter, job, state.part);
  const scan = new SegmentScan(scope, new AuditReader(ctx, meter, pageSize));
  await scan.run({
    segment,
    totalSegments: total,
    state,
    gate: new DeadlineGate(options.deadline),
    meter,
    checkpointEveryMs: parseCheckpointInterval(options),
    checkpoint: async () => {
      ver = await writeSegment(ctx, meter, auditId, segment, state, ver);
    },
  });
  return { done: state.done };
}

/**
 * Finishes a job whose every segment is done: the subnet pass, the report, the
 * latest pointer, the lock. Returns a finished job's report unchanged.
 * AuditJobError when a segment has not finished.
 */
export async function finishAudit(ctx: IpamContext, auditId: string): Promise<AuditReport> {
  const meter = new CapacityMeter();
  const job = await readJob(ctx, meter, auditId);
  const { report, plan } = job;
  if (report.status !== 'running') return report;
  await renewLock(ctx, meter, auditId);
  const merged = newPartialReport();
  const findings = new Findings(report, plan.options);
  const tallies = new Map<string, SubnetTally>();
  report.findings = [];
  report.findingCounts = {};
  report.invocations = 0;
  const states = await Promise.all(
    Array.from({ length: plan.options.segments }, (_, segment) =>
      readSegment(ctx, meter, auditId, segment),
    ),
  );
  for (const [segment, { state }] of states.entries()) {
    if (!state.done) {
      throw new AuditJobError(`Audit ${auditId}: segment ${segment} has not finished.`);
    }
    addPart(report, state.part, plan.options.maxStoredFindings);
    report.invocations = Math.max(report.invocations, state.invocations);
    for (const [subnetId, tally] of Object.entries(state.subnets)) {
      const into = tallies.get(subnetId);
      if (into === undefined) tallies.set(subnetId, tally);
      else mergeTally(into, tally);
    }
  }
  const scope = scopeOf(ctx, meter, job, merged, findings);
  const reader = new AuditReader(ctx, meter, 500);
  const overlap: OverlapState = { done: false };
  await findOverlaps(
    scope,
    new DeadlineGate(undefined),
    overlap,
    (startKey) => reader.subnetList(startKey),
    (subnet) => utilizationOf(scope, reader, report, subnet, tallies.get(subnet.id)),
  );
  report.scanned.allocations += merged.scanned.allocations;
  report.unstableShards += merged.unstableShards;
  report.status = 'complete';
  report.finishedAt = new Date(ctx.now()).toISOString();
  delete report.progress;
  finishUtilization(report);
  report.consumedReadCapacity = round(report.consumedReadCapacity + meter.readUnits);
  report.consumedWriteCapacity = round(report.consumedWriteCapacity + meter.writeUnits);
  fitReport(report);
  await writeAudit(ctx, meter, report, plan, job.version);
  const finishedAt = report.finishedAt;
  await Promise.all([
    markLatest(ctx, meter, report.id, finishedAt),
    releaseLock(ctx, meter, auditId),
  ]);
  return report;
}

/**
 * Marks a running job `failed` with `reason` (said to the caller as is) and, unless
 * told otherwise, releases its lock. Returns a finished job's report unchanged.
 */
export async function failAudit(
  ctx: IpamContext,
  auditId: string,
  reason: string,
  release = true,
): Promise<AuditReport> {
  const meter = new CapacityMeter();
  const job = await readJob(ctx, meter, auditId);
  const { report } = job;
  if (report.status !== 'running') return report;
  report.status = 'failed';
  report.reason = reason.slice(0, 1000);
  report.finishedAt = new Date(ctx.now()).toISOString();
  delete report.progress;
  await writeAudit(ctx, meter, report, job.plan, job.version);
  if (release) await releaseLock(ctx, meter, auditId);
  return report;
}

/** A job's report; while it runs, with its progress from the segments' items. */
export async function readReport(ctx: IpamContext, auditId: string): Promise<AuditReport> {
  const meter = new CapacityMeter();
  const { report, plan } = await readJob(ctx, meter, auditId);
  if (report.status !== 'running') return report;
  const segments = await readSegmentProgress(ctx, meter, auditId);
  let scanned = 0;
  let invocations = 0;
  for (const progress of segments.values()) {
    scanned += progress.scannedItems;
    invocations = Math.max(invocations, progress.invocations);
  }
  report.progress = progressOf(scanned, plan.estimatedItems);
  report.invocations = Math.max(1, invocations);
  return report;
}

function progressOf(scannedItems: number, estimate: number): NonNullable<AuditReport['progress']> {
  if (estimate > 0 && estimate >= scannedItems) {
    return { scannedItems, estimatedItems: estimate };
  }
  return {
    scannedItems,
    estimatedItems: Math.max(estimate, scannedItems),
    estimateNote:
      estimate === 0
        ? 'DescribeTable reported no item count (DynamoDB updates it about every six hours; ' +
          'DynamoDB Local may not keep it): the estimate is what was scanned so far.'
        : 'The table grew past DescribeTable item count (updated about every six hours): ' +
          'the estimate is what was scanned so far.',
  };
}

/** DescribeTable's item count: approximate, refreshed by DynamoDB about every six hours. */
async function estimateItems(ctx: IpamContext): Promise<number> {
  const described = await ctx.doc.send(new DescribeTableCommand({ TableName: ctx.tableName }));
  return Number(described.Table?.ItemCount ?? 0);
}

function scopeOf(
  ctx: IpamContext,
  meter: CapacityMeter,
  job: StoredJob,
  part: PartialReport,
  findings = new Findings(part, job.plan.options),
): AuditScope {
  return {
    ctx,
    meter,
    io: new AuditIo(ctx, meter),
    settings: job.plan.options,
    auditId: job.report.id,
    part,
    findings,
  };
}

/** Adds one segment's part to the report (findings in segment order, up to the caps). */
function addPart(report: AuditReport, part: PartialReport, maxStoredFindings: number): void {
  report.scanned.allocations += part.scanned.allocations;
  report.scanned.items += part.scanned.items;
  report.unstableShards += part.unstableShards;
  report.consumedReadCapacity += part.consumedReadCapacity;
  report.consumedWriteCapacity += part.consumedWriteCapacity;
  for (const [type, count] of Object.entries(part.findingCounts)) {
    const key = type as keyof AuditReport['findingCounts'];
    const into = report.findingCounts[key] ?? { found: 0, repaired: 0 };
    into.found += count.found;
    into.repaired += count.repaired;
    report.findingCounts[key] = into;
  }
  for (const finding of part.findings) {
    if (hasRoomFor(report.findings, finding.type, maxStoredFindings)) report.findings.push(finding);
    else report.findingsTruncated = true;
  }
  if (part.findingsTruncated) report.findingsTruncated = true;
}

function mergeTally(into: SubnetTally, from: SubnetTally): void {
  Object.assign(into.shards, from.shards);
  into.outside += from.outside;
  for (const ip of from.outsideSample) {
    if (into.outsideSample.length < 5) into.outsideSample.push(ip);
  }
}

/**
 * A subnet of the subnet list: its utilisation from its shards' counters as the
 * segments settled them. Shards no segment met (a subnet created during the scan,
 * a shard whose every item vanished) are audited here by consistent Queries.
 */
async function utilizationOf(
  scope: AuditScope,
  reader: AuditReader,
  report: AuditReport,
  listed: Subnet,
  found: SubnetTally | undefined,
): Promise<void> {
  const tally = found ?? { shards: {}, outside: 0, outsideSample: [] };
  let subnet = listed;
  const g = geometryOf(listed.cidr);
  const missing: number[] = [];
  for (let shard = 0; shard < g.shardCount; shard++) {
    if (tally.shards[String(shard)] === undefined) missing.push(shard);
  }
  if (missing.length > 0) {
    // Read it consistently: the list (gsi1) may lag, and the join needs its pools.
    const fresh = await new SubnetCache(scope).get(listed.id);
    if (fresh === null) return; // deleted meanwhile
    subnet = fresh;
    for (const shard of missing) {
      const counted = await auditShardByQuery(scope, reader, subnet, shard, tally);
      tally.shards[String(shard)] = shardTally(counted);
    }
  }
  // As the subnet's usage counts: what nobody holds is not allocated.
  let all = 0n;
  let inPools = 0n;
  let quarantined = 0n;
  for (const [n, p, asideN = 0, asideP = 0, q = 0] of Object.values(tally.shards)) {
    all += BigInt(Math.max(0, n - asideN));
    inPools += BigInt(Math.max(0, p - asideP));
    quarantined += BigInt(q);
  }
  finishSubnet(scope, report, subnet, { ...tally, all, inPools, quarantined });
}

function round(units: number): number {
  return Math.round(units * 1000) / 1000;
}
