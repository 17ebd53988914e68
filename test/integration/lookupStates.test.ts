/**
 * `GET /addresses/{ip}`'s states that need a clock: a lease past its expiry is
 * LEASE_EXPIRED (allocatable now, its old view shown) until someone takes it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { lookupAddress } from '../../shared/allocator/index.js';
import { parseIp } from '../../shared/net/address.js';
import { createSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;
let allocator: TextAllocator;
beforeAll(async () => {
  db = await createTestDb();
  allocator = new TextAllocator(db.ctx);
});

describe('address lookup over time', () => {
  it('shows an expired lease as LEASE_EXPIRED with its old view, then the new holder', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.77.0.0/29', space: 'lookup-lease' });
    const [leased] = await allocator.allocate(subnet.id, {
      ip: '10.77.0.3',
      owner: 'pod-a',
      ttlSeconds: 60,
    });
    const state = async () =>
      (await lookupAddress(db.ctx, parseIp('10.77.0.3'), 'lookup-lease')).items[0];
    expect(await state()).toMatchObject({ state: 'ALLOCATED', allocation: leased });
    db.advance(61_000);
    expect(await state()).toMatchObject({
      state: 'LEASE_EXPIRED',
      inPools: true,
      allocation: leased,
    });
    // Allocatable now: a specific request takes it over.
    const [taken] = await allocator.allocate(subnet.id, { ip: '10.77.0.3', owner: 'pod-b' });
    expect(await state()).toMatchObject({ state: 'ALLOCATED', allocation: taken });
    expect(taken?.owner).toBe('pod-b');
  });
});
