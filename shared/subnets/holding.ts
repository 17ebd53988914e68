/**
 * When an allocation item holds its address, the one rule behind every read and
 * condition that asks (the allocator's takeover, listings, lookups, the gateway
 * check, the lease sweep, the audit). An item is live while it is not a tombstone
 * (`releasedAt`) and its lease (if any) has not ended; it holds its address until
 * its `ttl` (allocator/items.ts). Here, below the allocator, because subnet
 * changes ask too.
 */
import { TTL_ATTRIBUTE } from '../store/table.js';

/** The attributes of an allocation item that say whether it is live. */
export interface HoldingFields {
  readonly releasedAt?: string;
  readonly expiresAt?: string | null;
}

/**
 * Clock margin of a takeover (ms): an allocation's lease that ends with no
 * cool-down may still be in use by a holder whose clock is behind the taker's, so
 * it is taken over only this long after its end. Lambda's clocks are kept well
 * within it (Amazon Time Sync).
 */
export const TAKEOVER_MARGIN_MS = 500;

/** Whether the item holds its address for its allocation now: not a tombstone, lease not ended. */
export function isLive(item: HoldingFields, nowMs: number): boolean {
  if (item.releasedAt !== undefined) return false;
  return item.expiresAt === null || item.expiresAt === undefined
    ? true
    : Date.parse(item.expiresAt) > nowMs;
}

/** A filter keeping the live allocation items ({@link isLive}) of a query. */
export function liveFilter(nowMs: number) {
  return {
    FilterExpression:
      'attribute_not_exists(releasedAt) AND (attribute_not_exists(expiresAt) OR ' +
      'attribute_type(expiresAt, :nullType) OR expiresAt > :nowIso)',
    ExpressionAttributeValues: { ':nullType': 'NULL', ':nowIso': new Date(nowMs).toISOString() },
  };
}

/**
 * The condition on an allocation item that no live allocation holds it: no item,
 * a tombstone, or a lease that has ended (expiresAt is an ISO string, all written
 * by one format, so they compare in time order).
 */
export function notLiveCondition(nowMs: number) {
  return {
    ConditionExpression:
      'attribute_not_exists(pk) OR attribute_exists(releasedAt) OR expiresAt <= :nowIso',
    ExpressionAttributeValues: { ':nowIso': new Date(nowMs).toISOString() },
  };
}

/**
 * The condition on an allocation item that the address is free to take at
 * `nowMs`: no item, or its `ttl` passed — at once where a cool-down ended
 * (nobody held it meanwhile), {@link TAKEOVER_MARGIN_MS} later where a lease
 * ended without one.
 */
export function takeoverCondition(nowMs: number) {
  return {
    ConditionExpression:
      'attribute_not_exists(pk) OR (attribute_exists(coolFrom) AND #ttl <= :now) OR #ttl <= :early',
    ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
    ExpressionAttributeValues: {
      ':now': Math.floor(nowMs / 1000),
      ':early': Math.floor((nowMs - TAKEOVER_MARGIN_MS) / 1000),
    },
  };
}
