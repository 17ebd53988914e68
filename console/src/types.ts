/** The API's shapes as the console reads them (see shared/API.md). */

/** A number, or a decimal string beyond 2^53. */
export type Count = number | string;

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export interface Subnet {
  readonly id: string;
  readonly cidr: string;
  readonly ipVersion: 4 | 6;
  readonly name: string | null;
  readonly space: string;
  readonly gatewayIp: string | null;
  readonly allocationPools: { start: string; end: string }[];
  readonly usage: {
    total: Count;
    allocated: Count;
    available: Count;
    outsidePools: Count;
    quarantined?: Count;
  };
  readonly reuseDelaySeconds: number;
  readonly poolId?: string;
}

export interface Allocation {
  readonly subnetId: string;
  readonly ip: string;
  readonly owner: string | null;
  readonly description: string | null;
  readonly macAddress: string | null;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly createdBy?: string | null;
}

export type AddressState =
  | 'ALLOCATED'
  | 'LEASE_EXPIRED'
  | 'QUARANTINED'
  | 'GATEWAY'
  | 'RESERVED'
  | 'FREE'
  | 'OUTSIDE_POOLS';

export interface MapCell {
  readonly index: number;
  readonly first: string;
  readonly last: string;
  readonly allocated: Count;
  readonly leased: Count;
  readonly quarantined: Count;
  readonly free: Count;
  /** Cells of one address only. */
  readonly state?: AddressState;
}

export interface AddressMap {
  readonly subnetId: string;
  readonly cidr: string;
  readonly cell: string | null;
  readonly cellSize: Count;
  readonly cells: MapCell[];
}

export interface AddressLookupItem {
  readonly space: string;
  readonly subnetId: string;
  readonly cidr: string;
  readonly state: AddressState;
  readonly inPools: boolean;
  readonly availableAt?: string;
  readonly allocation: Allocation | null;
}

export interface HistoryEntry {
  readonly at: string;
  readonly action: string;
  readonly actor: string;
  readonly requestId: string | null;
  readonly owner: string | null;
}

export interface Pool {
  readonly id: string;
  readonly name: string | null;
  readonly ipVersion: 4 | 6;
  readonly prefixes: string[];
  readonly space: string;
  readonly defaultPrefixLength: number;
  readonly minPrefixLength: number;
  readonly maxPrefixLength: number;
  readonly usage: { totalAddresses: string; allocatedAddresses: string };
}

export interface Finding {
  readonly type: string;
  readonly subnetId: string | null;
  readonly ip?: string;
  readonly detail: string;
  readonly repaired: boolean;
  readonly notRepaired?: string;
}

export interface Audit {
  readonly id: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly repair: boolean;
  readonly status: 'running' | 'complete' | 'failed';
  readonly progress?: { scannedItems: number; estimatedItems: number };
  readonly reason?: string;
  readonly scanned: { subnets: number; allocations: number };
  readonly findings: Finding[];
  readonly findingsTruncated?: boolean;
  readonly utilization: {
    subnetId: string;
    cidr: string;
    total: Count;
    allocated: Count;
    percent: number;
  }[];
}
