/**
 * The audit: walks the whole table in bounded memory, finds where the stored state
 * disagrees with itself, repairs what is safe to repair, and reports utilisation.
 * This module starts or resumes a run and saves its report; index.ts maps the
 * rest (the walk in scan.ts, the reads in reader.ts, the checks beside them).
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
 * **Checkpoints.** When `deadline()` says stop, the report so far and the
 * checkpoint are saved and a partial report is returned; `resumeFrom` continues it.
 */
import { AuditNotFoundError } from '../errors.js';
import { isId } from '../net/ids.js';
import type { IpamContext } from '../store/context.js';
import { CapacityMeter, markLatest, readAudit, readLatestId, writeAudit } from './auditStore.js';
import { type Checkpoint, DeadlineGate, newCheckpoint } from './checkpoint.js';
import { AuditIo } from './io.js';
import { type AuditOptions, parsePageSize, parseSettings } from './options.js';
import { AuditReader } from './reader.js';
import { type AuditReport, Findings, fitReport, newReport } from './report.js';
import { TableScan } from './scan.js';
import { finishUtilization } from './utilization.js';

/**
 * Runs an audit, or continues the partial one named by `resumeFrom`, until it is
 * complete or `deadline()` says stop; saves and returns the report (`partial` when
 * stopped). Resuming a complete audit returns it unchanged.
 */
export async function runAudit(ctx: IpamContext, options: AuditOptions): Promise<AuditReport> {
  const pageSize = parsePageSize(options);
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
    const settings = parseSettings(options);
    report = newReport(ctx, settings);
    checkpoint = newCheckpoint(settings);
  }
  const settings = checkpoint.options;
  const scope = {
    ctx,
    meter,
    io: new AuditIo(ctx, meter),
    settings,
    report,
    findings: new Findings(report, settings),
  };
  const scan = new TableScan(
    scope,
    new AuditReader(ctx, meter, pageSize),
    new DeadlineGate(options.deadline),
    checkpoint,
  );
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
    complete = await scan.execute();
  } catch (error) {
    // Keep what was done: the checkpoint only ever points past finished work.
    await save(false).catch(() => undefined);
    throw error;
  }
  await save(complete);
  return report;
}

/** A stored report by id; AuditNotFoundError for an unknown or malformed id. */
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

function round(units: number): number {
  return Math.round(units * 1000) / 1000;
}
