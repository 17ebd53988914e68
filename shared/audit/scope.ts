/**
 * What every check of one audit run shares: the table, the metered I/O, the
 * settings, the report and its findings; and the grace-period rules they apply.
 */
import { AUDIT_ACTOR } from '../history/entry.js';
import type { IpamContext, Who } from '../store/context.js';
import { fromSubnetItem, type Subnet } from '../subnets/subnet.js';
import type { CapacityMeter, Sighting } from './auditStore.js';
import type { PartialReport } from './checkpoint.js';
import type { AuditIo, Item } from './io.js';
import type { AuditSettings } from './options.js';
import type { Findings } from './report.js';

export interface AuditScope {
  readonly ctx: IpamContext;
  readonly meter: CapacityMeter;
  readonly io: AuditIo;
  readonly settings: AuditSettings;
  readonly auditId: string;
  /** Where this segment (or the merge) counts what it examined. */
  readonly part: PartialReport;
  readonly findings: Findings;
}

/**
 * The audit as the writer of a repair that deletes an allocation item on its own:
 * its release note names the audit and this run's id, so the history calls the
 * change REPAIRED.
 */
export function auditWho(scope: AuditScope): Who {
  return { actor: AUDIT_ACTOR, requestId: scope.auditId };
}

/** An earlier audit saw it, longer ago than the grace period. */
export function seenLongEnough(scope: AuditScope, sighting: Sighting): boolean {
  return (
    sighting.byEarlierAudit &&
    scope.ctx.now() - sighting.firstSeenMs >= scope.settings.gracePeriodMs
  );
}

/** Leases that expired at or before this (epoch seconds) are past the grace period. */
export function graceCutoffSeconds(scope: AuditScope): number {
  return Math.floor((scope.ctx.now() - scope.settings.gracePeriodMs) / 1000);
}

/** The subnet of a `META` item, or undefined when this code cannot read it. */
export function parseSubnet(item: Item): Subnet | undefined {
  try {
    return fromSubnetItem(item);
  } catch {
    return undefined; // not a subnet this code can read; nothing to audit against
  }
}
