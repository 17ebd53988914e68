/** The API's views as the CLI reads them (see shared/API.md). */

export type Count = number | string;

export interface Subnet {
  id: string;
  cidr: string;
  ipVersion: 4 | 6;
  name: string | null;
  space: string;
  gatewayIp: string | null;
  allocationPools: { start: string; end: string }[];
  tags: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  /** Absent on servers older than the release cool-down. */
  reuseDelaySeconds?: number;
  usage: {
    total: Count;
    allocated: Count;
    available: Count;
    outsidePools: Count;
    /** Only where a cool-down applies. */
    quarantined?: Count;
  };
}

export interface Allocation {
  subnetId: string;
  ip: string;
  owner: string | null;
  description: string | null;
  tags: Record<string, string>;
  macAddress: string | null;
  createdAt: string;
  expiresAt: string | null;
}

export interface Pool {
  id: string;
  name: string | null;
  ipVersion: 4 | 6;
  prefixes: string[];
  space: string;
  defaultPrefixLength: number;
  minPrefixLength: number;
  maxPrefixLength: number;
  tags: Record<string, string>;
  usage: { totalAddresses: string; allocatedAddresses: string };
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface AuditReport {
  id: string;
  startedAt: string;
  finishedAt: string | null;
  repair: boolean;
  status: 'complete' | 'partial' | 'running' | 'failed';
  reason?: string;
  progress?: { scannedItems: number; estimatedItems: number };
  scanned?: { subnets: number; allocations: number; items?: number };
  findings?: {
    type: string;
    subnetId: string | null;
    ip?: string;
    detail: string;
    repaired: boolean;
    notRepaired?: string;
  }[];
  findingCounts?: Record<string, { found: number; repaired: number }>;
  utilization?: {
    subnetId: string;
    cidr: string;
    total: Count;
    allocated: Count;
    percent: number;
  }[];
}
