/**
 * Option (a') of docs/one-write-allocation.md, checked over every interleaving: the
 * counter promises no fence before `stableUntil`, so a fast Put answered while the
 * writer's clock shows that moment ahead (less the clock bound ε) needs no read after
 * it; changers freeze the window and wait it out on their own clocks. Clocks are off
 * real time by up to ε, the worst way round: the writer's late, the changer's early.
 */
import { describe, expect, it } from 'vitest';
import { type Scenario, search, WITH_WINDOW } from '../support/oneWriteModel.js';

const NO_WAIT = { ...WITH_WINDOW, windowWait: false };
const NO_MARGIN = { ...WITH_WINDOW, windowSkew: false };
const ticks = (n: number) => Array.from({ length: n }, () => ({ kind: 'tick' as const }));

/** A delete while an allocation relies on the window. */
const deleteInWindow: Scenario = {
  items: [null, null],
  mode: 'fast',
  stableUntil: 2,
  procs: [
    { kind: 'allocate', id: 'A', address: 0, skew: -1 },
    { kind: 'delete', skew: 1 },
    ...ticks(3),
  ],
};

/** A seal of a nearly full shard while allocations rely on the window, which moves on. */
const sealInWindow: Scenario = {
  items: [null, 'h1', null],
  mode: 'fast',
  stableUntil: 2,
  procs: [
    { kind: 'allocate', id: 'A', address: 0, skew: -1 },
    { kind: 'allocate', id: 'B', address: 2, skew: 1 },
    { kind: 'seal', skew: 1 },
    { kind: 'extend' },
    { kind: 'checkFull' },
    ...ticks(3),
  ],
};

/** Pools that shrink while an allocation of the address they drop relies on the window. */
const poolsShrinkInWindow: Scenario = {
  items: [null, 'h1'],
  mode: 'fast',
  stableUntil: 2,
  procs: [
    { kind: 'allocate', id: 'A', address: 0, skew: -1 },
    { kind: 'patch', change: { pools: [1] }, skew: 1 },
    ...ticks(3),
  ],
};

describe('with the stability window, the protocol keeps its promises', () => {
  for (const [name, scenario] of Object.entries({
    deleteInWindow,
    sealInWindow,
    poolsShrinkInWindow,
  })) {
    it(name, () => {
      const result = search(scenario, WITH_WINDOW);
      expect(result.violation).toBeUndefined();
      // The window was used: on some path the allocation answered without a read.
      expect(result.answers).toContain('A:withoutRead');
    });
  }
});

describe('each part of the window is needed', () => {
  it('a changer that does not wait the window out fences under a writer that skipped its read', () => {
    expect(search(deleteInWindow, NO_WAIT).violation).toMatch(/deleted subnet/);
    expect(search(poolsShrinkInWindow, NO_WAIT).violation).toMatch(/forbade/);
  });

  it('a writer that trusts its clock without the bound ε skips its read too late', () => {
    expect(search(deleteInWindow, NO_MARGIN).violation).toMatch(/deleted subnet/);
  });
});
