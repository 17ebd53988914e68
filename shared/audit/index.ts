/**
 * The audit: a job that reads the table once (parallel Scan segments), joins each
 * shard in bounded memory, repairs what is safe, and reports; the report model;
 * the metrics it publishes.
 *
 * | file              | what it holds                                                            |
 * | ----------------- | ------------------------------------------------------------------------ |
 * | `job.ts`          | the job's steps: `startAuditJob`, `runAuditSegment`, `finishAudit`, `failAudit` |
 * | `jobStore.ts`     | the job's items: lock (lease), segment checkpoints, latest started       |
 * | `localRunner.ts`  | the job in this process: segments concurrently, then the merge           |
 * | `audit.ts`        | `runAudit` (start or resume, in process), stored reports                 |
 * | `scheduled.ts`    | the scheduled audit without Step Functions: resumes on the next run      |
 * | `options.ts`      | `AuditOptions`, defaults, checked settings, segments from the estimate    |
 * | `checkpoint.ts`   | a segment's checkpoint state; the deadline gate                          |
 * | `segmentScan.ts`  | one Scan segment: items by partition, each partition audited once        |
 * | `shardAudit.ts`   | one shard from its scanned items (or by Query): join, counter settlement |
 * | `reader.ts`       | every bulk read (paginated Scan and Queries)                             |
 * | `io.ts`           | point reads and conditional writes, metered                              |
 * | `scope.ts`        | what the checks of one run share; grace-period rules                     |
 * | `shard.ts`        | one shard under audit; address and item helpers                          |
 * | `join.ts`         | the block↔allocation merge join of one shard                             |
 * | `blockOffsets.ts` | taken offsets with no live item: expired leases, offsets nobody holds    |
 * | `loneItems.ts`    | allocation items their block does not hold                               |
 * | `mapSummaries.ts` | the address map's block summaries against the blocks (MAP_SUMMARY_STALE) |
 * | `hints.ts`        | blocks' hints against the allocation items (HINT_STALE)                  |
 * | `settlement.ts`   | the shard counter vs its blocks (USAGE_DRIFT, COUNTER_AWAITING_RECOUNT)  |
 * | `pending.ts`      | pending records of multi-step requests (STALE_PENDING)                   |
 * | `orphans.ts`      | items and space entries of vanished subnets                              |
 * | `utilization.ts`  | per-subnet utilisation, outside-pool and high-utilisation findings       |
 * | `overlaps.ts`     | the merge's subnet pass: overlapping subnets, each subnet to utilisation |
 * | `report.ts`       | finding types, the report, recording findings                            |
 * | `metrics.ts`      | `AUDIT_METRICS` (shared with infra's alarms), report → metrics           |
 * | `auditStore.ts`   | the audit's own items: reports, latest pointer, sightings; capacity      |
 */
export { getAudit, getLatestAudit, getLatestStartedAudit, runAudit } from './audit.js';
export { AuditConflictError } from './auditStore.js';
export {
  failAudit,
  finishAudit,
  readReport,
  runAuditSegment,
  type SegmentOptions,
  startAuditJob,
} from './job.js';
export { AuditJobError, LOCK_LEASE_MS } from './jobStore.js';
export { runJobInBackground, runJobInProcess } from './localRunner.js';
export { AUDIT_METRICS, type AuditMetric, utilizationMetrics } from './metrics.js';
export { AUDIT_DEFAULTS, type AuditOptions, ITEMS_PER_SEGMENT } from './options.js';
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
