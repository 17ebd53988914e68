import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidCidrError,
  PoolExhaustedError,
  PoolInUseError,
  PoolNotFoundError,
  PrefixLengthOutOfRangeError,
  SubnetOverlapError,
  ValidationError,
} from '../../shared/errors.js';
import { type Cidr, cidrSize, formatCidr, parseCidr } from '../../shared/net/address.js';
import {
  BuddyFreeList,
  blocksOverlap,
  containsBlock,
  freeBlocksOf,
} from '../../shared/pools/buddy.js';
import {
  type CarveSubnetInput,
  type CreatePoolInput,
  carveSubnet,
  createPool,
  deletePool,
  getPool,
  listPools,
  onSubnetDeleted,
  type PoolView,
  previewNextCidr,
} from '../../shared/pools/index.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import { poolKeys } from '../../shared/store/keys.js';
import type { SubnetView } from '../../shared/subnets/subnet.js';
import {
  createSubnet,
  deleteSubnet,
  getSubnet,
  insertSubnet,
  listSubnets,
  loadSubnet,
  type OnSubnetDeleted,
  planSubnet,
} from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import { injectFaults } from '../support/faults.js';

let db: TestDb;
let nextSpace = 0;

beforeAll(async () => {
  db = await createTestDb();
});

/** Each pool gets its own space, so prefixes may repeat across tests. */
async function pool(input: CreatePoolInput): Promise<PoolView> {
  nextSpace++;
  return createPool(db.ctx, { space: `pools-${nextSpace}`, ...input });
}

async function carve(poolId: string, input: CarveSubnetInput = {}): Promise<SubnetView> {
  return carveSubnet(db.ctx, poolId, input);
}

async function carveCidr(poolId: string, prefixLength?: number): Promise<string> {
  return (await carve(poolId, prefixLength === undefined ? {} : { prefixLength })).cidr;
}

/** What DELETE /subnets/{id} does: delete, and give a carved block back to its pool. */
async function remove(subnetId: string): Promise<void> {
  await deleteSubnet(db.ctx, subnetId, onSubnetDeleted);
}

/** A delete that leaves the pool's records as they are (a give-back that never ran). */
const withoutGiveBack: OnSubnetDeleted = async () => {};

async function partition(pk: string): Promise<Record<string, unknown>[]> {
  const result = await db.ctx.doc.send(
    new QueryCommand({
      TableName: db.ctx.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ConsistentRead: true,
    }),
  );
  return result.Items ?? [];
}

/** The stored free structure of a pool, and the subnets carved from it. */
async function structure(view: PoolView) {
  const free = (await partition(poolKeys.freePartition(view.id))).map((item) => String(item.cidr));
  const used = await partition(poolKeys.usedPartition(view.id));
  const byKind = (kind: string) =>
    used.filter((item) => String(item.sk).startsWith(`${kind}#`)).map((item) => String(item.cidr));
  const subnets = await listSubnets(db.ctx, { space: view.space, limit: 1000 });
  return {
    free,
    carved: byKind('C'),
    foreign: byKind('F'),
    carvedSubnets: subnets.items.filter((s) => s.poolId === view.id).map((s) => s.cidr),
  };
}

/**
 * Carved blocks are exactly the pool's subnets; free, carved and foreign blocks
 * partition the prefixes; the free set is canonical; usage counts the carved blocks.
 */
async function expectConsistent(view: PoolView): Promise<void> {
  const stored = await structure(view);
  expect([...stored.carved].sort()).toEqual([...stored.carvedSubnets].sort());
  expectDisjointInside([...stored.carved, ...stored.foreign], view.prefixes);
  const roots = view.prefixes.map(parseCidr);
  const taken = [...stored.carved, ...stored.foreign].map(parseCidr);
  const expected = freeBlocksOf(roots, taken).map(formatCidr);
  expect([...stored.free].sort()).toEqual([...expected].sort());
  const carvedAddresses = taken
    .slice(0, stored.carved.length)
    .reduce((sum, block) => sum + cidrSize(block), 0n);
  expect((await getPool(db.ctx, view.id)).usage.allocatedAddresses).toBe(
    carvedAddresses.toString(),
  );
}

