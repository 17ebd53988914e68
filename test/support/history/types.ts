/** The vocabulary of a recorded API history: what was asked, and what came back. */

/** What a caller saw. `ambiguous`: a time-out, a 5xx, a 503, a thrown network error — may or may not have happened. */
export type Outcome =
  | { readonly status: 'ok'; readonly value: unknown }
  | {
      readonly status: 'error';
      readonly code: string;
      readonly details: Readonly<Record<string, unknown>>;
    }
  | { readonly status: 'ambiguous'; readonly reason: string };

/** The fields of an allocation view a read or write answers (API.md). */
export interface AllocationFields {
  readonly ip: string;
  readonly owner: string | null;
  readonly description: string | null;
  readonly tags: Readonly<Record<string, string>>;
  readonly macAddress: string | null;
  readonly expiresAt: string | null;
}

export interface PoolRange {
  readonly start: string;
  readonly end: string;
}

/** One API call, as the HTTP contract names it (in-process calls are recorded in the same words). */
export type ApiInput =
  | {
      readonly kind: 'allocate';
      readonly subnetId: string;
      readonly ip?: string;
      readonly strategy?: 'random' | 'sequential';
      readonly count?: number;
      readonly owner?: string | null;
      readonly description?: string | null;
      readonly tags?: Readonly<Record<string, string>>;
      readonly ttlSeconds?: number;
    }
  | {
      readonly kind: 'release';
      readonly subnetId: string;
      readonly ip: string;
      readonly owner?: string;
    }
  | {
      readonly kind: 'update';
      readonly subnetId: string;
      readonly ip: string;
      readonly patch: {
        readonly owner?: string | null;
        readonly description?: string | null;
        readonly tags?: Readonly<Record<string, string>>;
        readonly ttlSeconds?: number;
      };
    }
  | { readonly kind: 'get'; readonly subnetId: string; readonly ip: string }
  | {
      readonly kind: 'updateSubnet';
      readonly subnetId: string;
      readonly patch: {
        readonly gatewayIp?: string | null;
        readonly allocationPools?: readonly PoolRange[];
      };
    }
  | { readonly kind: 'deleteSubnet'; readonly subnetId: string };

/** One recorded call: monotonic times for ordering, wall-clock times (the service's clock) for leases. */
export interface ApiOperation {
  readonly id: number;
  readonly client: string;
  readonly input: ApiInput;
  readonly output: Outcome;
  /** `performance.now()` at invocation. */
  readonly call: number;
  /** `performance.now()` at response; for an ambiguous outcome, the end of the window in which it may still take effect. */
  readonly return: number;
  /** The service clock (ms since the epoch) at invocation and response. */
  readonly wallCall: number;
  readonly wallReturn: number;
}

/** A subnet's configuration as the history starts (from its create answer). */
export interface SubnetStart {
  readonly id: string;
  readonly cidr: string;
  readonly gatewayIp: string | null;
  readonly allocationPools: readonly PoolRange[];
}
