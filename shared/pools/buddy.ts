/**
 * Buddy-style free-block math for subnet pools: pure, no storage.
 *
 * A pool's free space is a set of **free blocks**: aligned CIDRs, pairwise disjoint,
 * each inside one of the pool's prefixes (its **root**). The set is kept
 * **canonical**: two free buddies (the two halves of one parent) inside the same root
 * are always merged into their parent. Then every aligned block whose addresses are
 * all free lies inside a single free block, so "is this CIDR free?" and "where is the
 * best fit?" are questions about single blocks.
 *
 * - **Carve** a prefix length L: take the smallest free block of length ≤ L (best
 *   fit), the lowest address among equals; keep its lowest L-block and free the
 *   buddies left over on the way down (`subtract`).
 * - **Release** a block: merge it with its buddy while the buddy is free and the
 *   parent stays inside the root (`coalesce`).
 *
 * `BuddyFreeList` is the in-memory twin of the stored structure (ledger.ts):
 * the same functions drive both, and the tests hold the table to it.
 */
import { bitLength, type Cidr, cidrLast, cidrSize } from '../net/address.js';
import { fitKey } from '../store/keys.js';

/** Whether `inner` lies inside `outer` (or is it). */
export function containsBlock(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.version === inner.version &&
    outer.prefixLength <= inner.prefixLength &&
    outer.network <= inner.network &&
    inner.network <= cidrLast(outer)
  );
}

/** Whether two blocks share an address (aligned blocks: one then contains the other). */
export function blocksOverlap(a: Cidr, b: Cidr): boolean {
  return containsBlock(a, b) || containsBlock(b, a);
}

/** The block of length `prefixLength` that holds `block` (its ancestor, or itself). */
export function ancestorAt(block: Cidr, prefixLength: number): Cidr {
  const hostBits = BigInt(bitLength(block.version) - prefixLength);
  return { version: block.version, network: (block.network >> hostBits) << hostBits, prefixLength };
}

/** The other half of the block's parent. */
export function buddyOf(block: Cidr): Cidr {
  return { ...block, network: block.network ^ cidrSize(block) };
}

/** The lowest block of length `prefixLength` inside `block`. */
export function lowestPart(block: Cidr, prefixLength: number): Cidr {
  return { version: block.version, network: block.network, prefixLength };
}

/**
 * `block` minus `taken` as aligned blocks, largest first: nothing when `taken`
 * covers `block`, `[block]` when they are disjoint, otherwise the buddies met on the
 * way down from `block` to `taken` (one per level).
 */
export function subtract(block: Cidr, taken: Cidr): Cidr[] {
  if (containsBlock(taken, block)) return [];
  if (!containsBlock(block, taken)) return [block];
  const rest: Cidr[] = [];
  for (let length = block.prefixLength + 1; length <= taken.prefixLength; length++) {
    rest.push(buddyOf(ancestorAt(taken, length)));
  }
  return rest;
}

/**
 * The free blocks that releasing `block` merges with, and the block they make:
 * climbs while the buddy is free and the parent is no shorter than `rootLength`.
 */
export function coalesce(
  block: Cidr,
  rootLength: number,
  isFree: (candidate: Cidr) => boolean,
): { merged: Cidr; absorbed: Cidr[] } {
  let merged = block;
  const absorbed: Cidr[] = [];
  while (merged.prefixLength > rootLength) {
    const buddy = buddyOf(merged);
    if (!isFree(buddy)) break;
    absorbed.push(buddy);
    merged = ancestorAt(merged, merged.prefixLength - 1);
  }
  return { merged, absorbed };
}

/** The buddies `coalesce` may ask about, from `block`'s own up to the root's halves. */
export function buddiesUpTo(block: Cidr, rootLength: number): Cidr[] {
  const buddies: Cidr[] = [];
  for (let length = block.prefixLength; length > rootLength; length--) {
    buddies.push(buddyOf(ancestorAt(block, length)));
  }
  return buddies;
}

