/**
 * `strategy: random` must be uniform over the free addresses of the pools and
 * independent of a caller's earlier answers (API.md: "uniformly random free
 * address … from a cryptographically secure generator"). Statistical tests with
 * fixed false-positive rates, so a correct allocator fails them with probability
 * below 1e-6 each:
 *
 * - spread, per caller: 96 answers of one allocator in an empty /16, counted in 16
 *   equal ranges (/20s): chi-square (15 degrees of freedom) must stay below 57
 *   (upper tail 8.2e-7 under uniformity; the expected count per range is 6).
 * - serial, per caller: of the 95 consecutive pairs, those in the same /22 (1/64 of
 *   the /16; the allocator's shard) are Binomial(95, 1/64) under independence,
 *   mean 1.5: 11 or more has probability 3.2e-7.
 * - per caller in a /64: 15 consecutive answers, any two in the same /120 (2^-56 of
 *   the /64): probability below 105 · 2^-56 ≈ 1.5e-15.
 * - per request in a /64: one `count: 16`, any two in the same /120: below
 *   120 · 2^-56 ≈ 1.7e-15.
 * - per request in a /16: one `count: 32`, 9 or more of them in one /22 (a shard,
 *   1/64 of the addresses): below 64 · C(32, 9) · 64^-9 ≈ 1.0e-7 (union bound).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Allocator } from '../../shared/allocator/index.js';
import { parseIp } from '../../shared/net/address.js';
import { createSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});

async function answersOfOneCaller(cidr: string, space: string, n: number): Promise<bigint[]> {
  const subnet = await createSubnet(db.ctx, { cidr, space });
  const allocator = new Allocator(db.ctx);
  const values: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const [allocation] = await allocator.allocate(subnet.id, { owner: `r${i}` });
    values.push(parseIp(allocation?.ip ?? '').value);
  }
  return values;
}

/** Pairs (i < j) of `values` that share the block of 2^bits addresses. */
function pairsInSameBlock(values: readonly bigint[], bits: bigint): number {
  let pairs = 0;
  for (let i = 0; i < values.length; i++)
    for (let j = i + 1; j < values.length; j++)
      if ((values[i] as bigint) >> bits === (values[j] as bigint) >> bits) pairs++;
  return pairs;
}

describe('random allocation is uniform and independent', () => {
  it('per caller in a /16: spread over 16 ranges, and consecutive answers not in the same /22', {
    timeout: 300_000,
  }, async () => {
    const values = await answersOfOneCaller('10.50.0.0/16', 'random-16', 96);
    const base = parseIp('10.50.0.0').value;
    const counts = new Array<number>(16).fill(0);
    for (const value of values) counts[Number((value - base) >> 12n)]! += 1;
    const expected = values.length / 16;
    const chiSquare = counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
    let sameShard = 0;
    for (let i = 1; i < values.length; i++)
      if ((values[i] as bigint) >> 10n === (values[i - 1] as bigint) >> 10n) sameShard++;
    expect(
      { chiSquareBelow57: chiSquare < 57, sameShardPairsBelow11: sameShard < 11 },
      `chi-square ${chiSquare.toFixed(1)} over ${counts.join(' ')}; ${sameShard} of 95 consecutive pairs in one /22`,
    ).toEqual({
      chiSquareBelow57: true,
      sameShardPairsBelow11: true,
    });
  });

  it('per caller in a /64: no two of 15 consecutive answers in the same /120', {
    timeout: 300_000,
  }, async () => {
    const values = await answersOfOneCaller('2001:db8:50::/64', 'random-64', 15);
    expect(pairsInSameBlock(values, 8n)).toBe(0);
  });

  it('per request in a /64: no two addresses of one count:16 in the same /120', {
    timeout: 300_000,
  }, async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '2001:db8:51::/64', space: 'random-count' });
    const allocations = await new Allocator(db.ctx).allocate(subnet.id, {
      count: 16,
      owner: 'bulk',
    });
    const values = allocations.map((a) => parseIp(a.ip).value);
    expect(values).toHaveLength(16);
    expect(pairsInSameBlock(values, 8n), allocations.map((a) => a.ip).join(' ')).toBe(0);
  });

  it('per request in a /16: no /22 holds 9 of one count:32', { timeout: 300_000 }, async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.51.0.0/16', space: 'random-count-16' });
    const allocations = await new Allocator(db.ctx).allocate(subnet.id, {
      count: 32,
      owner: 'bulk',
    });
    const perShard = new Map<bigint, number>();
    for (const allocation of allocations) {
      const shard = parseIp(allocation.ip).value >> 10n;
      perShard.set(shard, (perShard.get(shard) ?? 0) + 1);
    }
    expect(allocations).toHaveLength(32);
    expect(Math.max(...perShard.values()), allocations.map((a) => a.ip).join(' ')).toBeLessThan(9);
  });
});
