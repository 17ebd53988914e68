/**
 * Step Functions task: one invocation of one Scan segment of an audit job.
 *
 * Event `{"auditId": "aud_…", "segment": 3}` (an item of the execution input's
 * `segments`, functions/audit/launch.ts). Answers `{"auditId", "segment", "done"}`:
 * `done: false` means the invocation stopped before its time limit after saving its
 * checkpoint — invoke it again with the same event (a Choice state looping back),
 * and it continues from there. Safe to retry after a crash or time-out: it
 * continues from its last checkpoint (at most `checkpointEveryMs`, 10 s, of work is
 * read again; repairs re-check what they change). Two invocations of one segment at
 * once: the later checkpoint fails (SegmentConflictError), so do not run them in
 * parallel. Other errors: let the state machine's Catch call functions/audit/fail.ts.
 *
 * Reads: Scan on the table (its segment), GetItem/Query/TransactGetItems for
 * re-checks; writes: the audit's own items and conditional repairs.
 */
import type { Context } from 'aws-lambda';
import { runAuditSegment } from '../../shared/audit/index.js';
import { ctx, logger } from '../runtime.js';

/** Stop with this much of the Lambda's time left: finishing a partition and the checkpoint fit in it. */
const SAFETY_MARGIN_MS = 30_000;

export interface AuditSegmentEvent {
  readonly auditId: string;
  readonly segment: number;
}

export interface AuditSegmentResult extends AuditSegmentEvent {
  readonly done: boolean;
}

export async function handler(
  event: AuditSegmentEvent,
  context: Context,
): Promise<AuditSegmentResult> {
  const { done } = await runAuditSegment(ctx, event.auditId, event.segment, {
    deadline: () => context.getRemainingTimeInMillis() < SAFETY_MARGIN_MS,
  });
  logger.info('Audit segment invocation finished', { ...event, done });
  return { auditId: event.auditId, segment: event.segment, done };
}
