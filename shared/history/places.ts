/**
 * The subnet's cidr and space for the events of its addresses. An allocation item
 * does not carry them, so the processor reads the subnet once per container and
 * keeps it: a subnet's cidr and space never change, so the cache needs no expiry.
 * A subnet already deleted is found in its deletion note (written by the delete
 * transaction, kept longer than the stream keeps a record), else in its own history
 * (its SUBNET_CREATED entry has both). The note comes first: the subnet's own
 * records are in another shard than its addresses', so the SUBNET_CREATED entry
 * may not be written yet when an address's record comes.
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { IpamContext } from '../store/context.js';
import { keys } from '../store/keys.js';
import { historyKeys } from './keys.js';
import type { CapacityTally } from './store.js';

export interface Place {
  readonly cidr: string | null;
  readonly space: string | null;
}

/** Enough for every subnet a container sees in practice; beyond it, the oldest go. */
const CACHE_LIMIT = 10_000;

export class SubnetPlaces {
  private readonly known = new Map<string, Place>();

  /** Remembers what a subnet record said (its own stream records carry it). */
  note(subnetId: string, place: Place): void {
    if (place.cidr === null) return;
    if (this.known.size >= CACHE_LIMIT) {
      const oldest = this.known.keys().next();
      if (oldest.done !== true) this.known.delete(oldest.value);
    }
    this.known.set(subnetId, place);
  }

  async of(ctx: IpamContext, subnetId: string, tally: CapacityTally): Promise<Place> {
    const cached = this.known.get(subnetId);
    if (cached !== undefined) return cached;
    const found = (await fromItem(ctx, keys.subnet(subnetId), false, tally)) ??
      (await fromItem(ctx, keys.subnetDeletionNote(subnetId), true, tally)) ??
      (await fromHistory(ctx, subnetId, tally)) ?? { cidr: null, space: null };
    this.note(subnetId, found);
    return found;
  }
}

/**
 * The subnet item, or its deletion note: read consistently, as the note is only
 * looked for once the subnet is gone (the same transaction deleted one, wrote the other).
 */
async function fromItem(
  ctx: IpamContext,
  key: { readonly pk: string; readonly sk: string },
  consistent: boolean,
  tally: CapacityTally,
): Promise<Place | undefined> {
  const output = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: key,
      ...(consistent ? { ConsistentRead: true } : {}),
      ProjectionExpression: 'cidr, #space',
      ExpressionAttributeNames: { '#space': 'space' },
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  tally.read += output.ConsumedCapacity?.CapacityUnits ?? 0;
  return placeIn(output.Item);
}

async function fromHistory(
  ctx: IpamContext,
  subnetId: string,
  tally: CapacityTally,
): Promise<Place | undefined> {
  const output = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': historyKeys.subnetPartition(subnetId) },
      ProjectionExpression: 'cidr, #space',
      ExpressionAttributeNames: { '#space': 'space' },
      Limit: 1,
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  tally.read += output.ConsumedCapacity?.CapacityUnits ?? 0;
  return placeIn(output.Items?.[0]);
}

function placeIn(item: Record<string, unknown> | undefined): Place | undefined {
  if (item === undefined || typeof item.cidr !== 'string') return undefined;
  return { cidr: item.cidr, space: typeof item.space === 'string' ? item.space : null };
}
