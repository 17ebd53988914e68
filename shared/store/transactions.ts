/**
 * Sends one logical transaction so that a lost response never leaves a write
 * half-known. The transaction carries one ClientRequestToken across our retries:
 * DynamoDB applies a token at most once within ten minutes and answers a repeat
 * with success, so retrying a timed-out or throttled write cannot apply it twice.
 * Whether an earlier attempt may have been applied is reported as `ambiguous`, so
 * callers re-read before they conclude that a cancellation means "lost the race".
 */
import { randomUUID } from 'node:crypto';
import { TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { IpamContext } from './context.js';
import {
  backoffMs,
  isRetryableAwsError,
  isRetryableCancellation,
  isTransactionCanceled,
  sleep,
  type TransactionCanceled,
  TransactionThrottledError,
} from './retry.js';

export type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;
/** One item of a TransactWriteItems request: Put, Update, Delete or ConditionCheck. */
export type TransactItem = TransactItems[number];

export interface TransactionOutcome {
  /** Set when a condition failed: nothing of this attempt was applied. */
  readonly canceled?: TransactionCanceled;
  /** An earlier attempt failed in a way that may have applied it. */
  readonly ambiguous: boolean;
}

/** Attempts per logical transaction, on top of the SDK's own retries. */
export const TRANSACTION_ATTEMPTS = 4;

/** Back-off between attempts after a lost answer, and after a cancellation for capacity. */
const RETRY_DELAY = {
  afterFailure: { baseMs: 20, capMs: 500 },
  afterThrottling: { baseMs: 50, capMs: 1000 },
} as const;

export class AmbiguousWriteError extends Error {
  override readonly name = 'AmbiguousWriteError';
}

/**
 * Writes `items` in one TransactWriteItems, retried under one ClientRequestToken
 * through what DynamoDB says is transient (throttling, server errors, time-outs,
 * network errors) and through cancellations for capacity or conflicts alone.
 *
 * @param ctx - the table
 * @param items - at most 100 items
 * @returns `{ ambiguous }` when applied; `{ canceled, ambiguous }` when a condition
 *   (or another non-retryable reason) cancelled it
 * @throws TransactionThrottledError when DynamoDB cancelled every attempt for capacity
 *   or conflicts; the SDK's error when it kept failing transiently or failed for good
 *   — marked for {@link wasAmbiguous} when an attempt may have been applied
 */
export async function writeTransaction(
  ctx: IpamContext,
  items: TransactItems,
): Promise<TransactionOutcome> {
  const token = randomUUID();
  let ambiguous = false;
  for (let attempt = 1; ; attempt++) {
    try {
      await ctx.doc.send(
        new TransactWriteCommand({ TransactItems: items, ClientRequestToken: token }),
      );
      return { ambiguous };
    } catch (error) {
      if (isRetryableCancellation(error)) {
        // Cancelled: this attempt applied nothing, so it does not make the write ambiguous.
        if (attempt >= TRANSACTION_ATTEMPTS) throw new TransactionThrottledError(error, ambiguous);
        await sleep(
          backoffMs(attempt, RETRY_DELAY.afterThrottling.baseMs, RETRY_DELAY.afterThrottling.capMs),
        );
        continue;
      }
      if (isTransactionCanceled(error)) return { canceled: error, ambiguous };
      const retryable = isRetryableAwsError(error);
      if (!retryable || attempt >= TRANSACTION_ATTEMPTS) {
        if (ambiguous || retryable) Object.assign(error as object, { ambiguous: true });
        throw error;
      }
      ambiguous = true;
      await sleep(
        backoffMs(attempt, RETRY_DELAY.afterFailure.baseMs, RETRY_DELAY.afterFailure.capMs),
      );
    }
  }
}

/** True for an error thrown by writeTransaction after a write that may have been applied. */
export function wasAmbiguous(error: unknown): boolean {
  return (error as { ambiguous?: boolean } | undefined)?.ambiguous === true;
}
