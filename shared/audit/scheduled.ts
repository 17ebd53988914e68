/**
 * The scheduled audit: one audit may need more than one Lambda run. A run that
 * reaches its deadline leaves a resume pointer; the next scheduled run continues
 * that audit from its checkpoint instead of starting over, so a large table is
 * still audited completely, one slice per run.
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
  if (report.status === 'partial') {
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
