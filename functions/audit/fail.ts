/**
 * Step Functions task: the Catch of the segment Map and the merge — marks the job
 * `failed` with the reason and releases its lock, so the next audit can start at
 * once (without it the lock's lease, 15 minutes, would expire first).
 *
 * Event `{"auditId": "aud_…", "error": {"Error": "…", "Cause": "…"}}` (the Catch's
 * `ResultPath` output; `error` optional). Answers `{"auditId", "status"}`. A
 * finished audit stays as it is.
 */
import { failAudit } from '../../shared/audit/index.js';
import { ctx, logger } from '../runtime.js';

export interface AuditFailEvent {
  readonly auditId: string;
  readonly error?: { readonly Error?: string; readonly Cause?: string };
}

export async function handler(event: AuditFailEvent): Promise<{ auditId: string; status: string }> {
  const reason = reasonOf(event.error);
  const report = await failAudit(ctx, event.auditId, reason);
  logger.error('Audit failed', { auditId: event.auditId, reason });
  return { auditId: report.id, status: report.status };
}

/** Step Functions' Cause of a Lambda error is JSON with errorMessage; fall back to Error. */
function reasonOf(error: AuditFailEvent['error']): string {
  if (error === undefined) return 'The audit job failed.';
  try {
    const cause = JSON.parse(error.Cause ?? '') as { errorMessage?: unknown };
    if (typeof cause.errorMessage === 'string') return cause.errorMessage;
  } catch {
    // not JSON: use it as it is
  }
  return error.Cause ?? error.Error ?? 'The audit job failed.';
}
