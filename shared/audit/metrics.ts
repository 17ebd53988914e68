/**
 * The audit's CloudWatch metrics: their names, in one constant that the scheduled
 * audit's handler publishes under and infra's alarms watch, and how a report maps
 * onto them. No SDK here: infra imports this module at synth time.
 */
import { type AuditReport, FindingType } from './report.js';

/** CloudWatch namespace and metric names of the audit. */
export const AUDIT_METRICS = {
  namespace: 'Ipam',
  /** Per subnet (dimensions SubnetId, Cidr): percent of the pools allocated. */
  subnetUtilization: 'SubnetUtilization',
  subnetAllocatedAddresses: 'SubnetAllocatedAddresses',
  subnetTotalAddresses: 'SubnetTotalAddresses',
  /** Per finding type (dimension FindingType). */
  findings: 'AuditFindings',
  repairs: 'AuditRepairs',
  scannedSubnets: 'AuditScannedSubnets',
  scannedAllocations: 'AuditScannedAllocations',
  /** The highest subnet utilisation of the run: one number the utilisation alarm watches. */
  maxSubnetUtilization: 'MaxSubnetUtilization',
} as const;

export interface AuditMetric {
  name: string;
  unit: 'Count' | 'Percent';
  value: number;
  dimensions: Record<string, string>;
}

/**
 * What a handler publishes (Powertools Metrics, one metric per entry with its own
 * dimensions) for a complete report: utilisation per subnet, and findings and
 * repairs per type (zeros included, so alarms see data). A partial report
 * publishes nothing: its counts would be misleading until it is resumed.
 */
export function utilizationMetrics(report: AuditReport): AuditMetric[] {
  if (report.status !== 'complete') return [];
  const metrics: AuditMetric[] = [];
  for (const entry of report.utilization) {
    const dimensions = { SubnetId: entry.subnetId, Cidr: entry.cidr };
    metrics.push(
      { name: AUDIT_METRICS.subnetUtilization, unit: 'Percent', value: entry.percent, dimensions },
      {
        name: AUDIT_METRICS.subnetAllocatedAddresses,
        unit: 'Count',
        value: Number(entry.allocated),
        dimensions,
      },
      {
        name: AUDIT_METRICS.subnetTotalAddresses,
        unit: 'Count',
        value: Number(entry.total),
        dimensions,
      },
    );
  }
  for (const type of Object.values(FindingType)) {
    const count = report.findingCounts[type];
    const dimensions = { FindingType: type };
    metrics.push(
      { name: AUDIT_METRICS.findings, unit: 'Count', value: count?.found ?? 0, dimensions },
      { name: AUDIT_METRICS.repairs, unit: 'Count', value: count?.repaired ?? 0, dimensions },
    );
  }
  metrics.push(
    {
      name: AUDIT_METRICS.scannedSubnets,
      unit: 'Count',
      value: report.scanned.subnets,
      dimensions: {},
    },
    {
      name: AUDIT_METRICS.scannedAllocations,
      unit: 'Count',
      value: report.scanned.allocations,
      dimensions: {},
    },
    {
      name: AUDIT_METRICS.maxSubnetUtilization,
      unit: 'Percent',
      value: report.utilization.reduce((max, entry) => Math.max(max, entry.percent), 0),
      dimensions: {},
    },
  );
  return metrics;
}
