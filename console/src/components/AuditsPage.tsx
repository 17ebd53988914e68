/** Audits: the latest report, its findings grouped by type, and running one. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, path, request } from '../api.js';
import { formatCount } from '../numbers.js';
import { href } from '../route.js';
import type { Audit, Finding } from '../types.js';
import { useLoad } from '../useLoad.js';
import { ErrorMessage } from './ErrorMessage.js';

/** How often a running audit is asked for its progress. */
const POLL_MS = 1000;

export function AuditsPage() {
  const latest = useLoad(async () => {
    try {
      return await get<Audit>('/audits/latest');
    } catch (error) {
      if (error instanceof ApiError && error.code === 'AUDIT_NOT_FOUND') return null;
      throw error;
    }
  }, []);
  const [audit, setAudit] = useState<Audit | null | undefined>();
  const shown = audit === undefined ? latest.data : audit;
  useEffect(() => {
    if (shown?.status !== 'running') return;
    const timer = setTimeout(() => {
      get<Audit>(path('audits', shown.id)).then(setAudit, () => undefined);
    }, POLL_MS);
    return () => clearTimeout(timer);
  }, [shown]);
  return (
    <section aria-labelledby="audits-title">
      <h1 id="audits-title">Audits</h1>
      <RunAudit onStarted={setAudit} />
      <ErrorMessage error={latest.error} />
      {shown === null ? <p>No audit has run yet.</p> : null}
      {shown !== undefined && shown !== null ? <Report audit={shown} /> : null}
    </section>
  );
}

function RunAudit({ onStarted }: { onStarted: (audit: Audit) => void }) {
  const [repair, setRepair] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const run = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onStarted(await request<Audit>('POST', '/audits', { body: { repair } }));
    } catch (caught) {
      setError(caught as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" onSubmit={run} aria-labelledby="run-audit-title">
      <h2 id="run-audit-title">Run an audit</h2>
      <label class="inline">
        <input
          type="checkbox"
          name="repair"
          checked={repair}
          onChange={(event) => setRepair(event.currentTarget.checked)}
        />
        Repair what it finds
      </label>
      {repair ? (
        <p class="warning" role="alert">
          Repair is on: the audit will change data — free stale pending work, remove orphaned
          allocations, expire lapsed leases and correct counters (only items older than the grace
          period, each re-checked before it is changed).
        </p>
      ) : null}
      <button type="submit" class={repair ? 'danger' : ''} disabled={busy}>
        {repair ? 'Run audit and repair' : 'Run audit (report only)'}
      </button>
      <ErrorMessage error={error} />
    </form>
  );
}

function Report({ audit }: { audit: Audit }) {
  const groups = new Map<string, Finding[]>();
  for (const finding of audit.findings) {
    groups.set(finding.type, [...(groups.get(finding.type) ?? []), finding]);
  }
  return (
    <section class="panel" aria-labelledby="report-title" data-audit-id={audit.id}>
      <h2 id="report-title">
        {audit.status === 'running' ? 'Running audit' : 'Latest audit'}{' '}
        <span class="muted">{audit.id}</span>
      </h2>
      <dl class="facts inline-facts">
        <dt>Status</dt>
        <dd data-testid="audit-status">{audit.status}</dd>
        <dt>Started</dt>
        <dd>{audit.startedAt}</dd>
        <dt>Finished</dt>
        <dd>{audit.finishedAt ?? '—'}</dd>
        <dt>Repair</dt>
        <dd>{audit.repair ? 'on' : 'off'}</dd>
        <dt>Scanned</dt>
        <dd>
          {formatCount(audit.scanned.subnets)} subnets, {formatCount(audit.scanned.allocations)}{' '}
          allocations
        </dd>
        {audit.progress !== undefined && audit.status === 'running' ? (
          <>
            <dt>Progress</dt>
            <dd>
              {audit.progress.scannedItems} of about {audit.progress.estimatedItems} items
            </dd>
          </>
        ) : null}
        {audit.reason !== undefined ? (
          <>
            <dt>Reason</dt>
            <dd>{audit.reason}</dd>
          </>
        ) : null}
      </dl>
      <h3>Findings</h3>
      {audit.findings.length === 0 ? <p>No findings.</p> : null}
      {[...groups].map(([type, findings]) => (
        <details key={type} class="finding-group" open>
          <summary>
            <code>{type}</code> ({findings.length})
          </summary>
          <ul>
            {findings.map((finding, i) => (
              <li key={`${finding.subnetId}-${finding.ip}-${i}`}>
                {finding.subnetId !== null ? (
                  <a
                    href={href(
                      ['subnets', finding.subnetId],
                      finding.ip === undefined ? {} : { ip: finding.ip },
                    )}
                  >
                    {finding.ip ?? finding.subnetId}
                  </a>
                ) : null}{' '}
                {finding.detail}
                {finding.repaired ? ' — repaired' : ''}
                {finding.notRepaired ? ` — not repaired: ${finding.notRepaired}` : ''}
              </li>
            ))}
          </ul>
        </details>
      ))}
      {audit.findingsTruncated ? <p>Only the first findings are listed.</p> : null}
    </section>
  );
}
