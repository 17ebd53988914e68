/**
 * Chosen interleavings of one allocation's release and PATCH with other writers:
 * the other writer runs between a request's read and its write (a middleware
 * holds the request's first transaction until it is done), so each race of
 * issue 14 happens on every run instead of now and then.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AllocationNotFoundError,
  OwnerMismatchError,
  SubnetNotFoundError,
} from '../../shared/errors.js';
import { readCounters } from '../../shared/subnets/counters.js';
import {
  createSubnet,
  deleteSubnet,
  getSubnet,
  loadSubnet,
  updateSubnet,
} from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import { interrupted } from '../support/interleave.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;

beforeAll(async () => {
  db = await createTestDb();
});

async function subnetWith(owner: string) {
  const subnet = await createSubnet(db.ctx, {
    cidr: '10.9.0.0/24',
    space: `s${Math.random().toString(36).slice(2)}`,
  });
  const other = new TextAllocator(db.ctx);
  const [held] = await other.allocate(subnet.id, { ip: '10.9.0.10', owner });
  return { subnet, other, ip: held!.ip };
}

describe('Allocator under chosen interleavings', () => {
  it('refuses a guarded release once a PATCH gave the address to another owner', async () => {
    const { subnet, other, ip } = await subnetWith('alice');
    const racing = new TextAllocator(
      interrupted(db, async () => {
        await other.update(subnet.id, ip, { owner: 'bob' });
      }),
    );
    await expect(racing.release(subnet.id, ip, 'alice')).rejects.toBeInstanceOf(OwnerMismatchError);
    expect((await other.get(subnet.id, ip)).owner).toBe('bob');
  });

  it('never releases the next holder of an address released and allocated again meanwhile', async () => {
    const { subnet, other, ip } = await subnetWith('alice');
    const racing = new TextAllocator(
      interrupted(db, async () => {
        await other.release(subnet.id, ip);
        await other.allocate(subnet.id, { ip, owner: 'carol' });
      }),
    );
    await expect(racing.release(subnet.id, ip)).rejects.toBeInstanceOf(AllocationNotFoundError);
    expect((await other.get(subnet.id, ip)).owner).toBe('carol');
  });

  it('never patches the next holder of an address released and allocated again meanwhile', async () => {
    const { subnet, other, ip } = await subnetWith('alice');
    const racing = new TextAllocator(
      interrupted(db, async () => {
        await other.release(subnet.id, ip);
        await other.allocate(subnet.id, { ip, owner: 'carol', tags: { team: 'c' } });
      }),
    );
    await expect(racing.update(subnet.id, ip, { tags: { team: 'a' } })).rejects.toBeInstanceOf(
      AllocationNotFoundError,
    );
    expect((await other.get(subnet.id, ip)).tags).toEqual({ team: 'c' });
  });

  it('keeps both of two racing PATCHes of different fields', async () => {
    const { subnet, other, ip } = await subnetWith('alice');
    const racing = new TextAllocator(
      interrupted(db, async () => {
        await other.update(subnet.id, ip, { description: 'from the other' });
      }),
    );
    await racing.update(subnet.id, ip, { tags: { team: 'a' } });
    const now = await other.get(subnet.id, ip);
    expect(now.description).toBe('from the other');
    expect(now.tags).toEqual({ team: 'a' });
  });

  it('counts a lease once when it is renewed while a release is being decided', async () => {
    const { subnet, other } = await subnetWith('alice');
    const [leased] = await other.allocate(subnet.id, { ip: '10.9.0.20', ttlSeconds: 600 });
    const racing = new TextAllocator(
      interrupted(db, async () => {
        await other.update(subnet.id, leased!.ip, { ttlSeconds: 1200 });
      }),
    );
    await racing.release(subnet.id, leased!.ip);
    const counters = await readCounters(db.ctx, await loadSubnet(db.ctx, subnet.id), true);
    expect(counters.reduce((sum, counter) => sum + counter.l, 0)).toBe(0);
    expect(counters.reduce((sum, counter) => sum + counter.n, 0)).toBe(1);
  });
});

describe('Subnets under a pools PATCH loop', () => {
  const ranges = [
    [{ start: '10.8.0.10', end: '10.8.0.100' }],
    [{ start: '10.8.0.20', end: '10.8.0.200' }],
  ];
  function patchLoop(subnetId: string) {
    let turn = 0;
    return async () => {
      turn++;
      await updateSubnet(db.ctx, subnetId, { allocationPools: ranges[turn % 2] });
    };
  }

  it('reads a subnet whose pools change between every read of its counters', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.8.0.0/24', space: 'patchloop1' });
    const ctx = interrupted(db, patchLoop(subnet.id), 'BatchGetItemCommand', 4);
    expect((await getSubnet(ctx, subnet.id)).id).toBe(subnet.id);
  });

  it('deletes a subnet whose pools change between its reads', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.8.0.0/24', space: 'patchloop2' });
    const ctx = interrupted(db, patchLoop(subnet.id), 'BatchGetItemCommand', 4);
    await deleteSubnet(ctx, subnet.id, async () => undefined);
    await expect(getSubnet(db.ctx, subnet.id)).rejects.toBeInstanceOf(SubnetNotFoundError);
  });
});
