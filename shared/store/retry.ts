/** Capped exponential back-off with full jitter (the AWS architecture blog's recipe). */
import { randomInt } from 'node:crypto';

export const RETRY = { attempts: 8, baseMs: 5, capMs: 200 } as const;

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
  return (error as { name?: string }).name === 'TransactionCanceledException';
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
  return (error as { name?: string }).name === 'ConditionalCheckFailedException';
}

/** DynamoDB saying "not now" (throttling, 5xx, time-outs, conflicts): retry, and the write may have happened. */
const RETRYABLE_AWS_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TransactionConflictException',
  'TransactionInProgressException',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
]);

export function isRetryableAwsError(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  return name !== undefined && RETRYABLE_AWS_ERRORS.has(name);
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
