import { beforeAll, describe, expect, it } from 'vitest';
import {
  GatewayInPoolError,
  InvalidAllocationPoolError,
  InvalidCidrError,
  InvalidGatewayError,
  InvalidIpError,
  SubnetInUseError,
  SubnetNotFoundError,
  SubnetOverlapError,
} from '../../shared/errors.js';
import { onSubnetDeleted } from '../../shared/pools/index.js';
import {
  createSubnet,
  deleteSubnet,
  getSubnet,
  listSubnets,
  updateSubnet,
} from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});

describe('createSubnet', () => {
  it('applies the defaults: gateway, pools split around it, space, usage', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.1.0.0/24', space: 'defaults' });
    expect(subnet).toMatchObject({
      cidr: '10.1.0.0/24',
      ipVersion: 4,
      name: null,
      space: 'defaults',
      gatewayIp: '10.1.0.1',
      allocationPools: [{ start: '10.1.0.2', end: '10.1.0.254' }],
      tags: {},
      usage: { total: 253, allocated: 0, available: 253, outsidePools: 0 },
    });
    expect(subnet.id).toMatch(/^sub_[A-Za-z0-9_-]{22}$/);
  });

  it('splits the default pool in two when the gateway sits inside the range', async () => {
    const subnet = await createSubnet(db.ctx, {
      cidr: '10.2.0.0/28',
      space: 'split',
      gatewayIp: '10.2.0.5',
    });
    expect(subnet.allocationPools).toEqual([
      { start: '10.2.0.1', end: '10.2.0.4' },
      { start: '10.2.0.6', end: '10.2.0.14' },
    ]);
  });

  it('gives /31 and /32 no gateway and every address', async () => {
    const p2p = await createSubnet(db.ctx, { cidr: '10.3.0.0/31', space: 'p2p' });
    expect(p2p.gatewayIp).toBeNull();
    expect(p2p.allocationPools).toEqual([{ start: '10.3.0.0', end: '10.3.0.1' }]);
    const host = await createSubnet(db.ctx, { cidr: '2001:db8:3::1/128', space: 'p2p' });
    expect(host.gatewayIp).toBeNull();
    expect(host.allocationPools).toEqual([{ start: '2001:db8:3::1', end: '2001:db8:3::1' }]);
  });

  it('uses network+1 to the last address for IPv6 and reports big sizes as strings', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '2001:DB8:1::/64', space: 'v6' });
    expect(subnet.cidr).toBe('2001:db8:1::/64');
    expect(subnet.gatewayIp).toBe('2001:db8:1::1');
    expect(subnet.allocationPools).toEqual([
      { start: '2001:db8:1::2', end: '2001:db8:1:0:ffff:ffff:ffff:ffff' },
    ]);
    expect(subnet.usage.total).toBe('18446744073709551614');
  });

  it('accepts no gateway (null) and empty pools', async () => {
    const subnet = await createSubnet(db.ctx, {
      cidr: '10.4.0.0/24',
      space: 'empty',
      gatewayIp: null,
      allocationPools: [],
    });
    expect(subnet.gatewayIp).toBeNull();
    expect(subnet.usage.total).toBe(0);
  });

  it.each([
    ['10.0.0.0/7', InvalidCidrError],
    ['2001:db8::/31', InvalidCidrError],
    ['10.0.0.1/24', InvalidCidrError],
    ['10.0.0.0', InvalidCidrError],
  ])('rejects the CIDR %s', async (cidr, error) => {
    await expect(createSubnet(db.ctx, { cidr, space: 'bad' })).rejects.toBeInstanceOf(error);
  });

  it('suggests the network when host bits are set', async () => {
    await expect(createSubnet(db.ctx, { cidr: '10.0.0.1/24', space: 'bad' })).rejects.toMatchObject(
      {
        code: 'INVALID_CIDR',
        details: { suggestion: '10.0.0.0/24' },
      },
    );
  });

  it.each([
    ['10.5.0.0', 'the network address'],
    ['10.5.0.255', 'the broadcast address'],
    ['10.6.0.1', 'outside the CIDR'],
    ['2001:db8::1', 'of the other version'],
  ])('rejects gateway %s (%s)', async (gatewayIp) => {
    await expect(
      createSubnet(db.ctx, { cidr: '10.5.0.0/24', space: 'gw', gatewayIp }),
    ).rejects.toBeInstanceOf(InvalidGatewayError);
  });

  it('rejects a malformed gateway as INVALID_IP', async () => {
    await expect(
      createSubnet(db.ctx, { cidr: '10.5.0.0/24', space: 'gw', gatewayIp: '10.5.0.01' }),
    ).rejects.toBeInstanceOf(InvalidIpError);
  });

  it('accepts the network address as an IPv6 gateway', async () => {
    const subnet = await createSubnet(db.ctx, {
      cidr: '2001:db8:5::/64',
      space: 'gw',
      gatewayIp: '2001:db8:5::',
    });
    expect(subnet.gatewayIp).toBe('2001:db8:5::');
  });

  it.each([
    [[{ start: '10.7.0.20', end: '10.7.0.10' }], 'START_AFTER_END'],
    [[{ start: '2001:db8::1', end: '2001:db8::5' }], 'VERSION_MISMATCH'],
    [[{ start: '10.7.0.0', end: '10.7.0.10' }], 'OUTSIDE_SUBNET'],
    [[{ start: '10.7.0.250', end: '10.7.0.255' }], 'OUTSIDE_SUBNET'],
    [[{ start: '10.7.0.10', end: '10.7.1.10' }], 'OUTSIDE_SUBNET'],
    [
      [
        { start: '10.7.0.10', end: '10.7.0.20' },
        { start: '10.7.0.20', end: '10.7.0.30' },
      ],
      'OVERLAPPING',
    ],
  ])('rejects pools %j with reason %s', async (allocationPools, reason) => {
    const attempt = createSubnet(db.ctx, { cidr: '10.7.0.0/24', space: 'pools', allocationPools });
    await expect(attempt).rejects.toBeInstanceOf(InvalidAllocationPoolError);
    await expect(attempt).rejects.toMatchObject({ details: { reason } });
  });

  it('rejects a pool that holds the gateway with GATEWAY_IN_POOL', async () => {
    await expect(
      createSubnet(db.ctx, {
        cidr: '10.7.0.0/24',
        space: 'pools',
        allocationPools: [{ start: '10.7.0.1', end: '10.7.0.9' }],
      }),
    ).rejects.toBeInstanceOf(GatewayInPoolError);
  });

  it('rejects an overlapping subnet in the same space, naming the conflict', async () => {
    const first = await createSubnet(db.ctx, { cidr: '10.8.0.0/16', space: 'overlap' });
    for (const cidr of ['10.8.5.0/24', '10.0.0.0/8', '10.8.0.0/16']) {
      await expect(createSubnet(db.ctx, { cidr, space: 'overlap' })).rejects.toMatchObject({
        code: 'SUBNET_OVERLAP',
        details: { conflictingSubnetId: first.id, conflictingCidr: '10.8.0.0/16' },
      });
    }
    // Neighbours and other spaces are fine.
    await createSubnet(db.ctx, { cidr: '10.9.0.0/16', space: 'overlap' });
    await createSubnet(db.ctx, { cidr: '10.7.255.0/24', space: 'overlap' });
    await createSubnet(db.ctx, { cidr: '10.8.5.0/24', space: 'overlap-other' });
  });

  it('lets exactly one of many racing overlapping creates win', async () => {
    const cidrs = [
      '10.20.0.0/16',
      '10.20.0.0/24',
      '10.20.1.0/24',
      '10.20.128.0/17',
      '10.0.0.0/8',
      '10.20.7.0/25',
    ];
    const results = await Promise.allSettled(
      [...cidrs, ...cidrs].map((cidr) => createSubnet(db.ctx, { cidr, space: 'race' })),
    );
    const won = results.filter((result) => result.status === 'fulfilled');
    const lost = results.filter((result) => result.status === 'rejected');
    const wonCidrs = won.map(
      (result) => (result as PromiseFulfilledResult<{ cidr: string }>).value.cidr,
    );
    // Whatever won, the winners are pairwise disjoint.
    expect(
      lost.every(
        (result) => (result as PromiseRejectedResult).reason instanceof SubnetOverlapError,
      ),
    ).toBe(true);
    const listed = await listSubnets(db.ctx, { space: 'race', limit: 100 });
    expect(listed.items.map((item) => item.cidr).sort()).toEqual([...wonCidrs].sort());
    expect(new Set(wonCidrs).size).toBe(wonCidrs.length);
  });

  it('lets exactly one of two racing identical creates win', async () => {
    const results = await Promise.allSettled([
      createSubnet(db.ctx, { cidr: '192.168.0.0/24', space: 'twin' }),
      createSubnet(db.ctx, { cidr: '192.168.0.0/24', space: 'twin' }),
    ]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
  });
});

