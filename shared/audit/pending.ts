/**
 * Pending records of multi-step requests (STALE_PENDING): reported at any age,
 * undone once old enough that the request cannot still be running. The tokens
 * still pending tell the join which taken offsets are work in flight.
 */
import { undoPending } from '../allocator/index.js';
import { PREFIX } from '../store/keys.js';
import { isTransactionCanceled } from '../store/retry.js';
import type { Subnet } from '../subnets/subnet.js';
import type { Item } from './io.js';
import { FindingType, NotRepaired, type Outcome } from './report.js';
import { type AuditScope, auditWho } from './scope.js';

/**
 * A pending record is undone only when older than this, whatever the grace period:
 * a multi-step request can run as long as its Lambda (at most 15 minutes), and
 * undoing one that is still running would free addresses it is about to confirm.
 */
export const PENDING_MIN_AGE_MS = 15 * 60 * 1000;

const MAX_PENDING_TOKENS = 10_000;

/**
 * The subnet's pending records: reported at any age (when `report`, on a fresh
 * visit of the subnet), and undone (undoPending: only what still carries the
 * request's token) once older than both the grace period and the longest a
 * request can run. Returns the tokens still pending.
 */
export async function auditPending(
  scope: AuditScope,
  subnet: Subnet,
  records: AsyncIterable<Item>,
  report: boolean,
): Promise<Set<string>> {
  const { ctx, settings } = scope;
  const tokens = new Set<string>();
  for await (const record of records) {
    const token = String(record.sk).slice(PREFIX.pending.length);
    const ips = Array.isArray(record.ips) ? record.ips.map(String) : [];
    const createdMs = Date.parse(String(record.createdAt));
    if (!report) {
      if (tokens.size < MAX_PENDING_TOKENS) tokens.add(token);
      continue;
    }
    const finding = {
      type: FindingType.STALE_PENDING,
      subnetId: subnet.id,
      ...(ips[0] === undefined ? {} : { ip: ips[0] }),
      detail:
        `A multi-step request for ${ips.length} address(es) has been pending since ` +
        `${Number.isNaN(createdMs) ? 'an unknown time' : new Date(createdMs).toISOString()}.`,
    };
    let outcome: Outcome = NotRepaired.REPORT_ONLY;
    if (settings.repair) {
      const minimumAge = Math.max(settings.gracePeriodMs, PENDING_MIN_AGE_MS);
      if (Number.isNaN(createdMs)) outcome = NotRepaired.REPORT_ONLY;
      else if (ctx.now() - createdMs < minimumAge) outcome = NotRepaired.GRACE_PERIOD;
      else {
        try {
          const freed = await undoPending(ctx, subnet.id, token, auditWho(scope));
          // undefined: the record went away meanwhile (the request committed or undid itself).
          if (freed === undefined) outcome = NotRepaired.CHANGED;
          else {
            finding.detail += ` Undone: ${freed} address(es) freed.`;
            outcome = true;
          }
        } catch (error) {
          if (!isTransactionCanceled(error)) throw error;
          outcome = NotRepaired.CHANGED;
        }
      }
    }
    scope.findings.add(finding, outcome);
    if (outcome !== true && tokens.size < MAX_PENDING_TOKENS) tokens.add(token);
  }
  return tokens;
}