/** Every block that may hold `block` as a free block: its ancestors down to the root, and itself. */
export function holdersOf(block: Cidr, rootLength: number): Cidr[] {
  const holders: Cidr[] = [];
  for (let length = rootLength; length <= block.prefixLength; length++) {
    holders.push(ancestorAt(block, length));
  }
  return holders;
}

/** Best-fit order: smaller blocks (longer prefixes) first, then lower addresses. */
export function compareFit(a: Cidr, b: Cidr): number {
  if (a.prefixLength !== b.prefixLength) return b.prefixLength - a.prefixLength;
  return a.network < b.network ? -1 : a.network > b.network ? 1 : 0;
}

/** The best-fit block for `prefixLength` among `blocks`, if any fits. */
export function bestFit(blocks: Iterable<Cidr>, prefixLength: number): Cidr | undefined {
  let best: Cidr | undefined;
  for (const block of blocks) {
    if (block.prefixLength > prefixLength) continue;
    if (best === undefined || compareFit(block, best) < 0) best = block;
  }
  return best;
}

/**
 * The canonical free set of `roots` minus `taken`, computed from scratch: for a new
 * pool over a space that already has subnets, and as the tests' oracle.
 */
export function freeBlocksOf(roots: readonly Cidr[], taken: readonly Cidr[]): Cidr[] {
  const free: Cidr[] = [];
  const visit = (block: Cidr, near: readonly Cidr[]): void => {
    const inside = near.filter((other) => blocksOverlap(block, other));
    if (inside.length === 0) free.push(block);
    else if (!inside.some((other) => containsBlock(other, block))) {
      const low = lowestPart(block, block.prefixLength + 1);
      visit(low, inside);
      visit(buddyOf(low), inside);
    }
  };
  for (const root of roots) visit(root, taken);
  return free.sort(compareFit);
}

/** An in-memory canonical free set over `roots`: the reference model of a pool. */
export class BuddyFreeList {
  readonly #roots: readonly Cidr[];
  readonly #free = new Map<string, Cidr>();

  constructor(roots: readonly Cidr[]) {
    this.#roots = roots;
    for (const root of roots) this.#free.set(fitKey(root), root);
  }

  /** The free blocks in best-fit order. */
  blocks(): Cidr[] {
    return [...this.#free.values()].sort(compareFit);
  }

  /** Takes the lowest block of `prefixLength` from the best fit; undefined when none fits. */
  carve(prefixLength: number): Cidr | undefined {
    const fit = bestFit(this.#free.values(), prefixLength);
    if (fit === undefined) return undefined;
    const taken = lowestPart(fit, prefixLength);
    this.take(taken);
    return taken;
  }

  /** Takes exactly `block`; false (and nothing changes) unless it is entirely free. */
  take(block: Cidr): boolean {
    const holder = this.holderOf(block);
    if (holder === undefined) return false;
    this.#free.delete(fitKey(holder));
    for (const rest of subtract(holder, block)) this.#free.set(fitKey(rest), rest);
    return true;
  }

  /** Gives back a block that was taken (it must be, and lie inside a root). */
  release(block: Cidr): void {
    const root = this.#roots.find((candidate) => containsBlock(candidate, block));
    if (root === undefined) throw new RangeError('The block lies in no root.');
    const { merged, absorbed } = coalesce(block, root.prefixLength, (buddy) =>
      this.#free.has(fitKey(buddy)),
    );
    for (const buddy of absorbed) this.#free.delete(fitKey(buddy));
    this.#free.set(fitKey(merged), merged);
  }

  /** The free block holding `block`, if it is entirely free. */
  holderOf(block: Cidr): Cidr | undefined {
    const root = this.#roots.find((candidate) => containsBlock(candidate, block));
    if (root === undefined) return undefined;
    return holdersOf(block, root.prefixLength)
      .map((holder) => this.#free.get(fitKey(holder)))
      .find((found) => found !== undefined);
  }
}
