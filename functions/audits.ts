/** Lambda for /audits routes: an on-demand audit, and stored reports. */
import { getAudit, getLatestAudit, runAudit } from '../shared/audit/index.js';
import { groupHandler, type Operations } from './http/index.js';
import { ctx, logger } from './runtime.js';

/** Answer before API Gateway's 29 s limit: a longer audit returns partial and is resumed. */
const SAFETY_MARGIN_MS = 5_000;

const operations: Operations<'audits'> = {
  runAudit: async ({ body, context }) => {
    const grace = process.env.IPAM_AUDIT_GRACE_MS;
    const report = await runAudit(ctx, {
      repair: false,
      ...(grace === undefined ? {} : { gracePeriodMs: Number(grace) }),
      ...body,
      deadline: () => context.getRemainingTimeInMillis() < SAFETY_MARGIN_MS,
    });
    return { status: 201, body: report };
  },
  latestAudit: async () => ({ status: 200, body: await getLatestAudit(ctx) }),
  getAudit: async ({ path }) => ({ status: 200, body: await getAudit(ctx, path.auditId) }),
};

export const handler = groupHandler('audits', operations, logger);
