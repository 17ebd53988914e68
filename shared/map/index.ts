/**
 * The address map (`GET /subnets/{subnetId}/map`, API.md "Address map"): a subnet
 * drawn as at most 256 cells a view, zoomed by a path of cell indexes; counts of
 * small cells read from block items, of large ones from summaries the stream
 * processor keeps.
 *
 * | file            | what it holds                                                              |
 * | --------------- | -------------------------------------------------------------------------- |
 * | `view.ts`       | the path → the view's first address, cell count and size; its 400s         |
 * | `tree.ts`       | the summary levels over the blocks: a block's ancestors, a sum's children  |
 * | `kinds.ts`      | what holds a taken offset now: allocated, leased, quarantined, expired     |
 * | `exact.ts`      | counts (and one address's state) straight from block items, at one instant |
 * | `blockReads.ts` | the blocks of a view: a Query per shard or BatchGets, whichever is fewer   |
 * | `summaries.ts`  | a summary's counts and validity span; block → summary; sums; reads         |
 * | `cells.ts`      | large cells from summaries, going below where they cannot answer alone     |
 * | `map.ts`        | `subnetMap`, the route's read                                              |
 * | `refresh.ts`    | the stream processor's writes: block summaries, then the sums above them;  |
 * |                 | the audit's rebuild of a block's summary, with the same sums above it      |
 */
export { type AddressMap, type MapCell, subnetMap } from './map.js';
export {
  type BlockImage,
  type MapTally,
  rebuildBlockSummary,
  recomputeSums,
  refreshSummaries,
} from './refresh.js';
export { hasSummaries } from './tree.js';
