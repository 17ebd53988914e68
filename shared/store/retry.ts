/**
 * When to retry a DynamoDB call, and how long to wait. Which errors are transient is
 * the SDK's own classification (`@smithy/core/retry`, the code behind its retry
 * strategy); we add only what it does not know: `TransactionConflictException`,
 * transactions cancelled for capacity or conflicts, and our contention back-off.
 */
import { randomInt } from 'node:crypto';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';

export const RETRY = { attempts: 8, baseMs: 5, capMs: 200 } as const;

/** Capped exponential back-off with full jitter (the AWS architecture blog's recipe). */
export function backoffMs(
  attempt: number,
  baseMs: number = RETRY.baseMs,
  capMs: number = RETRY.capMs,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return randomInt(0, Math.max(1, Math.floor(ceiling)) + 1);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True for the error DynamoDB returns when a transaction's condition failed or it conflicted. */
export function isTransactionCanceled(error: unknown): error is TransactionCanceled {
  return (error as { name?: string } | undefined)?.name === 'TransactionCanceledException';
}

export interface CancellationReason {
  readonly Code?: string;
  readonly Item?: Record<string, unknown>;
  readonly Message?: string;
}

export interface TransactionCanceled extends Error {
  readonly CancellationReasons?: CancellationReason[];
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return (error as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';
}

/**
 * Cancellation reasons that say "not now" rather than "no": DynamoDB lacked capacity,
 * or another transaction held an item. Nothing was applied and a retry may succeed.
 */
const RETRYABLE_CANCELLATION_CODES: ReadonlySet<string> = new Set([
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'TransactionConflict',
]);

/**
 * Whether a transaction was cancelled only for capacity or conflicts: at least one
 * reason is `ThrottlingError`, `ProvisionedThroughputExceeded` or
 * `TransactionConflict` and every other reason is `None`. A cancellation with a failed
 * condition (or any other reason) is an answer, not a hiccup.
 *
 * @param error - any error
 * @returns true if retrying the same transaction may succeed
 */
export function isRetryableCancellation(error: unknown): error is TransactionCanceled {
  if (!isTransactionCanceled(error)) return false;
  const codes = (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
  return (
    codes.some((code) => RETRYABLE_CANCELLATION_CODES.has(code)) &&
    codes.every((code) => code === 'None' || RETRYABLE_CANCELLATION_CODES.has(code))
  );
}

/**
 * Thrown by writeTransaction when DynamoDB kept cancelling a transaction for capacity
 * or conflicts ({@link isRetryableCancellation}) through every retry. Retryable: the
 * HTTP layer answers it like throttling, 503 with `Retry-After`.
 */
export class TransactionThrottledError extends Error {
  override readonly name = 'TransactionThrottledError';
  /** An earlier attempt failed in a way that may have applied the transaction. */
  readonly ambiguous: boolean;
  readonly cancellationReasons: readonly CancellationReason[];

  constructor(canceled: TransactionCanceled, ambiguous: boolean) {
    const codes = (canceled.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
    super(`DynamoDB kept cancelling the transaction (${codes.join(', ')}); retry shortly.`, {
      cause: canceled,
    });
    this.ambiguous = ambiguous;
    this.cancellationReasons = canceled.CancellationReasons ?? [];
  }
}

type SdkError = Parameters<typeof isTransientError>[0];

/**
 * DynamoDB, or the way to it, saying "not now": retry, and a write may have happened.
 * The SDK's classification — throttling (`ThrottlingException`,
 * `ProvisionedThroughputExceededException`, `RequestLimitExceeded`,
 * `TransactionInProgressException`, HTTP 429), transient failures (`TimeoutError`,
 * `RequestTimeout`, HTTP 500/502/503/504, and network errors such as `ECONNRESET`,
 * `EPIPE`, `ETIMEDOUT`, an aborted response) and other server errors — plus errors
 * the service models as server faults, `TransactionConflictException` and
 * {@link TransactionThrottledError}. A caller's own abort (`AbortError`) is not
 * retryable.
 *
 * @param error - any error
 * @returns true if retrying may succeed
 */
export function isRetryableAwsError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (error instanceof TransactionThrottledError) return true;
  const { name, $fault } = error as { name?: unknown; $fault?: unknown };
  if (name === 'TransactionConflictException') return true;
  const sdkError = error as SdkError;
  return (
    isThrottlingError(sdkError) ||
    isTransientError(sdkError) ||
    isServerError(sdkError) ||
    // Modelled server faults (`InternalServerError`) even without an HTTP status.
    (name !== 'AbortError' && $fault === 'server')
  );
}

/**
 * Runs an idempotent read, retrying what DynamoDB says is transient. Used where a
 * read decides whether an ambiguous write landed, so giving up early would be costly.
 */
export async function retryRead<T>(read: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (!isRetryableAwsError(error) || attempt >= attempts) throw error;
      await sleep(backoffMs(attempt, 20, 500));
    }
  }
}
