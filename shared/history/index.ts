/**
 * History: who did what to an address or a subnet, derived from the table's change
 * stream (NEW_AND_OLD_IMAGES), stored in the same table, read newest first.
 *
 * | file           | what it holds                                                          |
 * | -------------- | ---------------------------------------------------------------------- |
 * | `entry.ts`     | actions, the entry view, the stored item                               |
 * | `keys.ts`      | `HISTORY#…` partitions and the newest-first, per-record sort key      |
 * | `records.ts`   | stream records (Lambda event or Streams API) in one shape              |
 * | `derive.ts`    | one change → its entries (pure; the rules below)                       |
 * | `processor.ts` | `processStreamRecords`: idempotent writes, publish once, failures      |
 * | `places.ts`    | the subnet's cidr and space for address events (cached)                |
 * | `held.ts`      | multi-step requests' ALLOCATED entries, held back until they commit   |
 * | `store.ts`     | conditional put, the published mark, pages                             |
 * | `history.ts`   | the routes' reads                                                       |
 * | `settings.ts`  | `IPAM_HISTORY_RETENTION_DAYS` (default 90)                              |
 *
 * Derivation rules (an image is *live* without `releasedAt`, a *tombstone* with it;
 * a lease is *expired* at time T when `expiresAt` ≤ T; T is the writer's stamp —
 * `updatedAt`, `createdAt` for a new allocation, `releasedAt` — else the record's
 * ApproximateCreationDateTime, and never earlier than the replaced version's stamps):
 * - allocation INSERT of a live item, or MODIFY tombstone → live: ALLOCATED;
 * - MODIFY live → live of the same allocation (same `reqToken` and `createdAt`):
 *   RENEWED if `expiresAt` changed (whatever else did), else UPDATED if another field
 *   of the view changed, else nothing (only internal attributes changed);
 * - MODIFY live → live of another allocation: EXPIRED (dated at the old expiry, actor
 *   "system", requestId null) when the old lease had expired, else RELEASED (actor
 *   "unknown"); then ALLOCATED;
 * - MODIFY live → tombstone: RELEASED (owner = the holder that lost it, actor =
 *   `releasedBy`), or EXPIRED when the lease had expired by `releasedAt`;
 * - REMOVE of a live item: EXPIRED when DynamoDB's TTL deleted it or its lease had
 *   expired (whoever deleted it: a reuse, the audit's sweep, the TTL), else RELEASED,
 *   actor and requestId from the release note `RELEASED#<reqToken>` /
 *   `<subnetId>#IP#<address hex>` (`releasedBy`, `releasedAt`, `requestId`, `ttl` > the stream's
 *   24 h) that the deleting transaction writes — a release by a known writer, the
 *   audit's deletion of a vanished subnet's allocations — read consistently when the REMOVE is processed; without a note,
 *   actor "unknown". The note is keyed by the allocation's own request token, so it
 *   is never another allocation's; the entry's time stays the record's;
 * - the items of a multi-step request (`multiStep`, allocator/pending.ts): every
 *   entry about one is held back (held.ts) and written once the request's pending
 *   record is gone without an undo; the undo of a request that failed part-way or
 *   crashed first writes the request's undo note, and then none of its items'
 *   entries is written (not their ALLOCATED, nor a lease that expired meanwhile);
 * - REMOVE of a tombstone, and tombstone → tombstone: nothing;
 * - a change written with `updatedBy`/`releasedBy` "audit", or whose release note
 *   names "audit": REPAIRED (requestId = the audit's id, from `requestId`);
 * - subnet META: INSERT → SUBNET_CREATED, MODIFY of a field of the view (not only
 *   `updatedAt`/`updatedBy`/`requestId`/versions) → SUBNET_UPDATED, REMOVE →
 *   SUBNET_DELETED. The one rule for deletions: the entry always comes from the META
 *   REMOVE; its actor and requestId from the note `SUBNET#<id>`/`DELETED`
 *   (`deletedBy`, `requestId`, `ttl` > the stream's 24 h) that the delete
 *   transaction writes, read consistently when the REMOVE is processed; without a
 *   note, actor "unknown". The note itself makes no entry.
 * - a pending record's REMOVE writes the held entries of its request (held.ts);
 * - everything else (blocks, counters, pending records' other changes, space, pool,
 *   audit items, CFN items, release notes, map summaries and history entries
 *   themselves) makes nothing.
 *
 * The same batch also keeps the address map's summaries (shared/map/refresh.ts):
 * each block's newest image in the batch, then the sums above it.
 */

export { type DerivedEntry, deriveEntries, type WriterNote, withNote } from './derive.js';
export {
  AUDIT_ACTOR,
  entryView,
  HistoryAction,
  type HistoryEntryView,
  type HistoryItem,
  SYSTEM_ACTOR,
  UNKNOWN_ACTOR,
} from './entry.js';
export { addressHistory, type HistoryQuery, subnetHistory } from './history.js';
export { HISTORY_PREFIX, historyKeys, isHistoryKey } from './keys.js';
export { SubnetPlaces } from './places.js';
export {
  type ProcessOptions,
  type ProcessResult,
  processStreamRecords,
  type RecordFailure,
} from './processor.js';
export {
  type ChangeRecord,
  MalformedStreamRecordError,
  type StreamRecordInput,
  toChangeRecord,
} from './records.js';
export { DEFAULT_HISTORY_RETENTION_DAYS, historyRetentionDays } from './settings.js';
