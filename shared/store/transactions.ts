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
  isTransactionCanceled,
  sleep,
  type TransactionCanceled,
} from './retry.js';

export type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;
/** One item of a TransactWriteItems request: Put, Update, Delete or ConditionCheck. */
export type TransactItem = TransactItems[number];

export interface TransactionOutcome {
  /** Set when a condition failed (or the items conflicted): nothing of this attempt was applied. */
  readonly canceled?: TransactionCanceled;
  /** An earlier attempt failed in a way that may have applied it. */
  readonly ambiguous: boolean;
}

/** Attempts per logical transaction, on top of the SDK's own retries. */
export const TRANSACTION_ATTEMPTS = 4;

export class AmbiguousWriteError extends Error {
  override readonly name = 'AmbiguousWriteError';
}

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
      if (isTransactionCanceled(error)) return { canceled: error, ambiguous };
      if (!isRetryableAwsError(error) || attempt >= TRANSACTION_ATTEMPTS) {
        if (ambiguous || isRetryableAwsError(error))
          Object.assign(error as object, { ambiguous: true });
        throw error;
      }
      ambiguous = true;
      await sleep(backoffMs(attempt, 20, 500));
    }
  }
}

/** True for an error thrown by writeTransaction after a write that may have been applied. */
export function wasAmbiguous(error: unknown): boolean {
  return (error as { ambiguous?: boolean } | undefined)?.ambiguous === true;
}
