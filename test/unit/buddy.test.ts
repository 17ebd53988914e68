import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Cidr,
  cidrSize,
  formatCidr,
  type IpVersion,
  parseCidr,
} from '../../shared/net/address.js';
import {
  ancestorAt,
  BuddyFreeList,
  bestFit,
  blocksOverlap,
  buddiesUpTo,
  buddyOf,
  coalesce,
  compareFit,
  containsBlock,
  freeBlocksOf,
  holdersOf,
  lowestPart,
  subtract,
} from '../../shared/pools/buddy.js';
import { fitKey, fitKeyFloor } from '../../shared/store/keys.js';

const c = parseCidr;
const texts = (blocks: readonly Cidr[]) => blocks.map(formatCidr);

describe('buddy math', () => {
  it('finds buddies, ancestors and lowest parts', () => {
    expect(formatCidr(buddyOf(c('10.0.1.0/24')))).toBe('10.0.0.0/24');
    expect(formatCidr(buddyOf(c('10.0.0.0/24')))).toBe('10.0.1.0/24');
    expect(formatCidr(ancestorAt(c('10.0.1.16/28'), 16))).toBe('10.0.0.0/16');
    expect(formatCidr(lowestPart(c('10.0.4.0/22'), 26))).toBe('10.0.4.0/26');
    expect(formatCidr(buddyOf(c('2001:db8::/33')))).toBe('2001:db8:8000::/33');
  });

  it('subtracts a block, largest rests first', () => {
    expect(texts(subtract(c('10.0.0.0/22'), c('10.0.2.0/24')))).toEqual([
      '10.0.0.0/23',
      '10.0.3.0/24',
    ]);
    expect(subtract(c('10.0.0.0/24'), c('10.0.0.0/16'))).toEqual([]);
    expect(subtract(c('10.0.0.0/24'), c('10.0.0.0/24'))).toEqual([]);
    expect(texts(subtract(c('10.0.0.0/24'), c('10.0.1.0/24')))).toEqual(['10.0.0.0/24']);
  });

  it('coalesces with free buddies up to the root, no further', () => {
    const free = new Set(['10.0.1.0/24', '10.0.2.0/23', '10.1.0.0/16']);
    const isFree = (block: Cidr) => free.has(formatCidr(block));
    const { merged, absorbed } = coalesce(c('10.0.0.0/24'), 16, isFree);
    expect(formatCidr(merged)).toBe('10.0.0.0/22');
    expect(texts(absorbed)).toEqual(['10.0.1.0/24', '10.0.2.0/23']);
    // 10.1.0.0/16 is free, but the root is 10.0.0.0/16.
    expect(formatCidr(coalesce(c('10.0.0.0/16'), 16, isFree).merged)).toBe('10.0.0.0/16');
  });

  it('lists holders and buddies along the path', () => {
    expect(texts(holdersOf(c('10.0.1.0/24'), 22))).toEqual([
      '10.0.0.0/22',
      '10.0.0.0/23',
      '10.0.1.0/24',
    ]);
    expect(texts(buddiesUpTo(c('10.0.1.0/24'), 22))).toEqual(['10.0.0.0/24', '10.0.2.0/23']);
  });

  it('orders fit keys as best fit: smaller blocks first, then lower addresses', () => {
    expect(fitKey(c('10.0.1.0/24'))).toBe('008#0a000100');
    expect(fitKeyFloor(4, 24)).toBe('008#');
    expect(fitKey(c('2001:db8::/48'))).toBe('080#20010db8000000000000000000000000');
  });

  it('takes the best fit in the issue example', () => {
    const model = new BuddyFreeList([c('10.0.0.0/16')]);
    expect(formatCidr(model.carve(24)!)).toBe('10.0.0.0/24');
    expect(formatCidr(model.carve(28)!)).toBe('10.0.1.0/28');
    model.release(c('10.0.0.0/24'));
    expect(formatCidr(model.carve(28)!)).toBe('10.0.1.16/28');
    expect(formatCidr(model.carve(24)!)).toBe('10.0.0.0/24');
  });
});

