/**
 * The scheduled audit (EventBridge Scheduler, hourly by default): runs the same
 * audit as POST /audits, stops before the Lambda time limit and continues on the
 * next run (shared/audit/scheduled.ts), and publishes per-subnet utilisation as
 * CloudWatch metrics (EMF through Powertools Metrics) so alarms can fire on it.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import {
  AUDIT_METRICS,
  type AuditReport,
  runScheduledAudit,
  utilizationMetrics,
} from '../shared/audit/index.js';
import { ctx, logger } from './runtime.js';

const metrics = new Metrics({
  namespace: process.env.IPAM_METRICS_NAMESPACE ?? AUDIT_METRICS.namespace,
  serviceName: 'ipam',
});
/** Stop with this much of the Lambda's time left: the smallest unit of audit work is one shard. */
const SAFETY_MARGIN_MS = 60_000;

export interface AuditScheduleEvent {
  readonly repair?: boolean;
}

export async function handler(event: AuditScheduleEvent, context: Context): Promise<AuditReport> {
  const grace = process.env.IPAM_AUDIT_GRACE_MS;
  const report = await runScheduledAudit(ctx, {
    repair: event.repair === true,
    ...(grace === undefined ? {} : { gracePeriodMs: Number(grace) }),
    deadline: () => context.getRemainingTimeInMillis() < SAFETY_MARGIN_MS,
  });
  for (const metric of utilizationMetrics(report)) {
    const single = metrics.singleMetric();
    for (const [name, value] of Object.entries(metric.dimensions)) single.addDimension(name, value);
    single.addMetric(metric.name, metric.unit, metric.value);
  }
  metrics.publishStoredMetrics();
  logger.info('Audit run finished', {
    auditId: report.id,
    status: report.status,
    findings: report.findings.length,
    repair: report.repair,
  });
  return report;
}
