/**
 * Sends planned writes as transactions and reads back what the failed conditions
 * showed (the block as it is now, a live item, a changed subnet) as a Lesson.
 */
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { IpamContext } from '../store/context.js';
import type { CancellationReason } from '../store/retry.js';
import { wasAmbiguous, writeTransaction } from '../store/transactions.js';
import { type BlockState, blockFromItem } from '../subnets/blocks.js';
import { type HoldingFields, isLive } from '../subnets/holding.js';
import type { PlannedWrite } from './writes.js';

/** What one failed transaction taught us. */
export interface Lesson {
  readonly blocks: BlockState[];
  /** The subnet changed (pools, gateway) or vanished: reload it. */
  readonly subnetChanged: boolean;
  /** Addresses whose allocation item is live although the block called them free. */
  readonly heldItems: bigint[];
}

/** How far a multi-transaction request got, for its undo. */
export interface Progress {
  committed: number;
  ambiguous: boolean;
}

/**
 * One transaction; undefined when it was applied. When an earlier attempt may
 * have landed (a lost response), `landed` re-reads to tell "we won before the
 * answer was lost" from "we lost the race".
 */
export async function transact(
  ctx: IpamContext,
  writes: readonly PlannedWrite[],
  landed?: () => Promise<boolean>,
  progress?: { ambiguous: boolean },
): Promise<Lesson | undefined> {
  let outcome: Awaited<ReturnType<typeof writeTransaction>>;
  try {
    outcome = await writeTransaction(
      ctx,
      writes.map((write) => write.item),
    );
    if (progress !== undefined && outcome.ambiguous) progress.ambiguous = true;
  } catch (error) {
    if (wasAmbiguous(error) && landed !== undefined && (await landed())) return undefined;
    throw error;
  }
  if (outcome.canceled === undefined) return undefined;
  if (outcome.ambiguous && landed !== undefined && (await landed())) return undefined;
  return learn(writes, outcome.canceled.CancellationReasons ?? [], ctx.now());
}

/** The transactions in order, until one is refused (its lesson); counts the applied ones. */
export async function transactChunks(
  ctx: IpamContext,
  chunks: readonly PlannedWrite[][],
  progress: Progress,
): Promise<Lesson | undefined> {
  for (const writes of chunks) {
    const lesson = await transact(ctx, writes, undefined, progress);
    if (lesson !== undefined) return lesson;
    progress.committed++;
  }
  return undefined;
}

/** Reads what each failed condition returned. Anything but a condition failure or conflict is rethrown. */
function learn(
  writes: readonly PlannedWrite[],
  reasons: readonly CancellationReason[],
  nowMs: number,
): Lesson {
  const blocks: BlockState[] = [];
  const heldItems: bigint[] = [];
  let subnetChanged = false;
  reasons.forEach((reason, index) => {
    const write = writes[index];
    if (write === undefined || reason.Code === undefined || reason.Code === 'None') return;
    if (reason.Code === 'TransactionConflict') return;
    if (reason.Code !== 'ConditionalCheckFailed') {
      throw new Error(`DynamoDB cancelled the transaction: ${reason.Code} ${reason.Message ?? ''}`);
    }
    const old = reason.Item === undefined ? undefined : unmarshall(reason.Item as never);
    if (write.kind === 'block') blocks.push(blockFromItem(write.block, old));
    // A lease that ended without a cool-down less than the takeover margin ago holds
    // nobody: free in a moment, so it is not skipped (a full subnet is not exhausted).
    else if (write.kind === 'item' && !lapsing(old, nowMs)) heldItems.push(write.value);
    else if (write.kind === 'counter') subnetChanged = true;
  });
  return { blocks, subnetChanged, heldItems };
}

/** An item that refused a takeover only for its clock margin (subnets/holding.ts). */
function lapsing(old: Record<string, unknown> | undefined, nowMs: number): boolean {
  if (old === undefined || old.coolFrom !== undefined) return false;
  const item = old as HoldingFields;
  return (
    item.releasedAt === undefined && typeof item.expiresAt === 'string' && !isLive(item, nowMs)
  );
}
