/**
 * The audit: run, resume and read audits; the report model; the metrics it publishes.
 *
 * | file              | what it holds                                                          |
 * | ----------------- | ---------------------------------------------------------------------- |
 * | `audit.ts`        | `runAudit` (start or resume, save the report), `getAudit`, latest       |
 * | `scheduled.ts`    | the scheduled audit: resumes a partial audit on the next run           |
 * | `options.ts`      | `AuditOptions`, defaults, checked settings                             |
 * | `checkpoint.ts`   | where a partial audit stopped; the deadline gate                       |
 * | `scan.ts`         | the walk: Scan segments, each subnet's shards, then the overlap pass   |
 * | `reader.ts`       | every bulk read (paginated Scan and Queries): swap it to read otherwise |
 * | `io.ts`           | point reads and conditional writes, metered                            |
 * | `scope.ts`        | what the checks of one run share; grace-period rules                   |
 * | `shard.ts`        | one shard under audit; address and item helpers                        |
 * | `join.ts`         | the block↔allocation merge join of one shard                           |
 * | `blockOffsets.ts` | taken offsets with no live item: expired leases, offsets nobody holds  |
 * | `loneItems.ts`    | allocation items their block does not hold                             |
 * | `settlement.ts`   | the shard counter against its blocks (USAGE_DRIFT)                     |
 * | `pending.ts`      | pending records of multi-step requests (STALE_PENDING)                 |
 * | `orphans.ts`      | items and space entries of vanished subnets                            |
 * | `utilization.ts`  | per-subnet utilisation, outside-pool and high-utilisation findings     |
 * | `overlaps.ts`     | overlapping subnets, from the subnet list                              |
 * | `report.ts`       | finding types, the report, recording findings                          |
 * | `metrics.ts`      | `AUDIT_METRICS` (shared with infra's alarms), report → metrics          |
 * | `auditStore.ts`   | the audit's own items: reports, latest pointer, sightings; capacity    |
 */
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
