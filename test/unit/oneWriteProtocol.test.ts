/**
 * The one-write allocation protocol (docs/one-write-allocation.md), checked over
 * every interleaving of a small model (test/support/oneWriteModel.ts): the protocol
 * keeps its promises in each scenario, and each part the page argues for is needed —
 * without it the search finds a broken promise.
 */
import { describe, expect, it } from 'vitest';
import { PROTOCOL, type Scenario, search } from '../support/oneWriteModel.js';

const NO_READ_AFTER = { ...PROTOCOL, readAfter: false };
const NO_FENCE_FIRST = { ...PROTOCOL, fenceFirst: false };
const BARE_RELEASE = { ...PROTOCOL, releaseWithCounter: false };
const SOON_KEPT = { ...PROTOCOL, lowerSoon: false };

/** A full shard sealed while one of its addresses is released. */
const releaseWhileSealing: Scenario = {
  items: ['h0', 'h1'],
  mode: 'fast',
  procs: [{ kind: 'release', id: 'h0', address: 0 }, { kind: 'seal' }, { kind: 'checkFull' }],
};

/** A subnet deleted while an allocation is made in it. */
const allocateWhileDeleting: Scenario = {
  items: [null, null],
  mode: 'fast',
  procs: [{ kind: 'allocate', id: 'A', address: 0 }, { kind: 'delete' }],
};

/**
 * A release, allocations racing it and two sealers (the second finishing the first's
 * work when it finds the shard sealing).
 */
const busyShard: Scenario = {
  items: ['h0', null, 'h2'],
  mode: 'fast',
  procs: [
    { kind: 'release', id: 'h0', address: 0 },
    { kind: 'allocate', id: 'A', address: 1 },
    { kind: 'allocate', id: 'C', address: 0 },
    { kind: 'seal' },
    { kind: 'seal' },
    { kind: 'checkFull' },
  ],
};

/** An exact shard: transactional writes beside a release, then "full?" twice. */
const exactShard: Scenario = {
  items: ['h0', null],
  mode: 'exact',
  free: [1],
  procs: [
    { kind: 'allocate', id: 'A', address: 1 },
    { kind: 'release', id: 'h0', address: 0 },
    { kind: 'allocate', id: 'B', address: 0 },
    { kind: 'checkFull' },
    { kind: 'checkFull' },
  ],
};

/** An exact shard going back to fast mode and sealed again, under traffic. */
const unsealAndSealAgain: Scenario = {
  items: ['h0', null],
  mode: 'exact',
  free: [1],
  procs: [
    { kind: 'release', id: 'h0', address: 0 },
    { kind: 'allocate', id: 'A', address: 1 },
    { kind: 'allocate', id: 'B', address: 0 },
    { kind: 'unseal' },
    { kind: 'seal' },
    { kind: 'checkFull' },
  ],
};

/** Leases written while a shard seals, and in an exact shard, then ending. */
const leasesEnding: Scenario = {
  items: [null, { holder: 'h1', freeAt: 2 }, null],
  mode: 'fast',
  procs: [
    { kind: 'allocate', id: 'A', address: 0, lease: 1 },
    { kind: 'seal' },
    { kind: 'allocate', id: 'B', address: 2, lease: 1 },
    { kind: 'tick' },
    { kind: 'tick' },
    { kind: 'checkFull' },
    { kind: 'checkFull' },
  ],
};

/** An exact shard's last address taken with a lease, which then ends. */
const exactLease: Scenario = {
  items: [null, 'h1'],
  mode: 'exact',
  free: [0],
  procs: [
    { kind: 'allocate', id: 'A', address: 0, lease: 1 },
    { kind: 'tick' },
    { kind: 'checkFull' },
  ],
};

/** A delete beside a release, an allocation and a seal. */
const deleteInTraffic: Scenario = {
  items: ['h0', null],
  mode: 'fast',
  procs: [
    { kind: 'release', id: 'h0', address: 0 },
    { kind: 'allocate', id: 'A', address: 1 },
    { kind: 'seal' },
    { kind: 'delete' },
    { kind: 'checkFull' },
  ],
};

describe('the one-write protocol keeps its promises in every interleaving', () => {
  for (const [name, scenario] of Object.entries({
    releaseWhileSealing,
    allocateWhileDeleting,
    busyShard,
    exactShard,
    unsealAndSealAgain,
    leasesEnding,
    exactLease,
    deleteInTraffic,
  })) {
    it(name, () => {
      const result = search(scenario);
      expect(result.violation).toBeUndefined();
      // The search really branched (a scenario of one order would prove nothing).
      expect(result.states).toBeGreaterThan(scenario.procs.length * 2);
    });
  }
});

describe('each part of it is needed', () => {
  it('a release as a bare Delete, even read after and reconciled, leaves a window: exhausted while free', () => {
    expect(search(releaseWhileSealing, BARE_RELEASE).violation).toMatch(
      /SUBNET_EXHAUSTED while address 0 is free/,
    );
  });

  it('without the read after a bare Put, an allocation lands in a deleted subnet', () => {
    expect(search(allocateWhileDeleting, NO_READ_AFTER).violation).toMatch(/deleted subnet/);
  });

  it('a lease written in an exact shard that does not lower soon ends unseen: exhausted while free', () => {
    expect(search(exactLease, SOON_KEPT).violation).toMatch(
      /SUBNET_EXHAUSTED while address 0 is free|misses free address 0/,
    );
  });

  it('sealing on the truth without fencing first (a watermark) loses a release', () => {
    expect(search(releaseWhileSealing, NO_FENCE_FIRST).violation).toMatch(
      /SUBNET_EXHAUSTED while address 0 is free|misses free address 0/,
    );
  });
});
