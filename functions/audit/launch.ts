/**
 * Starts an audit job and hands its segments to whoever runs them: Step Functions
 * when `IPAM_AUDIT_STATE_MACHINE_ARN` is set (AWS), else this process's own runner
 * in the background (`npm start`, tests). POST /audits and the schedule both start
 * audits through here.
 *
 * The state machine's input is {@link AuditExecutionInput}: a Map over `segments`
 * (each item `{auditId, segment}` for functions/audit/segment.ts, invoked again
 * while it answers `done: false`), then functions/audit/merge.ts with `{auditId}`,
 * and on any failure functions/audit/fail.ts with `{auditId, error}`.
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  type AuditOptions,
  type AuditReport,
  readReport,
  runJobInBackground,
  startAuditJob,
} from '../../shared/audit/index.js';
import type { IpamContext } from '../../shared/store/context.js';

/** What the state machine is started with. */
export interface AuditExecutionInput {
  readonly auditId: string;
  /** One entry per Scan segment: the Map's items. */
  readonly segments: readonly { readonly auditId: string; readonly segment: number }[];
}

/** Where a started job runs. */
export interface Launched {
  readonly report: AuditReport;
  /** Resolves when an in-process job has finished; undefined for Step Functions. */
  readonly finished: Promise<AuditReport | undefined> | undefined;
}

let sfn: SFNClient | undefined;
/** Jobs this process is running in the background. */
const runningHere = new Set<string>();

/** The state machine's ARN, if audits run on Step Functions here. */
export function stateMachineArn(): string | undefined {
  const arn = process.env.IPAM_AUDIT_STATE_MACHINE_ARN;
  return arn === undefined || arn === '' ? undefined : arn;
}

/** Starts a new job (AuditRunningError while one runs) and launches it. */
export async function launchAudit(
  ctx: IpamContext,
  options: AuditOptions,
  onBackgroundError: (error: unknown) => void = () => undefined,
): Promise<Launched> {
  const report = await startAuditJob(ctx, options);
  return { report, ...(await launch(ctx, report, onBackgroundError, report.id)) };
}

/**
 * Continues a running job whose in-process runner stopped (the local server
 * restarted): runs its unfinished segments from their checkpoints. A job this
 * process still runs, or one Step Functions runs, is left to its runner.
 */
export async function relaunchAudit(
  ctx: IpamContext,
  report: AuditReport,
  onBackgroundError: (error: unknown) => void = () => undefined,
): Promise<Launched> {
  if (stateMachineArn() !== undefined || runningHere.has(report.id)) {
    return { report, finished: undefined };
  }
  return { report, ...(await launch(ctx, report, onBackgroundError, report.id)) };
}

async function launch(
  ctx: IpamContext,
  report: AuditReport,
  onBackgroundError: (error: unknown) => void,
  executionName: string,
): Promise<Pick<Launched, 'finished'>> {
  const segments = report.segments ?? 1;
  const arn = stateMachineArn();
  if (arn === undefined) {
    runningHere.add(report.id);
    const finished = runJobInBackground(ctx, report.id, segments, onBackgroundError).finally(() =>
      runningHere.delete(report.id),
    );
    return { finished };
  }
  sfn ??= new SFNClient({});
  const input: AuditExecutionInput = {
    auditId: report.id,
    segments: Array.from({ length: segments }, (_, segment) => ({ auditId: report.id, segment })),
  };
  await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: arn,
      // Named after the audit: a retried start cannot run the job twice.
      name: executionName,
      input: JSON.stringify(input),
    }),
  );
  return { finished: undefined };
}

/**
 * Waits up to `budgetMs` for a launched job to finish; returns its report, finished
 * or (past the budget) as it stands, with its progress.
 */
export async function waitForAudit(
  ctx: IpamContext,
  launched: Launched,
  budgetMs: number,
): Promise<AuditReport> {
  const until = Date.now() + budgetMs;
  if (launched.finished !== undefined) {
    const finished = await Promise.race([
      launched.finished,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), budgetMs).unref()),
    ]);
    if (finished !== undefined && finished.status !== 'running') return finished;
    return readReport(ctx, launched.report.id);
  }
  for (;;) {
    const report = await readReport(ctx, launched.report.id);
    if (report.status !== 'running' || Date.now() >= until) return report;
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, until - Date.now())));
  }
}
