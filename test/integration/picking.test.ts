/**
 * What a pick costs and answers where the old sampling and walks went wrong:
 * huge shards near exhaustion, sequential picks in a well-filled /64, and a
 * `count` request whose addresses lie in more blocks of one shard than one
 * transaction holds. Subnets are pre-filled by writing the items an allocator
 * would write (test/support/prefill.ts); requests are counted by an SDK middleware.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { SubnetExhaustedError } from '../../shared/errors.js';
import { formatIp } from '../../shared/net/address.js';
import { sampleWithoutReplacement } from '../../shared/net/random.js';
import { addressAt, geometryOf } from '../../shared/subnets/geometry.js';
import { address, type Subnet } from '../../shared/subnets/subnet.js';
import { createSubnet, getSubnet, loadSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, storedItems, type TestDb } from '../support/dynamo.js';
import { poolOffsetsOf, prefillBlocks } from '../support/prefill.js';
import { countedContext, RequestCount } from '../support/requestCount.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;
let nextSpace = 0;

beforeAll(async () => {
  db = await createTestDb();
});

async function subnet(cidr: string, extra: Record<string, unknown> = {}) {
  nextSpace++;
  const view = await createSubnet(db.ctx, { cidr, space: `pick-${nextSpace}`, ...extra });
  const stored = await loadSubnet(db.ctx, view.id);
  return { id: view.id, subnet: stored, g: geometryOf(stored.cidr) };
}

/** An address of the subnet as the API prints it. */
function text(s: Subnet, value: bigint): string {
  return formatIp(address(s.cidr.version, value));
}

/** An allocator whose requests `count` sees, on a clock that stands still (nothing it knows ages). */
function countedAllocator(count: RequestCount): TextAllocator {
  const frozen = db.ctx.now();
  return new TextAllocator(countedContext(db.ctx, db.endpoint, count, () => frozen));
}

describe('picking', () => {
  it('decides a subnet of several shards full on its counters as of one instant', async () => {
    // A /23 is two shards; one pool address in each. A BatchGet reads each counter at
    // its own moment, so a release in one and an allocation in the other between the
    // two reads would sum to "full" while an address was free all along
    // (test/unit/oneWriteShards.test.ts): "full" is read with one TransactGetItems.
    const { id } = await subnet('10.66.0.0/23', {
      allocationPools: [
        { start: '10.66.0.10', end: '10.66.0.10' },
        { start: '10.66.1.10', end: '10.66.1.10' },
      ],
    });
    const count = new RequestCount();
    const allocator = countedAllocator(count);
    await allocator.allocate(id, { count: 2 });
    count.reset();
    await expect(allocator.allocate(id, {})).rejects.toBeInstanceOf(SubnetExhaustedError);
    expect(count.byCommand.get('TransactGetItems')).toBe(1);
  });

  it('finds the last free addresses of a huge shard (a /11) without contention, in few requests', {
    timeout: 300_000,
  }, async () => {
    // The pool is shard 0 of a /11: 128 blocks of 256, one shard far beyond a whole-shard read.
    const {
      id,
      subnet: s,
      g,
    } = await subnet('10.64.0.0/11', {
      allocationPools: [{ start: '10.64.0.2', end: '10.64.127.255' }],
    });
    const freeBlocks = sampleWithoutReplacement(
      Array.from({ length: 128 }, (_, block) => BigInt(block)),
      12,
    );
    const free = new Set<string>();
    const taken = new Map<bigint, number[]>();
    for (let block = 0n; block < 128n; block++) {
      const offsets = poolOffsetsOf(s, g, block);
      if (freeBlocks.includes(block)) {
        const [kept] = sampleWithoutReplacement(offsets, 1);
        free.add(text(s, addressAt(g, block, kept!)));
        taken.set(
          block,
          offsets.filter((offset) => offset !== kept),
        );
      } else taken.set(block, offsets);
    }
    await prefillBlocks(db.ctx, s, g, taken);

    const count = new RequestCount();
    const allocator = countedAllocator(count);
    const got: string[] = [];
    for (let i = 0; i < 12; i++) {
      const result = await allocator.allocate(id, {}).catch((error: { code?: string }) => error);
      if (!Array.isArray(result))
        throw new Error(`allocation ${i + 1} of 12 failed: ${result.code}`);
      got.push(result[0]!.ip);
    }
    expect(got.sort()).toEqual([...free].sort());
    await expect(allocator.allocate(id, {})).rejects.toMatchObject({ code: 'SUBNET_EXHAUSTED' });
    // 13 requests: each a counter read, a read of the shard (≤ 2 pages) and a write, bounded.
    expect(count.requests).toBeLessThanOrEqual(13 * 5);
  });

  it('keeps a sequential allocation in a well-filled /64 at a constant number of reads', async () => {
    const { id, subnet: s, g } = await subnet('2001:db8:70::/64');
    const full = 400n;
    const low = text(s, addressAt(g, 7n, 9));
    const taken = new Map<bigint, number[]>();
    for (let block = 0n; block < full; block++) taken.set(block, poolOffsetsOf(s, g, block));
    taken.set(
      7n,
      poolOffsetsOf(s, g, 7n).filter((offset) => offset !== 9),
    );
    await prefillBlocks(db.ctx, s, g, taken);
    // The one address left free below is taken by name, so that it can be released later.
    await new TextAllocator(db.ctx).allocate(id, { ip: low });

    const count = new RequestCount();
    const allocator = countedAllocator(count);
    const first = addressAt(g, full, 0);
    const [warm] = await allocator.allocate(id, { strategy: 'sequential' });
    expect(warm!.ip).toBe(text(s, first));
    count.reset();
    const ips: string[] = [];
    for (let i = 1; i <= 10; i++)
      ips.push((await allocator.allocate(id, { strategy: 'sequential' }))[0]!.ip);
    expect(ips).toEqual(Array.from({ length: 10 }, (_, i) => text(s, first + BigInt(i + 1))));
    // Each allocation reads from the first block that may have room: a block or two, not 400.
    expect(count.itemsRead).toBeLessThanOrEqual(10 * 3);

    // A release below the first free address is handed out next.
    await allocator.release(id, low);
    expect((await allocator.allocate(id, { strategy: 'sequential' }))[0]!.ip).toBe(low);
  });

  it('allocates count=100 sequential across 100 blocks of one shard with one free address each', async () => {
    const { id, subnet: s, g } = await subnet('2001:db8:71::/64');
    const free: string[] = [];
    const taken = new Map<bigint, number[]>();
    for (let block = 0n; block < 100n; block++) {
      const offsets = poolOffsetsOf(s, g, block);
      const kept = offsets[Number(block) % offsets.length]!;
      free.push(text(s, addressAt(g, block, kept)));
      taken.set(
        block,
        offsets.filter((offset) => offset !== kept),
      );
    }
    await prefillBlocks(db.ctx, s, g, taken);
    const prefilled = [...taken.values()].reduce((sum, offsets) => sum + offsets.length, 0);

    const allocations = await new TextAllocator(db.ctx).allocate(id, {
      count: 100,
      strategy: 'sequential',
      owner: 'bulk',
    });
    expect(allocations.map((allocation) => allocation.ip)).toEqual(free);
    expect((await getSubnet(db.ctx, id)).usage.allocated).toBe(prefilled + 100);
    expect(await storedItems(db.ctx, 'pending', id)).toEqual([]);
    expect((await storedItems(db.ctx, 'allocation', id)).map((item) => item.ip).sort()).toEqual(
      [...free].sort(),
    );
  });
});
