/**
 * The one-write protocol across two shards (test/support/oneWriteShards.ts): a `count`
 * request for one address in each shard, written as one TransactWriteItems, beside a
 * delete, a PATCH of the pools, a seal and readers; and "full?" reading the counters.
 */
import { describe, expect, it } from 'vitest';
import {
  type Addr,
  SHARDS_AS_PAGE,
  SHARDS_PROTOCOL,
  type ShardsScenario,
  searchShards,
} from '../support/oneWriteShards.js';

const both: readonly Addr[] = [
  [0, 0],
  [1, 0],
];
const count = { kind: 'count' as const, id: 'C', addresses: both };
const read = (address: Addr) => ({ kind: 'read' as const, address });

/** A delete of an empty subnet while a count request writes in both its shards. */
const deleteCount: ShardsScenario = {
  shards: [
    { items: [null], mode: 'fast' },
    { items: [null], mode: 'fast' },
  ],
  procs: [count, { kind: 'delete' }, read([0, 0]), read([1, 0])],
};

/** The pools shrink past one of the request's two addresses (shard 1's), not the other. */
const poolsSplit: ShardsScenario = {
  shards: [
    { items: [null], mode: 'fast' },
    { items: [null, 'h'], mode: 'fast' },
  ],
  procs: [count, { kind: 'patch', pools: [[0], [1]] }, read([0, 0]), read([1, 0]), read([0, 0])],
};

/** Shard 0 fast (and sealed meanwhile), shard 1 exact: a delete, or the pools shrinking. */
const mixed = (change: ShardsScenario['procs'][number]): ShardsScenario => ({
  shards: [
    { items: [null, 'h0'], mode: 'fast' },
    { items: [null, 'h1'], mode: 'exact', free: [0] },
  ],
  procs: [count, change, { kind: 'seal', shard: 0 }, read([0, 0]), read([1, 0])],
});
const mixedDelete = mixed({ kind: 'delete' });
const mixedPatch = mixed({ kind: 'patch', pools: [[0, 1], [1]] });

/**
 * "Full?" while shard 0's only address is released and shard 1's only free one taken:
 * some address is free at every moment, but each counter, when read, shows its shard full.
 */
const fullAcross: ShardsScenario = {
  shards: [
    { items: ['h0'], mode: 'exact', free: [] },
    { items: [null], mode: 'exact', free: [0] },
  ],
  procs: [
    { kind: 'checkFull' },
    { kind: 'release', id: 'h0', address: [0, 0] },
    { kind: 'count', id: 'A', addresses: [[1, 0]] },
  ],
};

/**
 * The same with churn enough to fool a double collect: each shard in turn is full when
 * read, and never both at once (0:0 and 1:0 are taken and released by turns).
 */
const fullChurn: ShardsScenario = {
  ...fullAcross,
  procs: [
    ...fullAcross.procs,
    { kind: 'release', id: 'A', address: [1, 0] },
    { kind: 'count', id: 'B', addresses: [[0, 0]] },
    { kind: 'release', id: 'B', address: [0, 0] },
    { kind: 'count', id: 'D', addresses: [[1, 0]] },
  ],
};

const PHANTOM = /which it then undid|answered as not made/;
/** The steps appear in the trace in this order (other processes' steps between them). */
const inOrder = (trace: readonly string[] | undefined, steps: readonly string[]) => {
  let at = 0;
  for (const t of trace ?? []) if (t === steps[at]) at += 1;
  return at === steps.length;
};
const heldByC = (answers: readonly string[]) => answers.some((a) => /^read\d:held:C$/.test(a));

