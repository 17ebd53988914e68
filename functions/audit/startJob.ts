/**
 * The scheduled audit's Lambda when audits run on Step Functions
 * (`IPAM_AUDIT_STATE_MACHINE_ARN` set): starts the job and its execution, and
 * returns at once. Event (EventBridge Scheduler) `{"repair": false}`. Answers
 * `{"auditId", "started": true}`, or `{"auditId", "started": false}` when an audit is
 * already running (the schedule then skips this run). functions/auditSchedule.ts
 * calls it; POST /audits starts jobs through launch.ts the same way.
 */
import { AuditRunningError } from '../../shared/errors.js';
import { ctx, logger } from '../runtime.js';
import { launchAudit } from './launch.js';

export interface AuditStartEvent {
  readonly repair?: boolean;
}

export async function startScheduledJob(
  event: AuditStartEvent,
): Promise<{ auditId: string; started: boolean }> {
  const grace = process.env.IPAM_AUDIT_GRACE_MS;
  try {
    const { report } = await launchAudit(ctx, {
      repair: event.repair === true,
      ...(grace === undefined ? {} : { gracePeriodMs: Number(grace) }),
    });
    logger.info('Audit job started', { auditId: report.id, segments: report.segments });
    return { auditId: report.id, started: true };
  } catch (error) {
    if (!(error instanceof AuditRunningError)) throw error;
    const auditId = String(error.details.auditId);
    logger.warn('Scheduled audit skipped: another audit is running', { auditId });
    return { auditId, started: false };
  }
}

export const handler = startScheduledJob;
