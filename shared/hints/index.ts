/**
 * Blocks' hints: what each block's allocation items hold, derived from the table's
 * stream (issue 17). Stage 2 of docs/one-write-migration.md: the stream processor
 * writes them, when asked (`ProcessOptions.hints`), beside the blocks, which are
 * still the lock; nothing reads them but the checks that compare the two
 * (`compareHints`). From stage 3 the pickers read them instead of the blocks.
 *
 * | file         | what it does                                                      |
 * | ------------ | ----------------------------------------------------------------- |
 * | `derive.ts`  | an allocation item's change → its offset's hint (pure)            |
 * | `apply.ts`   | a batch's changes → one read and one conditional put per block    |
 * | `compare.ts` | hints against the blocks, after the stream has drained            |
 * | `settings.ts`| whether this deployment keeps hints (`IPAM_HINTS`)                |
 */
export { applyHints, type HintSource, hintItem } from './apply.js';
export { compareHints, type HintDifference } from './compare.js';
export {
  hintAfter,
  hintDifference,
  type ItemChange,
  type OffsetHint,
  offsetDifferences,
  offsetHint,
  sameHint,
} from './derive.js';
export { hintsWanted } from './settings.js';
