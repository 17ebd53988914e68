/**
 * The one table from error code to HTTP status. Domain errors (shared/errors.ts)
 * carry their code; the HTTP layer adds its own few (routing, body framing).
 */
import { type ErrorDetails, IpamError } from '../../shared/errors.js';

export { isRetryableAwsError } from '../../shared/store/retry.js';

export const STATUS_BY_CODE = {
  VALIDATION_ERROR: 400,
  INVALID_IP: 400,
  INVALID_CIDR: 400,
  INVALID_MAC: 400,
  MAC_NOT_APPLICABLE: 400,
  INVALID_GATEWAY: 400,
  INVALID_ALLOCATION_POOL: 400,
  IP_NOT_IN_SUBNET: 400,
  PREFIX_LENGTH_OUT_OF_RANGE: 400,
  SUBNET_NOT_FOUND: 404,
  ALLOCATION_NOT_FOUND: 404,
  POOL_NOT_FOUND: 404,
  AUDIT_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  GATEWAY_IN_POOL: 409,
  SUBNET_OVERLAP: 409,
  SUBNET_IN_USE: 409,
  IP_RESERVED: 409,
  IP_ALREADY_ALLOCATED: 409,
  IP_QUARANTINED: 409,
  SUBNET_EXHAUSTED: 409,
  OWNER_MISMATCH: 409,
  POOL_EXHAUSTED: 409,
  POOL_IN_USE: 409,
  QUOTA_EXCEEDED: 409,
  IDEMPOTENCY_IN_PROGRESS: 409,
  AUDIT_RUNNING: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  /** The request line and headers over the server's limit (the local server; API Gateway has its own). */
  REQUEST_HEADERS_TOO_LARGE: 431,
  INTERNAL_ERROR: 500,
  ALLOCATION_CONTENTION: 503,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof STATUS_BY_CODE;

/** Errors of the HTTP framing itself (routing, body, media type). */
export class HttpError extends IpamError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    details: ErrorDetails = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message, details);
  }
}
