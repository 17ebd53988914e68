/**
 * The scheduled audit (EventBridge, hourly by default): runs the same audit as
 * POST /audits, stops before the Lambda time limit with a checkpoint that the next
 * invocation resumes, and publishes per-subnet utilisation as CloudWatch metrics
 * (EMF through Powertools Metrics) so alarms can fire on it.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { type AuditReport, runAudit, utilizationMetrics } from '../shared/audit.js';
import { ctx, logger } from './runtime.js';

const metrics = new Metrics({
  namespace: process.env.IPAM_METRICS_NAMESPACE ?? 'Ipam',
  serviceName: 'ipam',
});
/** Leave this much of the Lambda's time to save the checkpoint and publish. */
const SAFETY_MARGIN_MS = 30_000;

export interface AuditScheduleEvent {
  readonly repair?: boolean;
  readonly resumeFrom?: string;
}

export async function handler(event: AuditScheduleEvent, context: Context): Promise<AuditReport> {
  const report = await runAudit(ctx, {
    repair: event.repair === true,
    ...(event.resumeFrom === undefined ? {} : { resumeFrom: event.resumeFrom }),
    ...(process.env.IPAM_AUDIT_GRACE_MS === undefined
      ? {}
      : { gracePeriodMs: Number(process.env.IPAM_AUDIT_GRACE_MS) }),
    deadline: () => context.getRemainingTimeInMillis() < SAFETY_MARGIN_MS,
  });
  for (const metric of utilizationMetrics(report)) {
    const single = metrics.singleMetric();
    for (const [name, value] of Object.entries(metric.dimensions)) single.addDimension(name, value);
    single.addMetric(metric.name, metric.unit, metric.value);
  }
  metrics.publishStoredMetrics();
  logger.info('Audit finished', {
    auditId: report.id,
    findings: report.findings.length,
    repair: report.repair,
  });
  return report;
}
