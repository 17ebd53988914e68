/**
 * The audit: reads the whole table once (a parallel Scan) in bounded memory, finds
 * where the stored state disagrees with itself, repairs what is safe to repair,
 * and reports utilisation. It runs as a job (job.ts: start, segments, merge); this
 * module runs one in this process from start to end (or to a deadline), and reads
 * stored reports.
 */

import { AuditNotFoundError } from '../errors.js';
import type { IpamContext } from '../store/context.js';
import { auditKeys } from '../store/keys.js';
import { CapacityMeter, readAuditPointer } from './auditStore.js';
import { readJob, readReport, startAuditJob } from './job.js';
import { runJobInProcess } from './localRunner.js';
import type { AuditOptions } from './options.js';
import type { AuditReport } from './report.js';

/**
 * Runs an audit in this process, or continues the running one named by
 * `resumeFrom` from its segments' checkpoints, until it is complete or
 * `deadline()` says stop (each unfinished segment then checkpoints, and the report
 * is `running`). Resuming a finished audit returns it unchanged.
 */
export async function runAudit(ctx: IpamContext, options: AuditOptions): Promise<AuditReport> {
  let auditId: string;
  let segments: number;
  if (options.resumeFrom !== undefined) {
    const job = await readJob(ctx, new CapacityMeter(), options.resumeFrom);
    if (job.report.status !== 'running') return job.report;
    auditId = job.report.id;
    segments = job.plan.options.segments;
  } else {
    const report = await startAuditJob(ctx, options);
    auditId = report.id;
    segments = report.segments ?? 1;
  }
  return runJobInProcess(ctx, auditId, segments, {
    ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
    ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
    ...(options.checkpointEveryMs === undefined
      ? {}
      : { checkpointEveryMs: options.checkpointEveryMs }),
  });
}

/** A stored report by id (a running one with its progress); AuditNotFoundError for an unknown or malformed id. */
export async function getAudit(ctx: IpamContext, auditId: string): Promise<AuditReport> {
  return readReport(ctx, auditId);
}

/** The complete audit that finished last. */
export async function getLatestAudit(ctx: IpamContext): Promise<AuditReport> {
  const id = await readAuditPointer(ctx, new CapacityMeter(), auditKeys.latest);
  if (id === undefined) throw new AuditNotFoundError('latest');
  return getAudit(ctx, id);
}

/** The audit started last, in whatever state (GET /audits/latest). */
export async function getLatestStartedAudit(ctx: IpamContext): Promise<AuditReport> {
  const id = await readAuditPointer(ctx, new CapacityMeter(), auditKeys.latestStarted);
  if (id === undefined) throw new AuditNotFoundError('latest');
  return getAudit(ctx, id);
}