describe('listSubnets', () => {
  it('pages with a cursor and filters by space', async () => {
    for (const third of [1, 2, 3])
      await createSubnet(db.ctx, { cidr: `172.16.${third}.0/24`, space: 'paged' });
    const first = await listSubnets(db.ctx, { space: 'paged', limit: 2 });
    expect(first.items.map((item) => item.cidr)).toEqual(['172.16.1.0/24', '172.16.2.0/24']);
    expect(first.nextCursor).not.toBeNull();
    const second = await listSubnets(db.ctx, {
      space: 'paged',
      limit: 2,
      cursor: first.nextCursor!,
    });
    expect(second.items.map((item) => item.cidr)).toEqual(['172.16.3.0/24']);
  });

  it('rejects a cursor it did not make', async () => {
    await expect(listSubnets(db.ctx, { limit: 2, cursor: 'garbage' })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
    });
  });
});

describe('updateSubnet', () => {
  it('renames and retags without touching pools', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.30.0.0/24', space: 'patch' });
    const updated = await updateSubnet(db.ctx, subnet.id, { name: 'web', tags: { team: 'net' } });
    expect(updated).toMatchObject({
      name: 'web',
      tags: { team: 'net' },
      allocationPools: subnet.allocationPools,
    });
  });

  it('rejects a gateway moved into a pool', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.31.0.0/24', space: 'patch' });
    await expect(
      updateSubnet(db.ctx, subnet.id, { gatewayIp: '10.31.0.50' }),
    ).rejects.toBeInstanceOf(GatewayInPoolError);
  });

  it('keeps allocations when pools shrink and counts them outside the pools', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.32.0.0/24', space: 'patch' });
    const allocator = new TextAllocator(db.ctx);
    await allocator.allocate(subnet.id, { ip: '10.32.0.100' });
    await allocator.allocate(subnet.id, { ip: '10.32.0.10' });
    const updated = await updateSubnet(db.ctx, subnet.id, {
      allocationPools: [{ start: '10.32.0.2', end: '10.32.0.50' }],
    });
    expect(updated.usage).toEqual({ total: 49, allocated: 1, available: 48, outsidePools: 1 });
    const fetched = await getSubnet(db.ctx, subnet.id);
    expect(fetched.usage).toEqual(updated.usage);
  });

  it('refuses to move the gateway onto an allocated address', async () => {
    const subnet = await createSubnet(db.ctx, {
      cidr: '10.33.0.0/24',
      space: 'patch',
      allocationPools: [{ start: '10.33.0.10', end: '10.33.0.20' }],
    });
    await new TextAllocator(db.ctx).allocate(subnet.id, { ip: '10.33.0.200', owner: 'lb' });
    await expect(
      updateSubnet(db.ctx, subnet.id, { gatewayIp: '10.33.0.200' }),
    ).rejects.toMatchObject({
      code: 'IP_ALREADY_ALLOCATED',
      details: { owner: 'lb' },
    });
  });
});

describe('deleteSubnet', () => {
  it('refuses while allocations exist, then deletes', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.40.0.0/24', space: 'delete' });
    const allocator = new TextAllocator(db.ctx);
    const [allocation] = await allocator.allocate(subnet.id, {});
    await expect(deleteSubnet(db.ctx, subnet.id, onSubnetDeleted)).rejects.toBeInstanceOf(
      SubnetInUseError,
    );
    await allocator.release(subnet.id, allocation!.ip);
    await deleteSubnet(db.ctx, subnet.id, onSubnetDeleted);
    await expect(getSubnet(db.ctx, subnet.id)).rejects.toBeInstanceOf(SubnetNotFoundError);
    // The range is free again in its space.
    await createSubnet(db.ctx, { cidr: '10.40.0.0/24', space: 'delete' });
  });

  it('answers SUBNET_NOT_FOUND for unknown and malformed ids', async () => {
    await expect(
      deleteSubnet(db.ctx, 'sub_AAAAAAAAAAAAAAAAAAAAAA', onSubnetDeleted),
    ).rejects.toBeInstanceOf(SubnetNotFoundError);
    await expect(getSubnet(db.ctx, '../etc/passwd')).rejects.toBeInstanceOf(SubnetNotFoundError);
  });
});