function expectDisjointInside(cidrs: readonly string[], prefixes: readonly string[]): void {
  const blocks = cidrs.map(parseCidr);
  const roots = prefixes.map(parseCidr);
  for (const [i, block] of blocks.entries()) {
    expect(roots.some((root) => containsBlock(root, block))).toBe(true);
    for (const other of blocks.slice(i + 1)) expect(blocksOverlap(block, other)).toBe(false);
  }
}

describe('createPool', () => {
  it('applies the defaults and reports usage as decimal strings', async () => {
    const created = await pool({ name: 'corp', prefixes: ['10.0.0.0/16'], tags: { team: 'net' } });
    expect(created).toMatchObject({
      name: 'corp',
      ipVersion: 4,
      prefixes: ['10.0.0.0/16'],
      minPrefixLength: 16,
      maxPrefixLength: 32,
      defaultPrefixLength: 24,
      tags: { team: 'net' },
      usage: { totalAddresses: '65536', allocatedAddresses: '0' },
    });
    expect(created.id).toMatch(/^pool_[A-Za-z0-9_-]{22}$/);
    expect(await getPool(db.ctx, created.id)).toEqual(created);
  });

  it('defaults min to the shortest prefix, max to the address width, default clamped', async () => {
    const v6 = await pool({ prefixes: ['2001:DB8:1::/48'] });
    expect(v6).toMatchObject({
      prefixes: ['2001:db8:1::/48'],
      ipVersion: 6,
      minPrefixLength: 48,
      maxPrefixLength: 128,
      defaultPrefixLength: 64,
      usage: { totalAddresses: (1n << 80n).toString(), allocatedAddresses: '0' },
    });
    const small = await pool({ prefixes: ['192.168.0.0/26', '10.0.0.0/8'] });
    expect(small).toMatchObject({
      prefixes: ['10.0.0.0/8', '192.168.0.0/26'],
      minPrefixLength: 8,
      defaultPrefixLength: 24,
    });
    expect(await pool({ prefixes: ['10.1.0.0/26'] })).toMatchObject({
      minPrefixLength: 26,
      defaultPrefixLength: 26,
    });
    expect(await pool({ prefixes: ['10.1.0.0/16'], maxPrefixLength: 20 })).toMatchObject({
      defaultPrefixLength: 20,
    });
  });

  it.each([
    ['no prefixes', { prefixes: [] }, ValidationError],
    ['mixed versions', { prefixes: ['10.0.0.0/16', '2001:db8::/48'] }, ValidationError],
    ['overlapping prefixes', { prefixes: ['10.0.0.0/16', '10.0.5.0/24'] }, ValidationError],
    ['a repeated prefix', { prefixes: ['10.0.0.0/16', '10.0.0.0/16'] }, ValidationError],
    [
      'min shorter than the shortest prefix',
      { prefixes: ['10.0.0.0/16'], minPrefixLength: 15 },
      ValidationError,
    ],
    [
      'min longer than max',
      { prefixes: ['10.0.0.0/16'], minPrefixLength: 28, maxPrefixLength: 24 },
      ValidationError,
    ],
    ['max beyond /32', { prefixes: ['10.0.0.0/16'], maxPrefixLength: 33 }, ValidationError],
    [
      'default below min',
      { prefixes: ['10.0.0.0/16'], minPrefixLength: 20, defaultPrefixLength: 18 },
      ValidationError,
    ],
    [
      'default above max',
      { prefixes: ['10.0.0.0/16'], maxPrefixLength: 22, defaultPrefixLength: 24 },
      ValidationError,
    ],
    [
      'a fractional length',
      { prefixes: ['10.0.0.0/16'], defaultPrefixLength: 24.5 },
      ValidationError,
    ],
    ['a bad space', { prefixes: ['10.0.0.0/16'], space: 'a b' }, ValidationError],
    ['a malformed prefix', { prefixes: ['10.0.0.0/33'] }, InvalidCidrError],
    ['host bits set', { prefixes: ['10.0.0.1/16'] }, InvalidCidrError],
    ['a prefix shorter than any subnet', { prefixes: ['10.0.0.0/7'] }, InvalidCidrError],
  ])('rejects %s', async (_label, input, error) => {
    nextSpace++;
    await expect(createPool(db.ctx, input as CreatePoolInput)).rejects.toBeInstanceOf(error);
  });

  it('names the overlapping prefixes', async () => {
    await expect(pool({ prefixes: ['10.0.5.0/24', '10.0.0.0/16'] })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      details: { field: 'prefixes', prefixes: ['10.0.0.0/16', '10.0.5.0/24'] },
    });
  });
});

