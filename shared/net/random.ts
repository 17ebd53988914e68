/** Randomness for picking addresses: always the CSPRNG (never Math.random). */
import { randomBytes, randomInt } from 'node:crypto';

/** Uniform in [0, bound) from the CSPRNG, for bounds beyond randomInt's 2^48. */
export function randomBelow(bound: bigint): bigint {
  if (bound <= 0n) throw new RangeError('bound must be positive');
  if (bound <= 0xffff_ffff_ffffn) return BigInt(randomInt(Number(bound)));
  const bytes = Math.ceil(bound.toString(16).length / 2) + 1;
  const range = 1n << BigInt(bytes * 8);
  const limit = range - (range % bound);
  for (;;) {
    const value = BigInt(`0x${randomBytes(bytes).toString('hex')}`);
    if (value < limit) return value % bound;
  }
}

/** `count` distinct elements, uniformly (partial Fisher–Yates with the CSPRNG). */
export function sampleWithoutReplacement<T>(items: readonly T[], count: number): T[] {
  const pool = [...items];
  const take = Math.min(count, pool.length);
  for (let i = 0; i < take; i++) {
    const j = i + randomInt(pool.length - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, take);
}

/** One value drawn uniformly from the union of disjoint inclusive ranges (not empty). */
export function randomInRanges(ranges: readonly { start: bigint; end: bigint }[]): bigint {
  const total = ranges.reduce((sum, range) => sum + (range.end - range.start + 1n), 0n);
  return nthInRanges(ranges, randomBelow(total));
}

/** The `index`-th value (from 0) of disjoint inclusive ranges taken in order. */
export function nthInRanges(
  ranges: readonly { start: bigint; end: bigint }[],
  index: bigint,
): bigint {
  let rest = index;
  for (const range of ranges) {
    const size = range.end - range.start + 1n;
    if (rest < size) return range.start + rest;
    rest -= size;
  }
  throw new RangeError('index beyond the ranges');
}
