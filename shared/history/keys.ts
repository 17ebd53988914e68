/**
 * The keys of history entries (their prefix is `PREFIX.history` of shared/store/keys.ts).
 *
 * An address's entries live in `HISTORY#<subnetId>#<address hex>`, a subnet's own in
 * `HISTORY#<subnetId>`: neither starts with `SUBNET#`, so the audit's key parser
 * files them under "other" and never mistakes one for an item of a subnet, and
 * they outlive the subnet's own partitions. The sort key is the entry's time (ISO,
 * fixed width, so string order is time order), then the stream record's sequence
 * number (zero-padded; orders two changes of one item in the same millisecond, which
 * share a shard) and the entry's index within that record. A redelivered record
 * therefore rebuilds the very same key: a conditional put makes it idempotent.
 */
import { addressKey, type IpAddress } from '../net/address.js';
import { PREFIX } from '../store/keys.js';

export const HISTORY_PREFIX = PREFIX.history;

/** Stream sequence numbers have at most 40 digits (DynamoDB Streams API). */
const SEQUENCE_DIGITS = 40;

export const historyKeys = {
  /** The partition of one address's entries. */
  addressPartition: (subnetId: string, addressHex: string) =>
    `${HISTORY_PREFIX}${subnetId}#${addressHex}`,
  /** The partition of an address given parsed (the route's side). */
  addressPartitionOf: (subnetId: string, ip: IpAddress) =>
    historyKeys.addressPartition(subnetId, addressKey(ip)),
  /** The partition of a subnet's own entries (created, updated, deleted). */
  subnetPartition: (subnetId: string) => `${HISTORY_PREFIX}${subnetId}`,
  /**
   * The held-back entries of one multi-step request (./held.ts): its token's own
   * partition (subnet ids are generated, never "HELD"), sorted like its release notes.
   */
  heldPartition: (token: string) => `${HISTORY_PREFIX}HELD#${token}`,
  /** Newest first when read backwards: time, then the record's place in its shard. */
  entrySort: (at: string, sequenceNumber: string, index: number) =>
    `${at}#${sequenceNumber.padStart(SEQUENCE_DIGITS, '0')}#${index}`,
};

/** Whether a table item is a history entry (whose own changes make no history). */
export function isHistoryKey(pk: string): boolean {
  return pk.startsWith(HISTORY_PREFIX);
}
