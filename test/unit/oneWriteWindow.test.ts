/**
 * Option (a') of docs/one-write-allocation.md, checked over every interleaving: the
 * counter promises no fence before `stableUntil`, so a fast Put answered while the
 * writer's clock shows that moment ahead (less the clock bound ε) needs no read after
 * it; changers freeze the window and wait it out on their own clocks. Clocks are off
 * real time by up to ε, the worst way round: the writer's late, the changer's early.
 */
import { describe, expect, it } from 'vitest';
import { PROTOCOL, type Scenario, search, WITH_WINDOW } from '../support/oneWriteModel.js';

// Without the wait the fence's own check would still hold it back: both go.
const NO_WAIT = { ...WITH_WINDOW, windowWait: false, fenceChecksWindow: false };
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

/**
 * A fast Put with a lease answered in the window after a seal's query: the free set
 * lists its address, an exact write finds the item live and drops it from the set, and
 * nobody lowers `soon` for the lease (its writer skipped the read and its reconcile).
 */
const leaseLateUnderSeal: Scenario = {
  items: [null, 'h1'],
  mode: 'fast',
  stableUntil: 4,
  procs: [
    { kind: 'allocate', id: 'A', address: 0, lease: 1 },
    { kind: 'seal' },
    { kind: 'allocate', id: 'B', address: 0 },
    { kind: 'checkFull' },
    ...ticks(2),
  ],
};

/** The same with the holder renewing its lease: a seal need not wait with renewals either. */
const renewalsUnderSeal: Scenario = {
  ...leaseLateUnderSeal,
  procs: [
    { kind: 'allocate', id: 'A', address: 0, lease: 1 },
    { kind: 'renew', id: 'A', address: 0, lease: 1 },
    { kind: 'seal' },
    { kind: 'allocate', id: 'B', address: 0 },
    { kind: 'checkFull' },
    ...ticks(2),
  ],
};

/**
 * An allocator that decided on a cached subnet view moves the window on itself and
 * trusts the `stableUntil` it set, while a PATCH drops the address it picked.
 */
const ownExtension: Scenario = {
  items: [null, 'h1'],
  mode: 'fast',
  stableUntil: 1,
  procs: [
    { kind: 'allocate', id: 'A', address: 0, extends: true },
    { kind: 'patch', change: { pools: [1] }, skew: 1 },
    ...ticks(3),
  ],
};

/**
 * A delete waiting out the window while the audit removes freezes (it takes the delete's
 * for a crashed changer's) and an allocator moves the window on.
 */
const thawedWhileWaiting: Scenario = {
  ...deleteInWindow,
  procs: [
    { kind: 'allocate', id: 'A', address: 0, skew: -1 },
    { kind: 'delete', skew: 1 },
    { kind: 'thaw' },
    { kind: 'extend' },
    ...ticks(5),
  ],
};

/** A PATCH that stops for good after freezing the window. */
const changerCrashesFrozen: Scenario = {
  items: [null, 'h1'],
  mode: 'fast',
  stableUntil: 1,
  procs: [
    { kind: 'allocate', id: 'A', address: 0 },
    { kind: 'patch', id: 'P', change: { pools: [1] } },
    ...ticks(3),
  ],
  crashes: ['P'],
};

/** A PATCH and a delete at once, an allocator moving the window on itself, another not. */
const twoChangers: Scenario = {
  items: [null, 'h1'],
  mode: 'fast',
  stableUntil: 2,
  procs: [
    { kind: 'allocate', id: 'A', address: 0, skew: -1, extends: true },
    { kind: 'patch', change: { pools: [1] }, skew: 1 },
    { kind: 'delete', skew: 1 },
    { kind: 'extend' },
    ...ticks(4),
  ],
};

/** A seal and an unseal (no wait, no freeze), the window moved on, then a delete. */
const unsealInWindow: Scenario = {
  items: [null, 'h1'],
  mode: 'fast',
  stableUntil: 2,
  procs: [
    { kind: 'allocate', id: 'A', address: 0, skew: -1, lease: 1 },
    { kind: 'seal' },
    { kind: 'unseal' },
    { kind: 'extend' },
    { kind: 'delete', skew: 1 },
    ...ticks(3),
  ],
};

