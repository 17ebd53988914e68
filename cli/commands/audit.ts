/** `ipam audit run [--repair] [--no-wait] | show [id|latest]` */
import type { Command } from 'commander';
import { action, integer } from '../args.js';
import { expectJson } from '../client.js';
import { type Ctx, pathOf } from '../context.js';
import { CliError, ExitCode } from '../errors.js';
import { dash, fields, formatPercent, json, table } from '../output.js';
import { auditProgress } from '../progress.js';
import type { AuditReport } from '../types.js';

const MAX_STEPS = 10_000;

function printReport(ctx: Ctx, report: AuditReport): void {
  if (ctx.out.mode === 'json') {
    json(ctx.out, report);
    return;
  }
  if (ctx.out.mode === 'quiet') {
    ctx.out.line(report.id);
    return;
  }
  const lines = [
    fields([
      ['audit', report.id],
      ['status', report.status + (report.reason ? ` (${report.reason})` : '')],
      ['repair', String(report.repair)],
      ['started', report.startedAt],
      ['finished', dash(report.finishedAt)],
      ...(report.progress === undefined
        ? []
        : [
            [
              'progress',
              `scanned ${report.progress.scannedItems} of ~${report.progress.estimatedItems} items`,
            ] as [string, string],
          ]),
      [
        'scanned',
        report.scanned
          ? `${report.scanned.subnets} subnets, ${report.scanned.allocations} allocations`
          : '-',
      ],
    ]),
  ];
  const counts = Object.entries(report.findingCounts ?? {}).filter(([, c]) => c.found > 0);
  lines.push('');
  if (counts.length === 0 && (report.findings ?? []).length === 0) lines.push('No findings.');
  else if (counts.length > 0) {
    lines.push(
      table(
        ['FINDING', 'FOUND', 'REPAIRED'],
        counts.map(([type, c]) => [type, String(c.found), String(c.repaired)]),
        new Set([1, 2]),
      ),
    );
  }
  const findings = report.findings ?? [];
  if (findings.length > 0) {
    lines.push('');
    lines.push(
      table(
        ['TYPE', 'SUBNET', 'IP', 'REPAIRED', 'DETAIL'],
        findings.map((f) => [
          f.type,
          dash(f.subnetId),
          dash(f.ip),
          f.repaired ? 'yes' : (f.notRepaired ?? 'no'),
          f.detail,
        ]),
      ),
    );
  }
  const utilization = report.utilization ?? [];
  if (utilization.length > 0) {
    lines.push('');
    lines.push(
      table(
        ['SUBNET', 'CIDR', 'ALLOCATED', 'TOTAL', 'PERCENT'],
        utilization
          .slice(0, 10)
          .map((u) => [
            u.subnetId,
            u.cidr,
            String(u.allocated),
            String(u.total),
            formatPercent(u.percent),
          ]),
        new Set([2, 3, 4]),
      ),
    );
    if (utilization.length > 10)
      lines.push(`(${utilization.length - 10} more subnets; --output json for all)`);
  }
  ctx.out.line(lines.join('\n'));
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('run an audit, or show a stored report');

  audit
    .command('run')
    .description(
      'audit the table now and wait for the report, with its progress on stderr (--no-wait: print the started audit and return)',
    )
    .option('--repair', 'repair what is provably dead (default: report only)')
    .option(
      '--grace-period <ms>',
      'repair only what is older than this',
      integer(0, 7 * 24 * 3600 * 1000),
    )
    .option(
      '--poll-interval <ms>',
      'how often a running audit is polled',
      integer(100, 60_000),
      1000,
    )
    .option('--no-wait', 'return once the audit has started (the 202 report; -q: its id)')
    .action(
      action(async (ctx, opts) => {
        const body: Record<string, unknown> = { repair: opts.repair === true };
        if (opts.gracePeriod !== undefined) body.gracePeriodMs = opts.gracePeriod;
        let response = await ctx.client.request('POST', '/audits', { body });
        let report = expectJson(response) as AuditReport;
        const tty = process.stderr.isTTY && ctx.out.mode === 'table';
        const progress = auditProgress(ctx.out.mode === 'table');
        // --no-wait: the report as POST answered it (running, or a small table's complete one).
        const steps = opts.wait === false ? 0 : MAX_STEPS;
        for (let step = 0; step < steps; step++) {
          if (response.status === 202 || report.status === 'running') {
            // The server runs it in the background: poll until it is done.
            if (report.progress) {
              progress.update(
                report.id,
                report.progress.scannedItems,
                report.progress.estimatedItems,
              );
            }
            await new Promise((resolve) => setTimeout(resolve, opts.pollInterval));
            response = await ctx.client.request('GET', pathOf('audits', report.id));
          } else if (report.status === 'partial') {
            // Today's server stops before the request's time limit: continue from its checkpoint.
            if (tty) process.stderr.write(`\rpartial; resuming ${report.id}…`);
            response = await ctx.client.request('POST', '/audits', {
              body: { resumeFrom: report.id },
            });
          } else break;
          report = expectJson(response) as AuditReport;
        }
        progress.done();
        if (tty) process.stderr.write('\r\x1b[K');
        printReport(ctx, report);
        if (report.status === 'failed') {
          throw new CliError(
            `audit ${report.id} failed: ${report.reason ?? 'no reason given'}`,
            ExitCode.OTHER,
          );
        }
      }),
    );

  audit
    .command('show [id]')
    .description('show a stored report: an audit id, or latest (default)')
    .action(
      action(async (ctx, _opts, id = 'latest') => {
        const response = await ctx.client.request('GET', pathOf('audits', id));
        printReport(ctx, expectJson(response) as AuditReport);
      }),
    );
}
