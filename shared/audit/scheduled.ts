/**
 * The scheduled audit without Step Functions (one Lambda, the job run in process):
 * one audit may need more than one run. A run that reaches its deadline leaves a
 * resume pointer; the next scheduled run continues that job from its segments'
 * checkpoints instead of starting over, so a large table is still audited
 * completely, one slice per run. (With Step Functions the schedule starts the job's
 * state machine instead: functions/auditSchedule.ts.)
 */
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { IpamContext } from '../store/context.js';
import { auditKeys } from '../store/keys.js';
import { runAudit } from './audit.js';
import type { AuditOptions } from './options.js';
import type { AuditReport } from './report.js';

export async function runScheduledAudit(
  ctx: IpamContext,
  options: Omit<AuditOptions, 'resumeFrom'>,
): Promise<AuditReport> {
  const pointer = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: auditKeys.resume, ConsistentRead: true }),
  );
  const resumeFrom = typeof pointer.Item?.auditId === 'string' ? pointer.Item.auditId : undefined;
  const report = await runAudit(ctx, {
    ...options,
    ...(resumeFrom === undefined ? {} : { resumeFrom }),
  });
  if (report.status === 'running') {
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: { ...auditKeys.resume, type: 'auditPointer', auditId: report.id },
      }),
    );
  } else if (resumeFrom !== undefined) {
    await ctx.doc.send(new DeleteCommand({ TableName: ctx.tableName, Key: auditKeys.resume }));
  }
  return report;
}
