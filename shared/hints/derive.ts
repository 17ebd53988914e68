/**
 * From an allocation item's change to what its block's hint says of its offset —
 * pure, so a redelivered change derives the same. The item is the address's truth
 * (shared/subnets/holding.ts): while it exists it holds the offset, until its `ttl`
 * (`x<o>`), cooling from its `coolFrom` (`q<o>`); the hint mirrors exactly that, in
 * the block layout of shared/subnets/blocks.ts, so a picker reads a hint as it reads
 * a block. An ended lease or a tombstone stays in the hint until the item goes: as
 * in a block, `x<o>` <= now makes it free to the picker.
 */
import { parseAllocationSort } from '../store/keys.js';
import { coolingAttribute, leaseAttribute } from '../subnets/blocks.js';
import { type Geometry, type Position, positionOf } from '../subnets/geometry.js';

/** One allocation item's change as the stream gave it (the processor's record, narrowed). */
export interface ItemChange {
  readonly pk: string;
  readonly sk: string;
  readonly sequenceNumber: string;
  /** The item after the change; undefined when it was deleted. */
  readonly newImage: Readonly<Record<string, unknown>> | undefined;
}

/** What the hint says of one offset after a change. */
export interface OffsetHint {
  readonly pos: Position;
  readonly sequenceNumber: string;
  /** The offset is held (an item exists), with its `x<o>` and `q<o>` when it has them. */
  readonly held: boolean;
  readonly freeAt?: number;
  readonly coolFrom?: number;
}

/** The offset's hint after `change`, in the subnet of geometry `g`. */
export function offsetHint(g: Geometry, change: ItemChange): OffsetHint {
  const pos = positionOf(g, parseAllocationSort(change.sk));
  const image = change.newImage;
  if (image === undefined) return { pos, sequenceNumber: change.sequenceNumber, held: false };
  return {
    pos,
    sequenceNumber: change.sequenceNumber,
    held: true,
    ...(typeof image.ttl === 'number' ? { freeAt: image.ttl } : {}),
    ...(typeof image.coolFrom === 'number' ? { coolFrom: image.coolFrom } : {}),
  };
}

/**
 * A hint's attributes after `hints` (in stream order) over `stored` (none: an empty
 * hint): `u` (taken offsets), `x<o>`, `q<o>`.
 */
export function hintAfter(
  stored: Record<string, unknown> | undefined,
  hints: readonly OffsetHint[],
): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  const used = new Set<number>();
  for (const [name, value] of Object.entries(stored ?? {})) {
    if (name === 'u' && value instanceof Set) for (const o of value) used.add(Number(o));
    else if (/^[xq]\d+$/.test(name)) attributes[name] = value;
  }
  for (const hint of hints) {
    const offset = hint.pos.offset;
    delete attributes[leaseAttribute(offset)];
    delete attributes[coolingAttribute(offset)];
    if (!hint.held) {
      used.delete(offset);
      continue;
    }
    used.add(offset);
    if (hint.freeAt !== undefined) attributes[leaseAttribute(offset)] = hint.freeAt;
    if (hint.coolFrom !== undefined) attributes[coolingAttribute(offset)] = hint.coolFrom;
  }
  return { type: 'hint', ...(used.size > 0 ? { u: used } : {}), ...attributes };
}

/** Whether two hints say the same of every offset (`u`, and each held offset's `x<o>`, `q<o>`). */
export function sameHint(stored: Record<string, unknown>, next: Record<string, unknown>): boolean {
  return hintDifference(stored, next) === '';
}

/**
 * The offsets on which two hints differ, each as `<o>:<a says>><b says>` (`free`, or
 * `x/q` of a held offset, `-` where it has none), space-separated; empty when they
 * say the same. Stable, so it names a disagreement (the audit's sighting of it).
 */
export function hintDifference(a: Record<string, unknown>, b: Record<string, unknown>): string {
  return offsetDifferences(a, b)
    .map(({ offset, a: first, b: second }) => `${offset}:${first}>${second}`)
    .join(' ');
}

/** The offsets on which two hints differ, in order, with what each says of them. */
export function offsetDifferences(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
): { offset: number; a: string; b: string }[] {
  const says = (item: Record<string, unknown>) => {
    const used = item.u instanceof Set ? [...item.u].map(Number) : [];
    return new Map(
      used.map((o) => [o, `${item[leaseAttribute(o)] ?? '-'}/${item[coolingAttribute(o)] ?? '-'}`]),
    );
  };
  const [first, second] = [says(a), says(b)];
  return [...new Set([...first.keys(), ...second.keys()])]
    .sort((x, y) => x - y)
    .filter((o) => first.get(o) !== second.get(o))
    .map((o) => ({ offset: o, a: first.get(o) ?? 'free', b: second.get(o) ?? 'free' }));
}
