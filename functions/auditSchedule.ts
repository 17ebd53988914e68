/**
 * The scheduled audit (EventBridge Scheduler, hourly by default), event
 * `{"repair": false}`. With `IPAM_AUDIT_STATE_MACHINE_ARN` set it starts the audit
 * job's state machine and returns at once (functions/audit/startJob.ts; the merge
 * step publishes the metrics). Without it, it runs the same job inside this Lambda,
 * stops before the time limit and continues on the next run
 * (shared/audit/scheduled.ts), and publishes per-subnet utilisation as CloudWatch
 * metrics (EMF through Powertools Metrics) so alarms can fire on it.
 */
import type { Context } from 'aws-lambda';
import { type AuditReport, runScheduledAudit } from '../shared/audit/index.js';
import { stateMachineArn } from './audit/launch.js';
import { publishMetrics } from './audit/merge.js';
import { type AuditStartEvent, startScheduledJob } from './audit/startJob.js';
import { ctx, logger } from './runtime.js';

/** Stop with this much of the Lambda's time left: the smallest unit of audit work is one partition. */
const SAFETY_MARGIN_MS = 60_000;

export type AuditScheduleEvent = AuditStartEvent;

export async function handler(
  event: AuditScheduleEvent,
  context: Context,
): Promise<AuditReport | { auditId: string; started: boolean }> {
  if (stateMachineArn() !== undefined) return startScheduledJob(event);
  const grace = process.env.IPAM_AUDIT_GRACE_MS;
  const report = await runScheduledAudit(ctx, {
    repair: event.repair === true,
    ...(grace === undefined ? {} : { gracePeriodMs: Number(grace) }),
    deadline: () => context.getRemainingTimeInMillis() < SAFETY_MARGIN_MS,
  });
  publishMetrics(report);
  logger.info('Audit run finished', {
    auditId: report.id,
    status: report.status,
    findings: report.findings.length,
    repair: report.repair,
  });
  return report;
}