describe('getPool, listPools', () => {
  it('answers POOL_NOT_FOUND for unknown and malformed ids', async () => {
    await expect(getPool(db.ctx, 'pool_AAAAAAAAAAAAAAAAAAAAAA')).rejects.toBeInstanceOf(
      PoolNotFoundError,
    );
    await expect(getPool(db.ctx, 'nonsense')).rejects.toBeInstanceOf(PoolNotFoundError);
  });

  it('lists every pool, page by page', async () => {
    const created = [
      await pool({ prefixes: ['10.200.0.0/16'] }),
      await pool({ prefixes: ['10.201.0.0/16'] }),
      await pool({ prefixes: ['10.202.0.0/16'] }),
    ];
    const seen: PoolView[] = [];
    let cursor: string | undefined;
    do {
      const page = await listPools(db.ctx, { limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    for (const view of created) expect(seen.find((item) => item.id === view.id)).toEqual(view);
    await expect(listPools(db.ctx, { limit: 2, cursor: 'garbage' })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});

describe('carveSubnet', () => {
  it('takes the lowest address first and the best fit (the issue example)', async () => {
    const p = await pool({ prefixes: ['10.30.0.0/16'] });
    const first = await carve(p.id, { prefixLength: 24 });
    expect(first.cidr).toBe('10.30.0.0/24');
    expect(await carveCidr(p.id, 28)).toBe('10.30.1.0/28');
    await remove(first.id);
    // The exact-size buddy, not a split of the freed /24.
    expect(await carveCidr(p.id, 28)).toBe('10.30.1.16/28');
    expect(await carveCidr(p.id, 24)).toBe('10.30.0.0/24');
    await expectConsistent(p);
  });

  it('creates the subnet with the usual defaults, in the pool space, naming the pool', async () => {
    const p = await pool({ prefixes: ['10.31.0.0/16'] });
    const subnet = await carve(p.id, { name: 'web', tags: { app: 'web' } });
    expect(subnet).toMatchObject({
      cidr: '10.31.0.0/24',
      name: 'web',
      space: p.space,
      poolId: p.id,
      gatewayIp: '10.31.0.1',
      allocationPools: [{ start: '10.31.0.2', end: '10.31.0.254' }],
      tags: { app: 'web' },
      usage: { total: 253, allocated: 0 },
    });
    expect(await getSubnet(db.ctx, subnet.id)).toEqual(subnet);
    expect((await getPool(db.ctx, p.id)).usage).toEqual({
      totalAddresses: '65536',
      allocatedAddresses: '256',
    });
  });

  it('previews exactly what the next carve takes', async () => {
    const p = await pool({ prefixes: ['10.32.0.0/20', '10.32.64.0/24'], minPrefixLength: 20 });
    for (const length of [24, 26, 22, 24, 21, 30, 20, 24, 26]) {
      const preview = await previewNextCidr(db.ctx, p.id, length).catch((error: unknown) => error);
      const carved = await carve(p.id, { prefixLength: length }).catch((error: unknown) => error);
      if (preview instanceof PoolExhaustedError) {
        expect(carved).toBeInstanceOf(PoolExhaustedError);
      } else {
        expect(preview).toEqual({ cidr: (carved as SubnetView).cidr });
      }
    }
    expect((await previewNextCidr(db.ctx, p.id)).cidr).toBe(await carveCidr(p.id));
    await expectConsistent(p);
  });

  it('exhausts a /22 after four /24s', async () => {
    const p = await pool({ prefixes: ['10.33.0.0/22'] });
    const cidrs: string[] = [];
    for (let i = 0; i < 4; i++) cidrs.push(await carveCidr(p.id, 24));
    expect(cidrs).toEqual(['10.33.0.0/24', '10.33.1.0/24', '10.33.2.0/24', '10.33.3.0/24']);
    const exhausted = { code: 'POOL_EXHAUSTED', details: { poolId: p.id, prefixLength: 24 } };
    await expect(carve(p.id, { prefixLength: 24 })).rejects.toMatchObject(exhausted);
    await expect(previewNextCidr(db.ctx, p.id, 24)).rejects.toMatchObject(exhausted);
    await expect(carve(p.id, { prefixLength: 32 })).rejects.toBeInstanceOf(PoolExhaustedError);
    expect((await getPool(db.ctx, p.id)).usage.allocatedAddresses).toBe('1024');
  });

  it('carves /64s from an IPv6 /48', async () => {
    const p = await pool({ prefixes: ['2001:db8:7::/48'] });
    const cidrs: string[] = [];
    for (let i = 0; i < 3; i++) cidrs.push(await carveCidr(p.id));
    expect(cidrs).toEqual(['2001:db8:7::/64', '2001:db8:7:1::/64', '2001:db8:7:2::/64']);
    expect((await getPool(db.ctx, p.id)).usage.allocatedAddresses).toBe((3n << 64n).toString());
    expect(await carveCidr(p.id, 56)).toBe('2001:db8:7:100::/56');
    await expectConsistent(p);
  });

  it('splits and merges across 96 levels in one transaction each (IPv6 /32 to /128)', async () => {
    const p = await pool({ prefixes: ['2001:db8::/32'] });
    const host = await carve(p.id, { prefixLength: 128 });
    expect(host.cidr).toBe('2001:db8::/128');
    expect((await structure(p)).free).toHaveLength(96);
    await remove(host.id);
    expect((await structure(p)).free).toEqual(['2001:db8::/32']);
  });

  it('never overlaps when 16 carves race', async () => {
    const p = await pool({ prefixes: ['10.34.0.0/16'] });
    const lengths = Array.from({ length: 16 }, (_, i) => [24, 26, 28, 22][i % 4]!);
    const carved = await Promise.all(lengths.map((prefixLength) => carve(p.id, { prefixLength })));
    const cidrs = carved.map((subnet) => subnet.cidr);
    expect(new Set(cidrs).size).toBe(16);
    expectDisjointInside(cidrs, p.prefixes);
    await expectConsistent(p);
    const total = lengths.reduce((sum, length) => sum + 2 ** (32 - length), 0);
    expect((await getPool(db.ctx, p.id)).usage.allocatedAddresses).toBe(String(total));
  });

  it('skips subnets created directly in the space, and learns them', async () => {
    const p = await pool({ prefixes: ['10.35.0.0/16'] });
    await createSubnet(db.ctx, { cidr: '10.35.0.0/24', space: p.space });
    await createSubnet(db.ctx, { cidr: '10.35.1.128/25', space: p.space });
    await createSubnet(db.ctx, { cidr: '10.35.128.0/17', space: p.space });
    expect((await previewNextCidr(db.ctx, p.id, 24)).cidr).toBe('10.35.2.0/24');
    expect(await carveCidr(p.id, 24)).toBe('10.35.2.0/24');
    expect(await carveCidr(p.id, 25)).toBe('10.35.1.0/25');
    // The only free /17 left in the structure is the direct one: learned, then exhausted.
    await expect(carve(p.id, { prefixLength: 17 })).rejects.toBeInstanceOf(PoolExhaustedError);
    expect((await structure(p)).foreign.sort()).toEqual([
      '10.35.0.0/24',
      '10.35.1.128/25',
      '10.35.128.0/17',
    ]);
    await expectConsistent(p);
  });

  it('learns the subnets already in its space when it is created', async () => {
    nextSpace++;
    const space = `pools-${nextSpace}`;
    await createSubnet(db.ctx, { cidr: '10.47.0.0/24', space });
    await createSubnet(db.ctx, { cidr: '10.47.255.0/24', space });
    await createSubnet(db.ctx, { cidr: '10.46.0.0/16', space });
    await createSubnet(db.ctx, { cidr: '10.48.0.0/24', space });
    const p = await createPool(db.ctx, { space, prefixes: ['10.47.0.0/16', '10.46.5.0/24'] });
    expect((await structure(p)).foreign.sort()).toEqual([
      '10.46.5.0/24',
      '10.47.0.0/24',
      '10.47.255.0/24',
    ]);
    expect(await carveCidr(p.id, 24)).toBe('10.47.1.0/24');
    expect(await carveCidr(p.id, 24)).toBe('10.47.254.0/24');
    expect(await carveCidr(p.id, 23)).toBe('10.47.2.0/23');
    await expectConsistent(p);
  });

  it('returns a direct subnet’s space once it is gone and the pool runs out', async () => {
    const p = await pool({ prefixes: ['10.36.0.0/23'] });
    const direct = await createSubnet(db.ctx, { cidr: '10.36.0.0/24', space: p.space });
    expect(await carveCidr(p.id, 24)).toBe('10.36.1.0/24');
    await expect(carve(p.id, { prefixLength: 24 })).rejects.toBeInstanceOf(PoolExhaustedError);
    expect((await structure(p)).foreign).toEqual(['10.36.0.0/24']);
    await deleteSubnet(db.ctx, direct.id, onSubnetDeleted);
    expect(await carveCidr(p.id, 24)).toBe('10.36.0.0/24');
    await expectConsistent(p);
  });

  it('records a carve whose caller died after the insert', async () => {
    const p = await pool({ prefixes: ['10.37.0.0/16'] });
    // Inserted a minute ago by a carve that never recorded it.
    const orphan = planSubnet(
      { cidr: '10.37.0.0/24', space: p.space, poolId: p.id },
      new Date(Date.now() - 60_000).toISOString(),
    );
    await insertSubnet(db.ctx, orphan);
    expect(await carveCidr(p.id, 24)).toBe('10.37.1.0/24');
    expect((await getPool(db.ctx, p.id)).usage.allocatedAddresses).toBe('512');
    await expectConsistent(p);
    await remove(orphan.id);
    expect(await carveCidr(p.id, 24)).toBe('10.37.0.0/24');
  });

  describe('with an explicit cidr', () => {
    it('carves exactly that block, and the best fit goes around it', async () => {
      const p = await pool({ prefixes: ['10.38.0.0/16'] });
      const explicit = await carve(p.id, { cidr: '10.38.0.0/24' });
      expect(explicit).toMatchObject({ cidr: '10.38.0.0/24', poolId: p.id, space: p.space });
      expect(await carveCidr(p.id, 24)).toBe('10.38.1.0/24');
      expect((await carve(p.id, { cidr: '10.38.64.0/20' })).cidr).toBe('10.38.64.0/20');
      await expectConsistent(p);
    });

    it('refuses a taken cidr with SUBNET_OVERLAP naming the subnet', async () => {
      const p = await pool({ prefixes: ['10.39.0.0/16'] });
      const taken = await carve(p.id, { prefixLength: 24 });
      await expect(carve(p.id, { cidr: '10.39.0.0/25' })).rejects.toMatchObject({
        code: 'SUBNET_OVERLAP',
        details: { conflictingSubnetId: taken.id, conflictingCidr: '10.39.0.0/24' },
      });
      await expect(carve(p.id, { cidr: '10.39.0.0/23' })).rejects.toBeInstanceOf(
        SubnetOverlapError,
      );
      await createSubnet(db.ctx, { cidr: '10.39.9.0/24', space: p.space });
      await expect(carve(p.id, { cidr: '10.39.9.0/24' })).rejects.toBeInstanceOf(
        SubnetOverlapError,
      );
      await expectConsistent(p);
    });

    it('refuses a cidr outside the pool, of the other version, or of a length out of range', async () => {
      const prefixes = ['10.40.0.0/16', '10.41.0.0/25', '10.41.0.128/25'];
      const p = await pool({ prefixes, maxPrefixLength: 28 });
      const outside = { code: 'VALIDATION_ERROR', details: { field: 'cidr', prefixes } };
      await expect(carve(p.id, { cidr: '10.42.0.0/24' })).rejects.toMatchObject(outside);
      // Spans two prefixes: inside neither.
      await expect(carve(p.id, { cidr: '10.41.0.0/24' })).rejects.toMatchObject(outside);
      await expect(carve(p.id, { cidr: '2001:db8::/64' })).rejects.toMatchObject({
        code: 'VALIDATION_ERROR',
        details: { field: 'cidr' },
      });
      await expect(carve(p.id, { cidr: '10.40.0.0/29' })).rejects.toMatchObject({
        code: 'PREFIX_LENGTH_OUT_OF_RANGE',
        details: { prefixLength: 29, minPrefixLength: 16, maxPrefixLength: 28 },
      });
      await expect(carve(p.id, { cidr: '10.0.0.0/8' })).rejects.toBeInstanceOf(
        PrefixLengthOutOfRangeError,
      );
      await expect(carve(p.id, { cidr: '10.40.0.1/24' })).rejects.toBeInstanceOf(InvalidCidrError);
      await expect(carve(p.id, { cidr: '10.40.0.0/24', prefixLength: 24 })).rejects.toBeInstanceOf(
        ValidationError,
      );
      expect((await structure(p)).carvedSubnets).toEqual([]);
    });

    it('takes back the block of a subnet deleted without onSubnetDeleted', async () => {
      const p = await pool({ prefixes: ['10.43.0.0/16'] });
      const first = await carve(p.id, { prefixLength: 24 });
      await deleteSubnet(db.ctx, first.id, withoutGiveBack);
      expect((await carve(p.id, { cidr: '10.43.0.0/23' })).cidr).toBe('10.43.0.0/23');
      await expectConsistent(p);
    });
  });

  it('refuses prefix lengths outside [min, max] and unknown pools', async () => {
    const p = await pool({ prefixes: ['10.44.0.0/16'], minPrefixLength: 20, maxPrefixLength: 28 });
    for (const prefixLength of [19, 29]) {
      await expect(carve(p.id, { prefixLength })).rejects.toBeInstanceOf(
        PrefixLengthOutOfRangeError,
      );
      await expect(previewNextCidr(db.ctx, p.id, prefixLength)).rejects.toBeInstanceOf(
        PrefixLengthOutOfRangeError,
      );
    }
    await expect(carve('pool_AAAAAAAAAAAAAAAAAAAAAA')).rejects.toBeInstanceOf(PoolNotFoundError);
    await expect(previewNextCidr(db.ctx, 'nope')).rejects.toBeInstanceOf(PoolNotFoundError);
  });
});

describe('faults', () => {
  it('stays consistent when transaction answers are lost', async () => {
    const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
    injectFaults(client, [
      // The write lands, the answer is lost: retried with the same token.
      {
        command: 'TransactWriteItemsCommand',
        when: (n) => n % 3 === 0,
        error: 'InternalServerError',
        afterSend: true,
      },
    ]);
    const faulty: IpamContext = { ...db.ctx, doc: createDocumentClient(client) };
    const p = await pool({ prefixes: ['10.61.0.0/20'] });
    const carved: SubnetView[] = [];
    for (const prefixLength of [24, 26, 24, 28, 22, 24]) {
      carved.push(await carveSubnet(faulty, p.id, { prefixLength }));
    }
    expectDisjointInside(
      carved.map((subnet) => subnet.cidr),
      p.prefixes,
    );
    for (const subnet of carved.slice(0, 3)) {
      const loaded = await loadSubnet(db.ctx, subnet.id);
      await deleteSubnet(db.ctx, subnet.id, withoutGiveBack);
      await onSubnetDeleted(faulty, loaded);
    }
    await expectConsistent(p);
    client.destroy();
  });
});

describe('onSubnetDeleted', () => {
  it('is harmless twice, and for a subnet that still exists', async () => {
    const p = await pool({ prefixes: ['10.45.0.0/16'] });
    const kept = await carve(p.id, { prefixLength: 24 });
    await onSubnetDeleted(db.ctx, await loadSubnet(db.ctx, kept.id));
    const gone = await carve(p.id, { prefixLength: 24 });
    const subnet = await loadSubnet(db.ctx, gone.id);
    await deleteSubnet(db.ctx, gone.id, onSubnetDeleted);
    await onSubnetDeleted(db.ctx, subnet);
    await onSubnetDeleted(db.ctx, subnet);
    expect((await getPool(db.ctx, p.id)).usage.allocatedAddresses).toBe('256');
    await expectConsistent(p);
    expect(await carveCidr(p.id, 24)).toBe('10.45.1.0/24');
  });
});

describe('deletePool', () => {
  it('answers POOL_IN_USE while carved subnets exist, then deletes everything', async () => {
    const p = await pool({ prefixes: ['10.46.0.0/16'] });
    const a = await carve(p.id, { prefixLength: 24 });
    const b = await carve(p.id, { prefixLength: 26 });
    await expect(deletePool(db.ctx, p.id)).rejects.toMatchObject({
      code: 'POOL_IN_USE',
      details: { poolId: p.id, carvedSubnets: 2 },
    });
    await remove(a.id);
    await expect(deletePool(db.ctx, p.id)).rejects.toBeInstanceOf(PoolInUseError);
    // Deleted without onSubnetDeleted: the pool notices that the subnet is gone.
    await deleteSubnet(db.ctx, b.id, withoutGiveBack);
    await deletePool(db.ctx, p.id);
    await expect(getPool(db.ctx, p.id)).rejects.toBeInstanceOf(PoolNotFoundError);
    expect(await partition(poolKeys.freePartition(p.id))).toEqual([]);
    expect(await partition(poolKeys.usedPartition(p.id))).toEqual([]);
    await expect(deletePool(db.ctx, p.id)).rejects.toBeInstanceOf(PoolNotFoundError);
  });
});

describe('carve and delete sequences (property)', () => {
  const RANGE = parseCidr('10.0.0.0/20');
  /** An aligned block of length 20-27 inside RANGE: some hold a prefix, some lie outside. */
  const blockArbOf = (maxLength: number) =>
    fc.record({ length: fc.integer({ min: 20, max: maxLength }), slot: fc.nat() }).map(
      ({ length, slot }): Cidr => ({
        version: 4,
        network: RANGE.network + BigInt(slot % 2 ** (length - 20)) * BigInt(2 ** (32 - length)),
        prefixLength: length,
      }),
    );
  const blockArb = blockArbOf(27);
  /** Large enough to take much of a pool, so that carves meet them and pools run out. */
  const largeBlockArb = blockArbOf(24);
  const prefixesArb = fc.constantFrom(['10.0.0.0/21'], ['10.0.0.0/22', '10.0.8.0/21']);
  let run = 0;

  /** Creates the non-overlapping ones among `blocks` directly in `space`. */
  async function createDirect(space: string, blocks: readonly Cidr[]): Promise<SubnetView[]> {
    const created: SubnetView[] = [];
    for (const block of blocks) {
      if (created.some((subnet) => blocksOverlap(parseCidr(subnet.cidr), block))) continue;
      created.push(await createSubnet(db.ctx, { cidr: formatCidr(block), space }));
    }
    return created;
  }

  it('match the in-memory model, with the space’s subnets learned at creation', async () => {
    type Op = { readonly carve: number } | { readonly remove: number };
    const opArb = fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 21, max: 26 }).map((carve): Op => ({ carve })) },
      { weight: 2, arbitrary: fc.nat().map((remove): Op => ({ remove })) },
    );
    await fc.assert(
      fc.asyncProperty(
        prefixesArb,
        fc.array(blockArb, { maxLength: 4 }),
        fc.array(opArb, { maxLength: 12 }),
        async (prefixes, directBlocks, ops) => {
          const space = `model-${++run}`;
          const roots = prefixes.map(parseCidr);
          const direct = await createDirect(space, directBlocks);
          const p = await createPool(db.ctx, { space, prefixes });
          const model = new BuddyFreeList(roots);
          for (const block of direct.map((subnet) => parseCidr(subnet.cidr))) {
            for (const root of roots.filter((candidate) => blocksOverlap(candidate, block))) {
              expect(model.take(containsBlock(block, root) ? root : block)).toBe(true);
            }
          }
          const live: SubnetView[] = [];
          for (const op of ops) {
            if ('carve' in op) {
              const expected = model.carve(op.carve);
              const carved = await carve(p.id, { prefixLength: op.carve }).catch(
                (error: unknown) => error,
              );
              if (expected === undefined) {
                expect(carved).toBeInstanceOf(PoolExhaustedError);
              } else {
                expect((carved as SubnetView).cidr).toBe(formatCidr(expected));
                live.push(carved as SubnetView);
              }
            } else if (live.length > 0) {
              const [gone] = live.splice(op.remove % live.length, 1);
              await remove(gone!.id);
              model.release(parseCidr(gone!.cidr));
            }
          }
          expectDisjointInside(
            live.map((subnet) => subnet.cidr),
            prefixes,
          );
          expect([...(await structure(p)).free].sort()).toEqual(
            model.blocks().map(formatCidr).sort(),
          );
          await expectConsistent(p);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('never overlap and never run out early while direct subnets come and go', async () => {
    type Op =
      | { readonly carve: number }
      | { readonly remove: number }
      | { readonly direct: Cidr }
      | { readonly dropDirect: number };
    const opArb = fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 21, max: 26 }).map((carve): Op => ({ carve })) },
      { weight: 2, arbitrary: fc.nat().map((remove): Op => ({ remove })) },
      { weight: 2, arbitrary: largeBlockArb.map((direct): Op => ({ direct })) },
      { weight: 2, arbitrary: fc.nat().map((dropDirect): Op => ({ dropDirect })) },
    );
    await fc.assert(
      fc.asyncProperty(prefixesArb, fc.array(opArb, { maxLength: 14 }), async (prefixes, ops) => {
        const space = `churn-${++run}`;
        const roots = prefixes.map(parseCidr);
        const p = await createPool(db.ctx, { space, prefixes });
        const carvedLive: SubnetView[] = [];
        const directLive: SubnetView[] = [];
        for (const op of ops) {
          if ('carve' in op) {
            const carved = await carve(p.id, { prefixLength: op.carve }).catch(
              (error: unknown) => error,
            );
            if (carved instanceof PoolExhaustedError) {
              // Exhausted only when no free block of the space's true free set fits.
              const taken = [...carvedLive, ...directLive].map((subnet) => parseCidr(subnet.cidr));
              const fits = freeBlocksOf(roots, taken).filter((b) => b.prefixLength <= op.carve);
              expect(fits.map(formatCidr)).toEqual([]);
            } else {
              carvedLive.push(carved as SubnetView);
            }
          } else if ('remove' in op) {
            if (carvedLive.length === 0) continue;
            const [gone] = carvedLive.splice(op.remove % carvedLive.length, 1);
            await remove(gone!.id);
          } else if ('direct' in op) {
            const created = await createSubnet(db.ctx, {
              cidr: formatCidr(op.direct),
              space,
            }).catch((error: unknown) => error);
            if (!(created instanceof SubnetOverlapError)) directLive.push(created as SubnetView);
          } else if (directLive.length > 0) {
            const [gone] = directLive.splice(op.dropDirect % directLive.length, 1);
            await deleteSubnet(db.ctx, gone!.id, onSubnetDeleted);
          }
        }
        expectDisjointInside(
          carvedLive.map((subnet) => subnet.cidr),
          prefixes,
        );
        const all = [...carvedLive, ...directLive].map((subnet) => subnet.cidr);
        expectDisjointInside(all, [RANGE].map(formatCidr));
        await expectConsistent(p);
        const carvedAddresses = carvedLive.reduce(
          (sum, subnet) => sum + cidrSize(parseCidr(subnet.cidr)),
          0n,
        );
        expect((await getPool(db.ctx, p.id)).usage.allocatedAddresses).toBe(
          carvedAddresses.toString(),
        );
      }),
      { numRuns: 15 },
    );
  });
});

describe('cost', () => {
  it('is the same handful of requests per carve with 10 and with 100 subnets carved', async () => {
    const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
    const { calls } = injectFaults(client, []);
    const ctx: IpamContext = { ...db.ctx, doc: createDocumentClient(client) };
    const p = await pool({ prefixes: ['10.60.0.0/16'] });
    const requestsPerCarve = async (): Promise<number> => {
      calls.clear();
      await carveSubnet(ctx, p.id, { prefixLength: 28 });
      return [...calls.values()].reduce((sum, n) => sum + n, 0);
    };
    const costs: Record<number, number> = {};
    for (let carved = 0; carved <= 100; carved++) {
      if (carved === 10 || carved === 100) costs[carved] = await requestsPerCarve();
      else await carveSubnet(ctx, p.id, { prefixLength: 28 });
    }
    expect(costs).toEqual({ 10: 7, 100: 7 });
    client.destroy();
  });
});
