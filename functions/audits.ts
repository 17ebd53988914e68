/**
 * Lambda for /audits routes: starts an audit job (functions/audit/launch.ts: Step
 * Functions in AWS, this process locally) and answers at once — `201` with the
 * report when the job finished within `IPAM_AUDIT_WAIT_MS` (default 3 s: a small
 * table), else `202` with the report so far — and serves stored reports.
 */
import { type AuditReport, getLatestStartedAudit, readReport } from '../shared/audit/index.js';
import { launchAudit, relaunchAudit, waitForAudit } from './audit/launch.js';
import { groupHandler, type Operations } from './http/index.js';
import type { HttpResult } from './http/types.js';
import { ctx, logger } from './runtime.js';

const DEFAULT_WAIT_MS = 3_000;

function waitBudgetMs(): number {
  const configured = Number(process.env.IPAM_AUDIT_WAIT_MS);
  return Number.isFinite(configured) && configured >= 0 ? configured : DEFAULT_WAIT_MS;
}

function answer(report: AuditReport): HttpResult {
  return { status: report.status === 'running' ? 202 : 201, body: report };
}

const logFailure = (error: unknown) => logger.error('Audit job failed', { error });

const operations: Operations<'audits'> = {
  runAudit: async ({ body }) => {
    const { resumeFrom, ...options } = body;
    if (resumeFrom !== undefined) {
      // Continue a running job whose runner stopped (e.g. the local server restarted).
      const report = await readReport(ctx, resumeFrom);
      if (report.status !== 'running') return { status: 201, body: report };
      return answer(await waitForAudit(ctx, await relaunchAudit(ctx, report, logFailure), 0));
    }
    const grace = process.env.IPAM_AUDIT_GRACE_MS;
    const launched = await launchAudit(
      ctx,
      {
        repair: false,
        ...(grace === undefined ? {} : { gracePeriodMs: Number(grace) }),
        ...options,
      },
      logFailure,
    );
    return answer(await waitForAudit(ctx, launched, waitBudgetMs()));
  },
  latestAudit: async () => ({ status: 200, body: await getLatestStartedAudit(ctx) }),
  getAudit: async ({ path }) => ({ status: 200, body: await readReport(ctx, path.auditId) }),
};

export const handler = groupHandler('audits', operations, logger);
