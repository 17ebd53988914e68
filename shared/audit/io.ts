/**
 * The audit's point reads and conditional writes, each metered: consistent gets,
 * snapshots of several items (TransactGetItems), repair transactions and the
 * counter recount. What the audit reads in bulk is reader.ts.
 */
import {
  GetCommand,
  QueryCommand,
  type QueryCommandOutput,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { IpamContext } from '../store/context.js';
import { keys, PREFIX } from '../store/keys.js';
import {
  isConditionalCheckFailed,
  isRetryableAwsError,
  isTransactionCanceled,
} from '../store/retry.js';
import { transactGet } from '../store/transactGet.js';
import type { TransactItem } from '../store/transactions.js';
import type { CapacityMeter } from './auditStore.js';
import type { Key } from './checkpoint.js';

export type Item = Record<string, unknown>;

/** A shard counter's counts: live allocations, those in the pools, leases. */
export interface Tally {
  n: number;
  p: number;
  l: number;
}

export class AuditIo {
  constructor(
    private readonly ctx: IpamContext,
    private readonly meter: CapacityMeter,
  ) {}

  /** A consistent read of one item. */
  async get(key: Key): Promise<Item | undefined> {
    const result = await this.ctx.doc.send(
      new GetCommand({
        TableName: this.ctx.tableName,
        Key: key,
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter.read(result.ConsumedCapacity);
    return result.Item;
  }

  /** Several items as of one instant (TransactGetItems); undefined where an item is missing. */
  async snapshot(itemKeys: Key[]): Promise<(Item | undefined)[]> {
    const { items, consumed } = await transactGet(this.ctx, itemKeys);
    this.meter.read(consumed);
    return items;
  }

  /** Whether a multi-step request of the subnet is in flight (a consistent read). */
  async hasPending(subnetId: string): Promise<boolean> {
    const result: QueryCommandOutput = await this.ctx.doc.send(
      new QueryCommand({
        TableName: this.ctx.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :pending)',
        ExpressionAttributeValues: { ':pk': keys.subnet(subnetId).pk, ':pending': PREFIX.pending },
        ConsistentRead: true,
        Limit: 1,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter.read(result.ConsumedCapacity);
    return (result.Items?.length ?? 0) > 0;
  }

  /**
   * True when committed; false when a condition failed, the items conflicted, or
   * DynamoDB stayed unavailable through the SDK's retries (which reuse one
   * ClientRequestToken). In that last case the write may have landed: the shard's
   * `ver` then moved by more than this audit counted, so its drift is not judged,
   * and the next audit sees the outcome.
   */
  async transact(items: TransactItem[]): Promise<boolean> {
    try {
      const result = await this.ctx.doc.send(
        new TransactWriteCommand({ TransactItems: items, ReturnConsumedCapacity: 'TOTAL' }),
      );
      this.meter.write(result.ConsumedCapacity);
      return true;
    } catch (error) {
      if (isTransactionCanceled(error) || isRetryableAwsError(error)) return false;
      throw error;
    }
  }

  /**
   * Writes a shard counter's recount on condition that it is still at `ver` and
   * counted under `configVersion`; false when it moved meanwhile.
   */
  async setCounter(key: Key, counts: Tally, ver: number, configVersion: number): Promise<boolean> {
    try {
      const result = await this.ctx.doc.send(
        new UpdateCommand({
          TableName: this.ctx.tableName,
          Key: key,
          UpdateExpression: 'SET n = :n, p = :p, l = :l, ver = :next',
          ConditionExpression: 'ver = :ver AND pv = :pv',
          ExpressionAttributeValues: {
            ':n': counts.n,
            ':p': counts.p,
            ':l': counts.l,
            ':ver': ver,
            ':next': ver + 1,
            ':pv': configVersion,
          },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter.write(result.ConsumedCapacity);
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}
