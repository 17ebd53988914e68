/**
 * The one-write protocol (docs/one-write-allocation.md) beyond the page's own model
 * check: config changes with `pv` (pools, gateway, reuse delay), lease renewals,
 * cool-down tombstones, the table's TTL, a seal finished by a co-sealer after a crash,
 * concurrent deletes, "full?" beside a PATCH — and crashes between two requests of a
 * process. Each rule the search needs here is a `Variant` flag of the model; without it
 * the search finds the broken promise. The last group is what a crash leaves that no
 * rule of the page repairs (a design decision, not a fix in the model).
 */
import { describe, expect, it } from 'vitest';
import { PROTOCOL, type Scenario, search } from '../support/oneWriteModel.js';

/**
 * Two sealers, the second finishing the first's work, an unseal, a release in fast
 * mode and a third seal: the first sealer's publish, paused since its query, must not
 * land on the third's fence (the same mode, `sealing`, but a later seal).
 */
const staleSealer: Scenario = {
  items: ['h0', 'h1'],
  mode: 'fast',
  procs: [
    { kind: 'seal' },
    { kind: 'seal' },
    { kind: 'unseal' },
    { kind: 'release', id: 'h0', address: 0 },
    { kind: 'seal' },
    { kind: 'checkFull' },
  ],
};

/** A full exact shard: a lease PATCHed to end sooner, and then ending. */
const renewInExact: Scenario = {
  items: [{ holder: 'h0', freeAt: 5 }, 'h1'],
  mode: 'exact',
  soon: 5,
  procs: [
    { kind: 'renew', id: 'h0', address: 0, lease: 1 },
    { kind: 'tick' },
    { kind: 'checkFull' },
  ],
};

/** The same while the shard seals, the renewing Lambda free to crash. */
const renewWhileSealing: Scenario = {
  items: [{ holder: 'h0', freeAt: 5 }, 'h1'],
  mode: 'fast',
  procs: [
    { kind: 'renew', id: 'h0', address: 0, lease: 1 },
    { kind: 'seal' },
    { kind: 'tick' },
    { kind: 'checkFull' },
  ],
  crashes: ['h0'],
};

/** Two deletes of one subnet, its last allocation released meanwhile, and an allocation. */
const twoDeletes: Scenario = {
  items: ['h0', null],
  mode: 'fast',
  procs: [
    { kind: 'delete', id: 'd1' },
    { kind: 'delete', id: 'd2' },
    { kind: 'release', id: 'h0', address: 0 },
    { kind: 'allocate', id: 'A', address: 1 },
  ],
};

/** A random pick of address 1 from a cached subnet while a PATCH drops 1 from the pools. */
const poolsShrink: Scenario = {
  items: [null, null],
  mode: 'fast',
  procs: [
    { kind: 'allocate', id: 'A', address: 1 },
    { kind: 'patch', change: { pools: [0] } },
    { kind: 'seal' },
  ],
};

/** The same in an exact shard that goes back to fast mode. */
const poolsShrinkInExact: Scenario = {
  items: [null, 'h1'],
  mode: 'exact',
  free: [0],
  procs: [
    { kind: 'allocate', id: 'A', address: 0 },
    { kind: 'patch', change: { pools: [1] } },
    { kind: 'unseal' },
    { kind: 'checkFull' },
  ],
};

/** A specific-address allocation of 1 while a PATCH moves the gateway to 1. */
const gatewayMove: Scenario = {
  items: [null, null],
  mode: 'fast',
  pools: [0],
  procs: [
    { kind: 'allocate', id: 'A', address: 1, specific: true },
    { kind: 'patch', change: { gateway: 1 } },
  ],
};

/** A release and a lease from cached subnets while a PATCH sets a reuse delay. */
const delayChange: Scenario = {
  items: ['h0', null],
  mode: 'fast',
  procs: [
    { kind: 'release', id: 'h0', address: 0 },
    { kind: 'allocate', id: 'A', address: 1, lease: 1 },
    { kind: 'patch', change: { delay: 2 } },
  ],
};

/** "Full?" in an exact shard whose only free address joins the pools meanwhile. */
const fullAcrossPatch: Scenario = {
  items: ['h0', null],
  mode: 'exact',
  pools: [0],
  free: [1],
  procs: [{ kind: 'checkFull' }, { kind: 'patch', change: { pools: [0, 1] } }],
};

/** A shard sealed while its pools hold one taken address, then the pools grow. */
const poolsGrowOverExact: Scenario = {
  items: ['h0', null],
  mode: 'fast',
  pools: [0],
  procs: [{ kind: 'seal' }, { kind: 'patch', change: { pools: [0, 1] } }, { kind: 'checkFull' }],
};

/** A full exact shard under a reuse delay: a release, its cool-down ending, the TTL. */
const coolDownInExact: Scenario = {
  items: ['h0', 'h1'],
  mode: 'exact',
  delay: 1,
  procs: [
    { kind: 'release', id: 'h0', address: 0 },
    { kind: 'tick' },
    { kind: 'tick' },
    { kind: 'ttl', address: 0 },
    { kind: 'checkFull' },
  ],
};

