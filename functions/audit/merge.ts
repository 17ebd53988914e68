/**
 * Step Functions task: the merge, once every segment answered `done: true`.
 *
 * Event `{"auditId": "aud_…"}`. Adds up the segments, runs the subnet pass
 * (overlaps, utilisation, shards the scan did not meet), writes the complete report,
 * moves the latest pointer, releases the lock, and publishes the metrics (CloudWatch
 * EMF through Powertools Metrics, namespace `IPAM_METRICS_NAMESPACE` or `Ipam`).
 * Answers `{"auditId", "status"}`. Idempotent: a finished audit is returned as it
 * is (and publishes nothing again). Fails (for the Catch → fail.ts) when a segment
 * has not finished or the job lost its lock.
 *
 * Reads: Query on gsi1 (the subnet list), GetItem/Query for the audit's items and
 * re-checks; writes: the audit's own items and conditional repairs.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  AUDIT_METRICS,
  type AuditReport,
  finishAudit,
  readReport,
  utilizationMetrics,
} from '../../shared/audit/index.js';
import { ctx, logger } from '../runtime.js';

const metrics = new Metrics({
  namespace: process.env.IPAM_METRICS_NAMESPACE ?? AUDIT_METRICS.namespace,
  serviceName: 'ipam',
});

export interface AuditMergeEvent {
  readonly auditId: string;
}

export interface AuditMergeResult {
  readonly auditId: string;
  readonly status: AuditReport['status'];
}

export async function handler(event: AuditMergeEvent): Promise<AuditMergeResult> {
  const before = await readReport(ctx, event.auditId);
  const report = before.status === 'running' ? await finishAudit(ctx, event.auditId) : before;
  if (before.status === 'running') publishMetrics(report);
  logger.info('Audit finished', {
    auditId: report.id,
    status: report.status,
    findings: report.findings.length,
    repair: report.repair,
  });
  return { auditId: report.id, status: report.status };
}

/** One EMF document per metric, each with its own dimensions. */
export function publishMetrics(report: AuditReport): void {
  for (const metric of utilizationMetrics(report)) {
    const single = metrics.singleMetric();
    for (const [name, value] of Object.entries(metric.dimensions)) single.addDimension(name, value);
    single.addMetric(metric.name, metric.unit, metric.value);
  }
  metrics.publishStoredMetrics();
}
