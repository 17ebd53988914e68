/**
 * Utilisation: at the merge, once every shard of a subnet is settled (in whichever
 * segment), its usage from their counters goes into the report (highest first,
 * capped), with the informational findings ALLOCATION_OUTSIDE_POOL and
 * HIGH_UTILIZATION.
 */
import { formatCidr } from '../net/address.js';
import { type Subnet, usageOf } from '../subnets/subnet.js';
import type { OutsidePools } from './checkpoint.js';
import { type AuditReport, FindingType, NotRepaired } from './report.js';
import type { AuditScope } from './scope.js';

const MAX_UTILIZATION_ENTRIES = 1000;
const OUTSIDE_POOL_SAMPLES = 5;

/** Counts a live allocation outside the pools, keeping a few addresses as examples. */
export function noteOutsidePool(progress: OutsidePools, ip: string): void {
  progress.outside += 1;
  if (progress.outsideSample.length < OUTSIDE_POOL_SAMPLES) progress.outsideSample.push(ip);
}

/**
 * What a subnet's shards add up to: live allocations, those in the pools, outside
 * the pools, and the pool addresses in a cool-down (held by nobody, not available).
 */
export interface SubnetTotals extends OutsidePools {
  all: bigint;
  inPools: bigint;
  quarantined: bigint;
}

/** Reports a subnet whose every shard is audited: its utilisation and the findings on it. */
export function finishSubnet(
  scope: AuditScope,
  report: AuditReport,
  subnet: Subnet,
  progress: SubnetTotals,
): void {
  const { findings } = scope;
  if (progress.outside > 0) {
    findings.add(
      {
        type: FindingType.ALLOCATION_OUTSIDE_POOL,
        subnetId: subnet.id,
        ...(progress.outsideSample[0] === undefined ? {} : { ip: progress.outsideSample[0] }),
        detail:
          `${progress.outside} live allocation(s) lie outside the allocation pools ` +
          `(e.g. ${progress.outsideSample.join(', ')}); they are valid but not counted in ` +
          'usage.allocated.',
      },
      NotRepaired.INFORMATIONAL,
    );
  }
  const usage = usageOf(subnet, {
    all: progress.all,
    inPools: progress.inPools,
    quarantined: progress.quarantined,
  });
  const total = BigInt(usage.total);
  const allocated = BigInt(usage.allocated);
  const percent = total > 0n ? Number((allocated * 10_000n) / total) / 100 : 0;
  const cidr = formatCidr(subnet.cidr);
  report.utilization.push({
    subnetId: subnet.id,
    cidr,
    total: usage.total,
    allocated: usage.allocated,
    percent,
  });
  if (report.utilization.length > 2 * MAX_UTILIZATION_ENTRIES) finishUtilization(report);
  if (total > 0n && percent >= scope.settings.highUtilizationPercent) {
    findings.add(
      {
        type: FindingType.HIGH_UTILIZATION,
        subnetId: subnet.id,
        detail: `${cidr}: ${usage.allocated} of ${usage.total} pool addresses are allocated (${percent} %).`,
      },
      NotRepaired.INFORMATIONAL,
    );
  }
  report.scanned.subnets += 1;
}

/** Highest utilisation first, at most MAX_UTILIZATION_ENTRIES. */
export function finishUtilization(report: AuditReport): void {
  report.utilization.sort((a, b) => b.percent - a.percent || (a.subnetId < b.subnetId ? -1 : 1));
  if (report.utilization.length > MAX_UTILIZATION_ENTRIES) {
    report.utilization.length = MAX_UTILIZATION_ENTRIES;
    report.utilizationTruncated = true;
  }
}
