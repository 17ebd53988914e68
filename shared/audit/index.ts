/** The audit: run, resume and read audits; the report model; the metrics it publishes. */
export { getAudit, getLatestAudit, runAudit } from './audit.js';
export { AuditConflictError } from './auditStore.js';
export { AUDIT_METRICS, type AuditMetric, utilizationMetrics } from './metrics.js';
export { AUDIT_DEFAULTS, type AuditOptions } from './options.js';
export { PENDING_MIN_AGE_MS } from './pending.js';
export {
  type AuditFinding,
  type AuditReport,
  type AuditStatus,
  type FindingCount,
  FindingType,
  NotRepaired,
  type SubnetUtilization,
} from './report.js';
export { runScheduledAudit } from './scheduled.js';