/** Finer time: ε = 2 ticks, a window of 4, clocks off by up to 2 either way. */
const deleteFineTicks: Scenario = {
  items: [null, null],
  mode: 'fast',
  stableUntil: 4,
  epsilon: 2,
  window: 4,
  procs: [
    { kind: 'allocate', id: 'A', address: 0, skew: -2 },
    { kind: 'delete', skew: 2 },
    { kind: 'extend', skew: 1 },
    ...ticks(7),
  ],
};
const poolsShrinkFineTicks: Scenario = {
  items: [null, 'h1'],
  mode: 'fast',
  stableUntil: 4,
  epsilon: 2,
  window: 4,
  procs: [
    { kind: 'allocate', id: 'A', address: 0, skew: -2, extends: true },
    { kind: 'patch', change: { pools: [1] }, skew: 2 },
    { kind: 'allocate', id: 'C', address: 0, skew: 1 },
    ...ticks(7),
  ],
};

describe('with the stability window, the protocol keeps its promises', () => {
  for (const [name, scenario] of Object.entries({
    deleteInWindow,
    sealInWindow,
    poolsShrinkInWindow,
    leaseLateUnderSeal,
    renewalsUnderSeal,
    ownExtension,
    thawedWhileWaiting,
    twoChangers,
    unsealInWindow,
    deleteFineTicks,
    poolsShrinkFineTicks,
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

describe('what the page as written misses (review 2)', () => {
  it('an exact write that finds a late leased Put must lower soon: nobody else will', () => {
    const flawed = { ...WITH_WINDOW, exactFixLowersSoon: false };
    expect(search(leaseLateUnderSeal, flawed).violation).toMatch(/misses free address 0/);
    expect(search(renewalsUnderSeal, flawed).violation).toMatch(/misses free address 0/);
    // Option (a) too: a slow writer's lease can end before its reconcile.
    expect(
      search(leaseLateUnderSeal, { ...PROTOCOL, exactFixLowersSoon: false }).violation,
    ).toMatch(/SUBNET_EXHAUSTED while address 0 is free/);
    expect(search(leaseLateUnderSeal, PROTOCOL).violation).toBeUndefined();
  });

  it("an allocator's own extension confirms its view only if it checks pv", () => {
    expect(search(ownExtension, { ...WITH_WINDOW, extendChecksPv: false }).violation).toMatch(
      /forbade/,
    );
  });

  it('a freeze removed under a waiting changer is safe only if its fence checks the window', () => {
    expect(
      search(thawedWhileWaiting, { ...WITH_WINDOW, fenceChecksWindow: false }).violation,
    ).toMatch(/deleted subnet/);
  });

  it('a changer that stops while frozen leaves the window frozen (the audit must thaw it)', () => {
    expect(search(changerCrashesFrozen, WITH_WINDOW).violation).toMatch(/left frozen by P/);
  });

  it('with finer ticks the wait and the margin are still each needed', () => {
    expect(search(deleteFineTicks, NO_WAIT).violation).toMatch(/deleted subnet/);
    expect(search(deleteFineTicks, NO_MARGIN).violation).toMatch(/deleted subnet/);
    expect(search(poolsShrinkFineTicks, NO_MARGIN).violation).toMatch(/forbade/);
  });

  it("a Put past an item's freeAt on a clock ahead takes an address whose lease still runs", () => {
    const leaseEnding: Scenario = {
      items: [{ holder: 'h0', freeAt: 1 }, 'h1'],
      mode: 'fast',
      epsilon: 1,
      procs: [{ kind: 'allocate', id: 'A', address: 0, skew: 1 }, ...ticks(2)],
    };
    expect(search(leaseEnding, { ...PROTOCOL, takeAllowsSkew: false }).violation).toMatch(
      /took 0 while h0's lease still ran/,
    );
    const result = search(leaseEnding, PROTOCOL);
    expect(result.violation).toBeUndefined();
    expect(result.answers).toContain('A:ok');
  });
});
