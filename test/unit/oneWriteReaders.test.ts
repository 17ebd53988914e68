/**
 * Readers of the one-write protocol (docs/one-write-allocation.md): a strongly
 * consistent GET of one address's allocation, beside fast Puts that a change makes
 * their writers undo. What linearizability asks (test/support/oneWriteModel.ts): a
 * reader never shows an allocation by a request that answers it as not made (`retry`,
 * `notFound`), and never hides an item it has shown while that item is still live.
 * The page as written breaks the first in every kind of change; its sketch (stamps by
 * the recount, readers hide unstamped items) breaks both; the rules of `phantoms:
 * 'decide'` keep them.
 */
import { describe, expect, it } from 'vitest';
import {
  PROTOCOL,
  READERS_DECIDE,
  type Scenario,
  search,
  WITH_WINDOW,
} from '../support/oneWriteModel.js';

const SKETCH = { ...PROTOCOL, phantoms: 'stamp' as const };
const SKETCH_ITEM_FIRST = { ...SKETCH, readerItemFirst: true };
const DECIDE_SUBNET_FIRST = { ...READERS_DECIDE, readerItemFirst: false };
const read = (address: number) => ({ kind: 'read' as const, address });

/** A delete of an empty subnet while an allocation is made in it, and two readers. */
const deleteRead: Scenario = {
  items: [null, null],
  mode: 'fast',
  procs: [{ kind: 'allocate', id: 'A', address: 0 }, { kind: 'delete' }, read(0), read(0)],
};

/** The same with a live allocation released meanwhile (the delete may answer inUse). */
const deleteInUse: Scenario = {
  items: [null, 'h1'],
  mode: 'fast',
  procs: [
    { kind: 'allocate', id: 'A', address: 0 },
    { kind: 'release', id: 'h1', address: 1 },
    { kind: 'delete' },
    read(0),
    read(0),
  ],
};

/** Pools shrink under an allocation of the address they drop, read twice. */
const poolsLate: Scenario = {
  items: [null, 'h1'],
  mode: 'fast',
  procs: [
    { kind: 'allocate', id: 'A', address: 0 },
    { kind: 'patch', change: { pools: [1] } },
    read(0),
    read(0),
  ],
};

/** Pools shrink past a legitimate allocation (h0, kept) and a fresh one (A). */
const poolsKeep: Scenario = {
  items: ['h0', null, 'h2'],
  mode: 'fast',
  procs: [
    { kind: 'allocate', id: 'A', address: 1 },
    { kind: 'patch', change: { pools: [2] } },
    read(0),
    read(0),
    read(1),
  ],
};

/** A specific allocation of 1 while the gateway moves to 1. */
const gatewayMove: Scenario = {
  items: [null, null],
  mode: 'fast',
  pools: [0],
  procs: [
    { kind: 'allocate', id: 'A', address: 1, specific: true },
    { kind: 'patch', change: { gateway: 1 } },
    read(1),
    read(1),
  ],
};

/** A lease written under the old reuse delay while a PATCH sets a new one. */
const delayChange: Scenario = {
  items: [{ holder: 'h0', freeAt: 3, delay: 0 }, null],
  mode: 'fast',
  procs: [
    { kind: 'allocate', id: 'A', address: 1, lease: 2 },
    { kind: 'patch', change: { delay: 2 } },
    read(1),
    read(0),
    read(0),
  ],
};

/** Option (a'): a delete and a shrink of the pools beside a writer that trusts the window. */
const deleteInWindow: Scenario = {
  items: [null, null],
  mode: 'fast',
  stableUntil: 2,
  procs: [
    { kind: 'allocate', id: 'A', address: 0, skew: -1 },
    { kind: 'delete', skew: 1 },
    read(0),
    { kind: 'tick' },
    { kind: 'tick' },
    { kind: 'tick' },
  ],
};
const poolsInWindow: Scenario = {
  items: [null, 'h1'],
  mode: 'fast',
  stableUntil: 2,
  procs: [
    { kind: 'allocate', id: 'A', address: 0, skew: -1 },
    { kind: 'patch', change: { pools: [1] }, skew: 1 },
    read(0),
    read(0),
    { kind: 'tick' },
    { kind: 'tick' },
    { kind: 'tick' },
  ],
};

const PHANTOM = /which it then undid|answered as not made/;
const UNSTABLE = /then a later one (free|404) while it was live/;

describe('readers of the page as written see phantoms', () => {
  it('a delete: a Put after its query is shown held, then undone (notFound)', () => {
    expect(search(deleteRead).violation).toMatch(PHANTOM);
  });

  it('pools shrink, the gateway moves, the reuse delay changes: a late Put is shown held, then undone (retry)', () => {
    for (const scenario of [poolsLate, gatewayMove, delayChange])
      expect(search(scenario).violation).toMatch(PHANTOM);
  });

  it('option (a′) too: a writer past its window reads the new pv and undoes what a reader saw', () => {
    expect(search(poolsInWindow, WITH_WINDOW).violation).toMatch(PHANTOM);
  });
});

describe("the page's sketch (the recount stamps, readers hide unstamped items) is not enough", () => {
  it('between the PATCH and its recount a reader hides a legitimate item another was shown', () => {
    expect(search(poolsKeep, SKETCH).violation).toMatch(UNSTABLE);
    expect(search(poolsKeep, SKETCH_ITEM_FIRST).violation).toMatch(UNSTABLE);
  });

  it('a late Put the recount stamped is shown held, and its writer undoes it anyway', () => {
    expect(search(poolsLate, SKETCH_ITEM_FIRST).violation).toMatch(PHANTOM);
    expect(search(delayChange, SKETCH_ITEM_FIRST).violation).toMatch(PHANTOM);
  });

  it('a delete: "the subnet gone" comes after the query, and a Put may land in between', () => {
    expect(search(deleteRead, SKETCH_ITEM_FIRST).violation).toMatch(PHANTOM);
  });

  it('it does hold for a gateway move, if the reader reads the item before the subnet', () => {
    expect(search(gatewayMove, SKETCH).violation).toMatch(PHANTOM);
    expect(search(gatewayMove, SKETCH_ITEM_FIRST).violation).toBeUndefined();
  });
});

describe('with the change deciding (phantoms: decide), readers see no phantom', () => {
  for (const [name, [scenario, variant]] of Object.entries({
    deleteRead: [deleteRead, READERS_DECIDE],
    deleteInUse: [deleteInUse, READERS_DECIDE],
    poolsLate: [poolsLate, READERS_DECIDE],
    poolsKeep: [poolsKeep, READERS_DECIDE],
    gatewayMove: [gatewayMove, READERS_DECIDE],
    delayChange: [delayChange, READERS_DECIDE],
    deleteInWindow: [deleteInWindow, { ...WITH_WINDOW, readerItemFirst: true, phantoms: 'decide' }],
    poolsInWindow: [poolsInWindow, { ...WITH_WINDOW, readerItemFirst: true, phantoms: 'decide' }],
  } as const)) {
    it(name, () => {
      const result = search(scenario, variant);
      expect(result.violation).toBeUndefined();
      // Readers saw the allocation on some path, and it was undone on another.
      expect(result.answers.some((a) => /^read\d+:held:A$/.test(a))).toBe(true);
      expect(result.answers.some((a) => /^A:(retry|notFound)$/.test(a))).toBe(true);
    });
  }

  it('only if readers read the allocation item before the subnet and its counter', () => {
    for (const scenario of [deleteRead, poolsLate, gatewayMove])
      expect(search(scenario, DECIDE_SUBNET_FIRST).violation).toMatch(PHANTOM);
  });
});
