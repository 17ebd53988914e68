/**
 * Runs an audit job in this process, as the state machine runs it in AWS: every
 * segment concurrently (each invoked again while it returns `done: false`), then
 * the merge. `npm start` and the tests use it; so does `runAudit`.
 */
import type { IpamContext } from '../store/context.js';
import { failAudit, finishAudit, readReport, runAuditSegment, type SegmentOptions } from './job.js';
import { AuditJobError } from './jobStore.js';
import type { AuditReport } from './report.js';

export interface LocalRunOptions extends SegmentOptions {
  /**
   * Invocations per segment in this run: with a deadline, 1 (the run stops and
   * returns the running report, as a Lambda past its time limit would); without,
   * as many as the segment needs.
   */
  readonly invocationsPerSegment?: number;
}

/**
 * Runs the job's unfinished segments and, when all are done, the merge; returns the
 * report (`running` when a deadline stopped a segment). A job that cannot go on
 * (AuditJobError) is marked `failed`; any other error is thrown and leaves every
 * checkpoint in place, so a later run continues.
 */
export async function runJobInProcess(
  ctx: IpamContext,
  auditId: string,
  segments: number,
  options: LocalRunOptions = {},
): Promise<AuditReport> {
  const limit = options.invocationsPerSegment ?? (options.deadline === undefined ? Infinity : 1);
  try {
    const results = await Promise.allSettled(
      Array.from({ length: segments }, async (_, segment) => {
        for (let invocation = 0; invocation < limit; invocation++) {
          if ((await runAuditSegment(ctx, auditId, segment, options)).done) return true;
        }
        return false;
      }),
    );
    const failure = results.find((result) => result.status === 'rejected');
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
    if (results.some((result) => result.status === 'fulfilled' && !result.value)) {
      return readReport(ctx, auditId);
    }
    return await finishAudit(ctx, auditId);
  } catch (error) {
    if (!(error instanceof AuditJobError)) throw error;
    return failAudit(ctx, auditId, error.message);
  }
}

/**
 * Starts the job in the background (the caller does not wait); any failure marks
 * it `failed` with the error's message. Resolves with the final report.
 */
export function runJobInBackground(
  ctx: IpamContext,
  auditId: string,
  segments: number,
  onError: (error: unknown) => void = () => undefined,
): Promise<AuditReport | undefined> {
  return runJobInProcess(ctx, auditId, segments).catch(async (error: unknown) => {
    onError(error);
    const reason = error instanceof Error ? error.message : String(error);
    return failAudit(ctx, auditId, `The audit job stopped: ${reason}`).catch(() => undefined);
  });
}
