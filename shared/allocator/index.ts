/**
 * The allocator: addresses of a subnet handed out by conditional writes.
 *
 * | file                 | what it holds                                                     |
 * | -------------------- | ----------------------------------------------------------------- |
 * | `allocator.ts`       | `Allocator`, the entry point (one per Lambda container)           |
 * | `allocate.ts`        | one allocation request: checks, pick, reserve, learn, retry       |
 * | `specific.ts`        | the exact address asked for (`ip`, or a MAC's EUI-64 address)     |
 * | `pick.ts`            | free pool addresses by strategy; "full" versus contention         |
 * | `randomPick.ts`      | random: uniform over the free addresses, shard by free count      |
 * | `sequentialPick.ts`  | sequential: the lowest free addresses, walked from a hint         |
 * | `freeSpace.ts`       | uniform draws among a whole-shard view's free addresses           |
 * | `views.ts`           | the per-container cache: subnets, counters, blocks, shards, hints |
 * | `reads.ts`           | reads of an allocation item, a block, a shard's stored blocks     |
 * | `reservationPlan.ts` | the TransactWriteItems that reserve candidates                    |
 * | `writes.ts`          | counter, release (+ release note) and lease writes; item-unchanged |
 * | `transact.ts`        | sending planned writes; what a cancellation taught (`Lesson`)     |
 * | `reserve.ts`         | one transaction, or the pending protocol for large requests       |
 * | `pending.ts`         | the pending-record protocol and `undoPending` (also for the audit) |
 * | `existing.ts`        | get, update and release of one allocation                         |
 * | `listing.ts`         | a subnet's allocations, one owner's allocations                   |
 * | `macListing.ts`      | the allocations made for a MAC (its EUI-64 address per /64)       |
 * | `addressLookup.ts`   | the subnets containing an address, and its state in each          |
 * | `items.ts`           | the allocation item ↔ view mapping                                |
 * | `candidate.ts`       | what a pick hands to the writes                                   |
 */
export {
  type AddressPlace,
  AddressState,
  addressState,
  type Holding,
  lookupAddress,
} from './addressLookup.js';
export type { AllocateInput } from './allocate.js';
export { Allocator, type AllocatorOptions } from './allocator.js';
export type { UpdateAllocationInput } from './existing.js';
export type { AllocationItem, AllocationView } from './items.js';
export { listByOwner } from './listing.js';
export { listByMac } from './macListing.js';
export { undoPending } from './pending.js';
export { Strategy } from './pick.js';
export { releaseNoteWrite, tokenAttribute } from './writes.js';
