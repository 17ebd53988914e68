/**
 * Subnet pools: carve subnets out of larger prefixes, best fit, never overlapping.
 *
 * | file              | holds                                                                            |
 * | ----------------- | -------------------------------------------------------------------------------- |
 * | `pools.ts`        | pool CRUD: create (learning the subnets already in its space), get, list, delete |
 * | `carve.ts`        | the carve protocol: carve, preview, the claim loop, learning, recording a carve  |
 * | `ledger.ts`       | the free-block ledger (data model there): reads, give-back, stale reclaim        |
 * | `items.ts`        | the pool item: Pool ↔ PoolItem ↔ PoolView                                        |
 * | `pool.ts`         | the Pool model and the API's PoolView                                            |
 * | `usage.ts`        | total and carved addresses                                                       |
 * | `rangeQueries.ts` | sort-key range reads shared by the ledger and pool create                        |
 * | `buddy.ts`        | pure buddy-block arithmetic and its in-memory twin                               |
 */
export { type CarveSubnetInput, carveSubnet, previewNextCidr } from './carve.js';
export { onSubnetDeleted } from './ledger.js';
export type { PoolUsage, PoolView } from './pool.js';
export {
  type CreatePoolInput,
  createPool,
  deletePool,
  getPool,
  type ListPoolsQuery,
  listPools,
  MAX_POOL_PREFIXES,
} from './pools.js';
