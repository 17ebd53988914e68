/**
 * Every failure a caller can cause is one of these classes. Each carries the
 * API error `code` of ../shared/API.md and the `details` that code promises, so
 * the HTTP layer maps them one to one (functions/ holds the status table).
 *
 * Anything that is not an `IpamError` is an internal fault: logged, never shown.
 */
export type ErrorDetails = Record<string, unknown>;

export abstract class IpamError extends Error {
  abstract readonly code: string;
  readonly details: ErrorDetails;

  constructor(message: string, details: ErrorDetails = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

export class ValidationError extends IpamError {
  readonly code = 'VALIDATION_ERROR';
}

export class InvalidIpError extends IpamError {
  readonly code = 'INVALID_IP';
}

export class InvalidCidrError extends IpamError {
  readonly code = 'INVALID_CIDR';
}

export class InvalidMacError extends IpamError {
  readonly code = 'INVALID_MAC';
}

export class MacNotApplicableError extends IpamError {
  readonly code = 'MAC_NOT_APPLICABLE';
}

export class InvalidGatewayError extends IpamError {
  readonly code = 'INVALID_GATEWAY';
}

export const PoolProblem = {
  START_AFTER_END: 'START_AFTER_END',
  VERSION_MISMATCH: 'VERSION_MISMATCH',
  OUTSIDE_SUBNET: 'OUTSIDE_SUBNET',
  OVERLAPPING: 'OVERLAPPING',
} as const;
export type PoolProblem = (typeof PoolProblem)[keyof typeof PoolProblem];

export class InvalidAllocationPoolError extends IpamError {
  readonly code = 'INVALID_ALLOCATION_POOL';
  constructor(message: string, reason: PoolProblem, details: ErrorDetails = {}) {
    super(message, { reason, ...details });
  }
}

export class GatewayInPoolError extends IpamError {
  readonly code = 'GATEWAY_IN_POOL';
}

export class SubnetOverlapError extends IpamError {
  readonly code = 'SUBNET_OVERLAP';
}

export class SubnetNotFoundError extends IpamError {
  readonly code = 'SUBNET_NOT_FOUND';
  constructor(subnetId: string) {
    super(`No subnet has the id ${subnetId}.`, { subnetId });
  }
}

export class SubnetInUseError extends IpamError {
  readonly code = 'SUBNET_IN_USE';
}

export class IpNotInSubnetError extends IpamError {
  readonly code = 'IP_NOT_IN_SUBNET';
}

export class IpReservedError extends IpamError {
  readonly code = 'IP_RESERVED';
}

export class IpAlreadyAllocatedError extends IpamError {
  readonly code = 'IP_ALREADY_ALLOCATED';
  constructor(ip: string, owner: string | null) {
    super(
      owner === null
        ? `${ip} is already allocated.`
        : `${ip} is already allocated to ${JSON.stringify(owner)}.`,
      { ip, owner },
    );
  }
}

/** The address is in its release cool-down (API.md "Release cool-down") until `availableAt`. */
export class IpQuarantinedError extends IpamError {
  readonly code = 'IP_QUARANTINED';
  constructor(ip: string, availableAt: string) {
    super(
      `${ip} was released (or its lease expired) recently and is in the subnet's reuse ` +
        `cool-down until ${availableAt}; allocate it from then on, or pick another address.`,
      { ip, availableAt },
    );
  }
}

/** Addresses in their cool-down when a subnet is exhausted: how many, and the first to end. */
export interface QuarantineSummary {
  readonly quarantined: number;
  /** ISO-8601: when the first of them becomes allocatable. */
  readonly availableAt: string;
}

export class SubnetExhaustedError extends IpamError {
  readonly code = 'SUBNET_EXHAUSTED';
  constructor(
    total: number | string,
    allocated: number | string,
    requested: number,
    cooling?: QuarantineSummary,
  ) {
    super(
      `The subnet's allocation pools have too few free addresses: ${requested} requested, ` +
        `${allocated} of ${total} allocated` +
        (cooling === undefined
          ? '. Release addresses or widen the pools.'
          : `, ${cooling.quarantined} in the reuse cool-down (the first free again at ` +
            `${cooling.availableAt}). Retry then, release addresses or widen the pools.`),
      { total, allocated, requested, ...(cooling ?? {}) },
    );
  }
}

/** Free addresses exist, but concurrent writers won every try: retry later. */
export class AllocationContentionError extends IpamError {
  readonly code = 'ALLOCATION_CONTENTION';
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds = 1, options?: ErrorOptions) {
    super(message, { retryAfterSeconds }, options);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class AllocationNotFoundError extends IpamError {
  readonly code = 'ALLOCATION_NOT_FOUND';
  constructor(subnetId: string, ip: string) {
    super(`${ip} is not allocated in subnet ${subnetId}.`, { subnetId, ip });
  }
}

export class OwnerMismatchError extends IpamError {
  readonly code = 'OWNER_MISMATCH';
  constructor(ip: string, expected: string, actual: string | null) {
    super(
      `${ip} is held by ${JSON.stringify(actual)}, not ${JSON.stringify(expected)}; nothing was released.`,
      { ip, expectedOwner: expected, owner: actual },
    );
  }
}

export class PoolNotFoundError extends IpamError {
  readonly code = 'POOL_NOT_FOUND';
  constructor(poolId: string) {
    super(`No subnet pool has the id ${poolId}.`, { poolId });
  }
}

export class PoolExhaustedError extends IpamError {
  readonly code = 'POOL_EXHAUSTED';
}

export class PoolInUseError extends IpamError {
  readonly code = 'POOL_IN_USE';
}

export class PrefixLengthOutOfRangeError extends IpamError {
  readonly code = 'PREFIX_LENGTH_OUT_OF_RANGE';
}

export class QuotaExceededError extends IpamError {
  readonly code = 'QUOTA_EXCEEDED';
}

export class AuditNotFoundError extends IpamError {
  readonly code = 'AUDIT_NOT_FOUND';
  constructor(auditId: string) {
    super(`No audit has the id ${auditId}.`, { auditId });
  }
}

/** One audit at a time: another is running (its lease not yet expired). */
export class AuditRunningError extends IpamError {
  readonly code = 'AUDIT_RUNNING';
  constructor(auditId: string) {
    super(
      `Audit ${auditId} is still running; follow it with GET /audits/${auditId} and start another once it has finished.`,
      { auditId },
    );
  }
}

export class IdempotencyKeyReusedError extends IpamError {
  readonly code = 'IDEMPOTENCY_KEY_REUSED';
}

export class IdempotencyInProgressError extends IpamError {
  readonly code = 'IDEMPOTENCY_IN_PROGRESS';
}