describe('a count request across two shards', () => {
  describe('all or nothing, as readers see it', () => {
    it('a delete decides the whole request: readers see both items or neither', () => {
      for (const variant of [SHARDS_PROTOCOL, SHARDS_AS_PAGE]) {
        const result = searchShards(deleteCount, variant);
        expect(result.violation).toBeUndefined();
        expect(heldByC(result.answers)).toBe(true);
        expect(result.answers).toEqual(expect.arrayContaining(['C:ok', 'C:notFound']));
      }
    });

    it('per-item readers show the item the new pools allow, and the request is undone for its sibling', () => {
      const result = searchShards(poolsSplit, SHARDS_AS_PAGE);
      expect(result.violation).toMatch(PHANTOM);
      // C decides on pv 1; the PATCH and its recount come and go; C's Puts land (shard 1's
      // unstamped); a reader shows 0:0 (allowed by the new pools) held by C; C reads pv 2,
      // finds 1:0 forbidden and unstamped, and undoes the whole request.
      const steps = ['C.start', 'patch1.start', 'patch1.recounted#1', 'C.write#0', 'read2.start'];
      expect(inOrder(result.trace, [...steps, 'read2.subnet#0', 'C.undo#2'])).toBe(true);
    });

    it('readers that judge an item by its forbidden siblings see no phantom', () => {
      for (const readAfter of ['one', 'everyFast'] as const) {
        const result = searchShards(poolsSplit, { ...SHARDS_PROTOCOL, readAfter });
        expect(result.violation).toBeUndefined();
        expect(heldByC(result.answers)).toBe(true);
        expect(result.answers).toEqual(expect.arrayContaining(['C:ok', 'C:retry']));
      }
    });

    it('a request that crashes before its undo leaves it to the audit; readers hide it, for good', () => {
      const result = searchShards({ ...poolsSplit, crashes: ['C'] }, SHARDS_PROTOCOL);
      expect(result.violation).toBeUndefined();
      expect(result.answers).toEqual(expect.arrayContaining(['C:crashed', 'C:retry']));
    });
  });

  describe('which counters it reads after its commit', () => {
    it('one counter is enough when every shard is fast: delete and PATCH are subnet-wide', () => {
      for (const scenario of [deleteCount, poolsSplit])
        expect(searchShards(scenario, SHARDS_PROTOCOL).violation).toBeUndefined();
    });

    it('and not none: without a read, a Put after the delete’s query is answered as made', () => {
      const result = searchShards(deleteCount, { ...SHARDS_PROTOCOL, readAfter: 'none' });
      expect(result.violation).toMatch(/C answered an allocation in a deleted subnet/);
    });

    it('none when the transaction wrote an exact shard’s counter (its conditions read it)', () => {
      for (const scenario of [mixedDelete, mixedPatch]) {
        const result = searchShards(scenario, SHARDS_PROTOCOL);
        expect(result.violation).toBeUndefined();
        expect(result.answers).toEqual(expect.arrayContaining(['C:ok', 'C:retry']));
      }
      expect(searchShards(mixedDelete).answers).toContain('C:notFound');
    });
  });
});

describe('"full?" across two shards', () => {
  it('counter by counter (BatchGetItem) it can answer exhausted while an address was always free', () => {
    const result = searchShards(fullAcross, SHARDS_AS_PAGE);
    expect(result.violation).toMatch(/SUBNET_EXHAUSTED while some address was free/);
    // Counter 0 read (full; 1:0 free), h0 released (0:0 free), A takes 1:0 (0:0 still
    // free), counter 1 read (full): no moment of the call had every address held.
    const steps = ['checkFull0.start', 'checkFull0.counter#0', 'h0.start', 'A.write#0'];
    expect(inOrder(result.trace, [...steps, 'checkFull0.counter#1'])).toBe(true);
  });

  it('reading the counters twice over does not help: each may be full when read, never both', () => {
    const result = searchShards(fullChurn, { ...SHARDS_PROTOCOL, fullRead: 'twice' });
    expect(result.violation).toMatch(/SUBNET_EXHAUSTED while some address was free/);
  });

  it('in one TransactGetItems it answers exhausted only at a moment when all is held', () => {
    for (const scenario of [fullAcross, fullChurn])
      expect(searchShards(scenario, SHARDS_PROTOCOL).violation).toBeUndefined();
    const result = searchShards(fullAcross, SHARDS_PROTOCOL);
    expect(result.answers).toEqual(
      expect.arrayContaining(['checkFull0:full', 'checkFull0:notFull']),
    );
  });
});
