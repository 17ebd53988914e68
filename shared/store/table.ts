/**
 * The one DynamoDB table: string keys `pk` and `sk`, one overloaded global index
 * `gsi1` (the list of subnets, and each owner's allocations), and the TTL attribute
 * of leases. The item layout and why it is safe:
 * shared/README.md. Local table creation: local/tables.ts.
 */
export const KEY = { partition: 'pk', sort: 'sk' } as const;
export const LIST_INDEX = { name: 'gsi1', partition: 'gsi1pk', sort: 'gsi1sk' } as const;
/** Epoch seconds; DynamoDB's TTL deletes expired leases some time after they expire. */
export const TTL_ATTRIBUTE = 'ttl';

export const DEFAULT_TABLE_NAME = 'ipam';

/** Powertools Idempotency's own table (its default layout): key `id`, TTL `expiration`. */
export const IDEMPOTENCY_TABLE = { key: 'id', ttl: 'expiration' } as const;