/** An exact shard whose `soon` has passed, its expired lease swept by the TTL, resealed. */
const resealAfterSoon: Scenario = {
  items: [{ holder: 'h0', freeAt: 1 }, 'h1'],
  mode: 'exact',
  soon: 1,
  procs: [
    { kind: 'tick' },
    { kind: 'ttl', address: 0 },
    { kind: 'unseal' },
    { kind: 'seal' },
    { kind: 'allocate', id: 'A', address: 0, lease: 1 },
    { kind: 'checkFull' },
  ],
};

/** A sealer that may crash after its fence, finished by a second one, under traffic. */
const crashedSealer: Scenario = {
  items: ['h0', null],
  mode: 'fast',
  procs: [
    { kind: 'seal' },
    { kind: 'release', id: 'h0', address: 0 },
    { kind: 'allocate', id: 'A', address: 1 },
    { kind: 'seal' },
    { kind: 'checkFull' },
  ],
  crashes: ['seal0', 'A'],
};

describe('the one-write protocol, with the rules below, keeps its promises', () => {
  for (const [name, scenario] of Object.entries({
    staleSealer,
    renewInExact,
    renewWhileSealing,
    twoDeletes,
    poolsShrink,
    poolsShrinkInExact,
    gatewayMove,
    delayChange,
    fullAcrossPatch,
    poolsGrowOverExact,
    coolDownInExact,
    resealAfterSoon,
    crashedSealer,
  })) {
    it(name, () => {
      const result = search(scenario);
      expect(result.violation).toBeUndefined();
      expect(result.states).toBeGreaterThan(scenario.procs.length * 2);
    });
  }
});

describe('each of those rules is needed', () => {
  it('a publish conditioned on mode = sealing alone lands on a later seal: a release lost', () => {
    expect(search(staleSealer, { ...PROTOCOL, sealEpoch: false }).violation).toMatch(
      /SUBNET_EXHAUSTED while address 0 is free|misses free address 0/,
    );
  });

  it('a lease end lowered by an UpdateItem, then read-after and reconcile: exhausted while free', () => {
    const flawed = { ...PROTOCOL, renewWithCounter: false };
    expect(search(renewInExact, flawed).violation).toMatch(
      /SUBNET_EXHAUSTED while address 0 is free/,
    );
    // And a crash before the reconcile loses the address for good.
    expect(search(renewWhileSealing, flawed).violation).toMatch(
      /SUBNET_EXHAUSTED while address 0 is free|misses free address 0/,
    );
  });

  it('a delete that fences over another and restores what it found: closed for good, or a deleted subnet reopened', () => {
    expect(search(twoDeletes, { ...PROTOCOL, deleteOwnsFence: false }).violation).toMatch(
      /left closed|open counters|deleted subnet/,
    );
  });

  it('a read after that ignores pv answers what the new pools, gateway or delay forbid', () => {
    const flawed = { ...PROTOCOL, readAfterPv: false };
    for (const scenario of [poolsShrink, poolsShrinkInExact, gatewayMove, delayChange])
      expect(search(scenario, flawed).violation).toMatch(/forbade/);
  });

  it('a release whose counter condition ignores pv uses a stale reuse delay', () => {
    expect(search(delayChange, { ...PROTOCOL, releaseChecksPv: false }).violation).toMatch(
      /released with reuse delay 0 after 2 was set/,
    );
  });

  it('"full?" that does not compare the subnet\'s pv with the counter\'s: exhausted while free', () => {
    expect(search(fullAcrossPatch, { ...PROTOCOL, fullChecksPv: false }).violation).toMatch(
      /SUBNET_EXHAUSTED while address 1 is free/,
    );
  });

  it('a free set of the pool offsets only goes stale when the pools grow: exhausted while free', () => {
    expect(
      search(poolsGrowOverExact, { ...PROTOCOL, freeListsAllOffsets: false }).violation,
    ).toMatch(/SUBNET_EXHAUSTED while address 1 is free|misses free address 1/);
  });

  it('a cool-down tombstone in an exact shard that does not lower soon ends unseen', () => {
    expect(search(coolDownInExact, { ...PROTOCOL, lowerSoon: false }).violation).toMatch(
      /SUBNET_EXHAUSTED while address 0 is free|misses free address 0/,
    );
  });
});

describe('what a crash leaves that the page does not repair (design decisions)', () => {
  it('a delete that crashes after its fence leaves a live subnet closed: every allocation 404', () => {
    const scenario: Scenario = {
      items: ['h0'],
      mode: 'fast',
      procs: [{ kind: 'delete', id: 'd' }],
      crashes: ['d'],
    };
    expect(search(scenario).violation).toMatch(/not deleted is left closed/);
  });

  it('a fast Put after a delete, its Lambda crashing before the undo: an allocation in a deleted subnet', () => {
    const scenario: Scenario = {
      items: [null],
      mode: 'fast',
      procs: [{ kind: 'allocate', id: 'A', address: 0 }, { kind: 'delete' }],
      crashes: ['A'],
    };
    expect(search(scenario).violation).toMatch(/deleted subnet still holds an allocation/);
  });

  it('a fast Put of the new gateway, its Lambda crashing before the undo: the gateway stays held', () => {
    expect(search({ ...gatewayMove, crashes: ['A'] }).violation).toMatch(
      /allocation of 1 the rules forbade is left behind/,
    );
  });
});
