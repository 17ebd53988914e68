/**
 * Subnets: the record and its rules, how it is cut into blocks and shards, the
 * per-shard usage counters, and the operations (create, get, list, update, delete).
 *
 * | file          | what it holds                                                                  |
 * | ------------- | ------------------------------------------------------------------------------ |
 * | `subnets.ts`  | the operations, with race-free spaces (no two subnets of a space overlap)       |
 * | `subnet.ts`   | the Subnet model, its stored item and the API's SubnetView, usage               |
 * | `rules.ts`    | prefix limits, default gateway and allocation ranges, which addresses are usable |
 * | `geometry.ts` | 256-address blocks and ≤ 64 shards: where an address lives                       |
 * | `blocks.ts`   | a block item's taken offsets and leases                                         |
 * | `counters.ts` | per-shard usage counters, their recount after a configuration change           |
 * | `leases.ts`   | expired, not yet swept leases: left out of usage, freed by a subnet delete      |
 * | `leaseCoolDowns.ts` | a PATCH of the cool-down moves the cool-downs of running leases          |
 */

export { type Subnet, type SubnetView, subnetView, type Usage } from './subnet.js';
export {
  type CreateSubnetInput,
  createSubnet,
  deleteSubnet,
  findOverlap,
  getSubnet,
  insertSubnet,
  type ListSubnetsQuery,
  listSubnets,
  loadSubnet,
  type OnSubnetDeleted,
  type UpdateSubnetInput,
  updateSubnet,
} from './subnets.js';