/** One root per test case: a random block of the version, and carve lengths below it. */
const rootArb = fc.constantFrom<IpVersion>(4, 6).chain((version) => {
  const bits = version === 4 ? 32 : 128;
  return fc
    .record({
      prefixLength: fc.integer({ min: version === 4 ? 8 : 32, max: bits - 6 }),
      seed: fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }),
    })
    .map(({ prefixLength, seed }) =>
      ancestorAt({ version, network: seed, prefixLength }, prefixLength),
    );
});

type Op = { readonly carve: number } | { readonly release: number };
const opsArb: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 6 }).map((depth): Op => ({ carve: depth })) },
    { weight: 2, arbitrary: fc.nat().map((pick): Op => ({ release: pick })) },
  ),
  { maxLength: 40 },
);

describe('BuddyFreeList (property)', () => {
  it('stays the canonical free set, carves the best fit and never overlaps', () => {
    fc.assert(
      fc.property(rootArb, fc.boolean(), opsArb, (first, twoRoots, ops) => {
        const second = buddyOf(first);
        const roots = twoRoots ? [first, second] : [first];
        const model = new BuddyFreeList(roots);
        const taken: Cidr[] = [];
        for (const op of ops) {
          if ('carve' in op) {
            const length = first.prefixLength + op.carve;
            const expectedFit = bestFit(freeBlocksOf(roots, taken), length);
            const carved = model.carve(length);
            expect(carved).toEqual(
              expectedFit === undefined ? undefined : lowestPart(expectedFit, length),
            );
            if (carved !== undefined) taken.push(carved);
          } else if (taken.length > 0) {
            const [released] = taken.splice(op.release % taken.length, 1);
            model.release(released!);
          }
          expect(texts(model.blocks())).toEqual(texts(freeBlocksOf(roots, taken)));
        }
        for (const [i, a] of taken.entries()) {
          expect(roots.some((root) => containsBlock(root, a))).toBe(true);
          for (const b of taken.slice(i + 1)) expect(blocksOverlap(a, b)).toBe(false);
        }
        const free = model.blocks().reduce((sum, block) => sum + cidrSize(block), 0n);
        const used = taken.reduce((sum, block) => sum + cidrSize(block), 0n);
        expect(free + used).toBe(roots.reduce((sum, root) => sum + cidrSize(root), 0n));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the fit-key order equal to the best-fit order', () => {
    const blockArb = (version: IpVersion) =>
      fc
        .record({
          prefixLength: fc.integer({ min: 0, max: version === 4 ? 32 : 128 }),
          seed: fc.bigInt({ min: 0n, max: (1n << BigInt(version === 4 ? 32 : 128)) - 1n }),
        })
        .map(({ prefixLength, seed }) =>
          ancestorAt({ version, network: seed, prefixLength }, prefixLength),
        );
    fc.assert(
      fc.property(
        fc
          .constantFrom<IpVersion>(4, 6)
          .chain((version) => fc.tuple(blockArb(version), blockArb(version))),
        ([a, b]) => {
          const byKey = fitKey(a) < fitKey(b) ? -1 : fitKey(a) > fitKey(b) ? 1 : 0;
          expect(byKey).toBe(Math.sign(compareFit(a, b)));
          // The floor of a length is at most the key of every block that fits it.
          expect(fitKeyFloor(a.version, b.prefixLength) <= fitKey(a)).toBe(
            a.prefixLength <= b.prefixLength,
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('subtracts into disjoint blocks that fill the rest exactly', () => {
    fc.assert(
      fc.property(
        rootArb,
        fc.integer({ min: 0, max: 6 }),
        fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
        (block, depth, seed) => {
          const hostBits = BigInt((block.version === 4 ? 32 : 128) - block.prefixLength);
          const inside = { ...block, network: block.network + (seed % (1n << hostBits)) };
          const inner = ancestorAt(inside, block.prefixLength + depth);
          const rest = subtract(block, inner);
          expect(rest).toHaveLength(depth);
          for (const [i, part] of rest.entries()) {
            expect(containsBlock(block, part)).toBe(true);
            expect(blocksOverlap(part, inner)).toBe(false);
            for (const other of rest.slice(i + 1)) expect(blocksOverlap(part, other)).toBe(false);
          }
          const sum = rest.reduce((total, part) => total + cidrSize(part), cidrSize(inner));
          expect(sum).toBe(cidrSize(block));
        },
      ),
      { numRuns: 300 },
    );
  });
});
