import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AllocationView } from '../../shared/allocator/index.js';
import {
  AllocationContentionError,
  AllocationNotFoundError,
  InvalidIpError,
  InvalidMacError,
  IpAlreadyAllocatedError,
  IpNotInSubnetError,
  IpReservedError,
  MacNotApplicableError,
  OwnerMismatchError,
  SubnetExhaustedError,
  SubnetNotFoundError,
  ValidationError,
} from '../../shared/errors.js';
import { onSubnetDeleted } from '../../shared/pools/index.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import { keys } from '../../shared/store/keys.js';
import { TRANSACTION_ATTEMPTS } from '../../shared/store/transactions.js';
import {
  createSubnet,
  deleteSubnet,
  getSubnet,
  updateSubnet,
} from '../../shared/subnets/subnets.js';
import { createTestDb, storedIps, storedItems, type TestDb } from '../support/dynamo.js';
import { injectFaults } from '../support/faults.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;
let allocator: TextAllocator;
let nextSpace = 0;

beforeAll(async () => {
  db = await createTestDb();
  allocator = new TextAllocator(db.ctx);
});

/** Each test gets its own space, so CIDRs may repeat across tests. */
async function subnet(cidr: string, extra: Record<string, unknown> = {}) {
  nextSpace++;
  return createSubnet(db.ctx, { cidr, space: `alloc-${nextSpace}`, ...extra });
}

async function one(
  subnetId: string,
  input: Parameters<TextAllocator['allocate']>[1] = {},
): Promise<AllocationView> {
  const [allocation] = await allocator.allocate(subnetId, input);
  return allocation!;
}

describe('Allocator', () => {
  describe('allocate a specific ip', () => {
    it('allocates the address with its details', async () => {
      const s = await subnet('10.0.0.0/24');
      const allocation = await one(s.id, {
        ip: '10.0.0.77',
        owner: 'vm-1',
        description: 'web',
        tags: { env: 'prod' },
      });
      expect(allocation).toMatchObject({
        subnetId: s.id,
        ip: '10.0.0.77',
        owner: 'vm-1',
        description: 'web',
        tags: { env: 'prod' },
        macAddress: null,
        expiresAt: null,
      });
      expect((await getSubnet(db.ctx, s.id)).usage).toEqual({
        total: 253,
        allocated: 1,
        available: 252,
        outsidePools: 0,
      });
    });

    it('allocates an address outside the pools and counts it there', async () => {
      const s = await subnet('10.0.0.0/24', {
        allocationPools: [{ start: '10.0.0.10', end: '10.0.0.19' }],
      });
      await one(s.id, { ip: '10.0.0.200' });
      expect((await getSubnet(db.ctx, s.id)).usage).toEqual({
        total: 10,
        allocated: 0,
        available: 10,
        outsidePools: 1,
      });
    });

    it('rejects a taken address, naming its owner', async () => {
      const s = await subnet('10.0.0.0/24');
      await one(s.id, { ip: '10.0.0.5', owner: 'pod-a' });
      await expect(allocator.allocate(s.id, { ip: '10.0.0.5' })).rejects.toMatchObject({
        code: 'IP_ALREADY_ALLOCATED',
        details: { ip: '10.0.0.5', owner: 'pod-a' },
      });
    });

    it.each([
      ['10.0.1.5', IpNotInSubnetError],
      ['2001:db8::5', IpNotInSubnetError],
      ['10.0.0.0', IpNotInSubnetError],
      ['10.0.0.255', IpNotInSubnetError],
      ['10.0.0.1', IpReservedError],
      ['010.0.0.5', InvalidIpError],
      ['10.0.0', InvalidIpError],
    ])('rejects %s', async (ip, error) => {
      const s = await subnet('10.0.0.0/24');
      await expect(allocator.allocate(s.id, { ip })).rejects.toBeInstanceOf(error);
    });

    it('reserves the IPv6 subnet-router anycast address but not in a /127', async () => {
      const s = await subnet('2001:db8::/64');
      await expect(allocator.allocate(s.id, { ip: '2001:db8::' })).rejects.toMatchObject({
        code: 'IP_RESERVED',
        details: { reason: 'SUBNET_ROUTER_ANYCAST' },
      });
      const p2p = await subnet('2001:db8:1::/127');
      expect((await one(p2p.id, { ip: '2001:db8:1::' })).ip).toBe('2001:db8:1::');
    });

    it('gives the address to exactly one of 32 concurrent requests', async () => {
      const s = await subnet('10.0.0.0/24');
      const results = await Promise.allSettled(
        Array.from({ length: 32 }, (_, i) =>
          new TextAllocator(db.ctx).allocate(s.id, { ip: '10.0.0.9', owner: `c${i}` }),
        ),
      );
      const winners = results.filter((result) => result.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      for (const result of results) {
        if (result.status === 'rejected')
          expect(result.reason).toBeInstanceOf(IpAlreadyAllocatedError);
      }
      expect(await storedIps(db.ctx, s.id)).toEqual(['10.0.0.9']);
    });
  });

  describe('allocate by strategy', () => {
    it('hands out the lowest free pool address with sequential', async () => {
      const s = await subnet('10.0.0.0/24', {
        allocationPools: [{ start: '10.0.0.100', end: '10.0.0.110' }],
      });
      await one(s.id, { ip: '10.0.0.101' });
      const ips = [];
      for (let i = 0; i < 3; i++) ips.push((await one(s.id, { strategy: 'sequential' })).ip);
      expect(ips).toEqual(['10.0.0.100', '10.0.0.102', '10.0.0.103']);
    });

    it('hands out random addresses from the pools only', async () => {
      const s = await subnet('10.0.0.0/24', {
        allocationPools: [
          { start: '10.0.0.10', end: '10.0.0.12' },
          { start: '10.0.0.240', end: '10.0.0.241' },
        ],
      });
      const ips = [];
      for (let i = 0; i < 5; i++) ips.push((await one(s.id)).ip);
      expect(ips.sort()).toEqual([
        '10.0.0.10',
        '10.0.0.11',
        '10.0.0.12',
        '10.0.0.240',
        '10.0.0.241',
      ]);
      await expect(allocator.allocate(s.id, {})).rejects.toMatchObject({
        code: 'SUBNET_EXHAUSTED',
        details: { total: 5, allocated: 5, requested: 1 },
      });
    });

    it('spreads random allocations over a /16 (not sequential)', async () => {
      const s = await subnet('10.1.0.0/16');
      const ips = await allocator.allocate(s.id, { count: 20 });
      const thirdOctets = new Set(ips.map((a) => a.ip.split('.')[2]));
      expect(thirdOctets.size).toBeGreaterThan(1);
      expect(new Set(ips.map((a) => a.ip)).size).toBe(20);
    });

    it('allocates in an IPv6 /64 without materialising it', async () => {
      const s = await subnet('2001:db8:2::/64');
      const [a, b] = await allocator.allocate(s.id, { count: 2, owner: 'v6' });
      expect(a!.ip).toMatch(/^2001:db8:2:0:/);
      expect(a!.ip).not.toBe(b!.ip);
      const seq = await one(s.id, { strategy: 'sequential' });
      expect(seq.ip).toBe('2001:db8:2::2');
      expect((await getSubnet(db.ctx, s.id)).usage.allocated).toBe(3);
    });

    it('derives the modified EUI-64 address from a MAC in an IPv6 /64', async () => {
      const s = await subnet('2001:db8:3::/64');
      const allocation = await one(s.id, { macAddress: '00-11-22-33-44-55' });
      expect(allocation).toMatchObject({
        ip: '2001:db8:3:0:211:22ff:fe33:4455',
        macAddress: '00:11:22:33:44:55',
      });
      await expect(
        allocator.allocate(s.id, { macAddress: '0011.2233.4455' }),
      ).rejects.toBeInstanceOf(IpAlreadyAllocatedError);
    });

    it('rejects a MAC outside an IPv6 /64 and a malformed MAC', async () => {
      const v4 = await subnet('10.0.0.0/24');
      await expect(
        allocator.allocate(v4.id, { macAddress: '00:11:22:33:44:55' }),
      ).rejects.toBeInstanceOf(MacNotApplicableError);
      const v6 = await subnet('2001:db8:4::/64');
      await expect(
        allocator.allocate(v6.id, { macAddress: '00:11:22:33:44' }),
      ).rejects.toBeInstanceOf(InvalidMacError);
    });

    it('answers SUBNET_NOT_FOUND for an unknown subnet', async () => {
      await expect(allocator.allocate('sub_AAAAAAAAAAAAAAAAAAAAAA', {})).rejects.toBeInstanceOf(
        SubnetNotFoundError,
      );
    });

    it('refuses ip with count', async () => {
      const s = await subnet('10.0.0.0/24');
      await expect(allocator.allocate(s.id, { ip: '10.0.0.5', count: 2 })).rejects.toBeInstanceOf(
        ValidationError,
      );
    });
  });

  describe('allocate count', () => {
    it('allocates 100 distinct addresses at once (the multi-step path)', async () => {
      const s = await subnet('10.2.0.0/16');
      const ips = await allocator.allocate(s.id, { count: 100, owner: 'bulk' });
      expect(new Set(ips.map((a) => a.ip)).size).toBe(100);
      expect(await storedIps(db.ctx, s.id)).toHaveLength(100);
      expect((await getSubnet(db.ctx, s.id)).usage.allocated).toBe(100);
      expect(await storedItems(db.ctx, 'pending', s.id)).toEqual([]);
    });

    it('allocates nothing when fewer addresses are free than requested', async () => {
      const s = await subnet('10.0.0.0/28');
      await allocator.allocate(s.id, { count: 10 });
      await expect(allocator.allocate(s.id, { count: 4 })).rejects.toMatchObject({
        code: 'SUBNET_EXHAUSTED',
        details: { total: 13, allocated: 10, requested: 4 },
      });
      expect(await storedIps(db.ctx, s.id)).toHaveLength(10);
    });

    it.each([
      ['the reservation', 2],
      ['the allocation items', 3],
    ])('leaves nothing held when %s fails part-way', async (_, failingCall) => {
      const s = await subnet('10.3.0.0/16');
      const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
      // Calls: 1 pending record, 2 reservation, 3 allocation items, 4 commit. Every
      // retry of the failing step fails too; the undo that follows goes through.
      injectFaults(client, [
        {
          command: 'TransactWriteItemsCommand',
          when: (call) => call >= failingCall && call < failingCall + TRANSACTION_ATTEMPTS,
          error: 'InternalServerError',
        },
      ]);
      const faulty = new TextAllocator({ ...db.ctx, doc: createDocumentClient(client) });
      await expect(faulty.allocate(s.id, { count: 100 })).rejects.toMatchObject({
        name: 'InternalServerError',
      });
      expect(await storedIps(db.ctx, s.id)).toEqual([]);
      expect(await storedItems(db.ctx, 'pending', s.id)).toEqual([]);
      expect((await getSubnet(db.ctx, s.id)).usage).toMatchObject({
        allocated: 0,
        outsidePools: 0,
      });
      // And the addresses are free again: the whole /16 can still be filled from there.
      expect(await allocator.allocate(s.id, { count: 100 })).toHaveLength(100);
    });

    it('leaves nothing held when a single-transaction count request fails', async () => {
      const s = await subnet('10.4.0.0/24');
      const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
      injectFaults(client, [
        { command: 'TransactWriteItemsCommand', when: () => true, error: 'InternalServerError' },
      ]);
      const faulty = new TextAllocator({ ...db.ctx, doc: createDocumentClient(client) });
      await expect(faulty.allocate(s.id, { count: 20 })).rejects.toMatchObject({
        name: 'InternalServerError',
      });
      expect(await storedIps(db.ctx, s.id)).toEqual([]);
    });
  });

  describe('concurrency', () => {
    it('lets 64 concurrent allocators fill a /26 with exactly 61 distinct addresses', async () => {
      const s = await subnet('10.5.0.0/26');
      const got: string[] = [];
      const endings: string[] = [];
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          const own = new TextAllocator(db.ctx);
          for (;;) {
            try {
              const [allocation] = await own.allocate(s.id, {});
              got.push(allocation!.ip);
            } catch (error) {
              if (error instanceof AllocationContentionError) continue;
              endings.push((error as { code?: string }).code ?? String(error));
              return;
            }
          }
        }),
      );
      expect(got).toHaveLength(61);
      expect(new Set(got).size).toBe(61);
      expect(endings).toEqual(Array(64).fill('SUBNET_EXHAUSTED'));
      expect(await storedIps(db.ctx, s.id)).toEqual([...got].sort());
      expect((await getSubnet(db.ctx, s.id)).usage).toEqual({
        total: 61,
        allocated: 61,
        available: 0,
        outsidePools: 0,
      });
    });

    it('never double-allocates under mixed concurrent allocate and release', async () => {
      const s = await subnet('10.6.0.0/27');
      const held = new Set<string>();
      await Promise.all(
        Array.from({ length: 16 }, async (_, worker) => {
          const own = new TextAllocator(db.ctx);
          for (let round = 0; round < 12; round++) {
            try {
              const [allocation] = await own.allocate(s.id, { owner: `w${worker}` });
              if (held.has(allocation!.ip)) throw new Error(`${allocation!.ip} handed out twice`);
              held.add(allocation!.ip);
              if (round % 2 === 1) {
                held.delete(allocation!.ip);
                await own.release(s.id, allocation!.ip, `w${worker}`);
              }
            } catch (error) {
              if (
                !(
                  error instanceof SubnetExhaustedError ||
                  error instanceof AllocationContentionError
                )
              )
                throw error;
            }
          }
        }),
      );
      expect(await storedIps(db.ctx, s.id)).toEqual([...held].sort());
      expect((await getSubnet(db.ctx, s.id)).usage.allocated).toBe(held.size);
    });
  });

  describe('leases', () => {
    it('frees an expired lease for the next caller and keeps usage exact', async () => {
      const s = await subnet('10.7.0.0/29');
      const lease = await one(s.id, { ip: '10.7.0.2', ttlSeconds: 60, owner: 'dhcp' });
      expect(lease.expiresAt).not.toBeNull();
      await expect(allocator.allocate(s.id, { ip: '10.7.0.2' })).rejects.toBeInstanceOf(
        IpAlreadyAllocatedError,
      );
      db.advance(61_000);
      try {
        await expect(allocator.get(s.id, '10.7.0.2')).rejects.toBeInstanceOf(
          AllocationNotFoundError,
        );
        const again = await one(s.id, { ip: '10.7.0.2', owner: 'next' });
        expect(again).toMatchObject({ owner: 'next', expiresAt: null });
        expect((await getSubnet(db.ctx, s.id)).usage.allocated).toBe(1);
      } finally {
        db.advance(-61_000);
      }
    });

    it('hands out expired leases when the pools are otherwise full', async () => {
      const s = await subnet('10.8.0.0/30');
      // /30: one pool address besides the gateway.
      await one(s.id, { ttlSeconds: 60 });
      await expect(allocator.allocate(s.id, {})).rejects.toBeInstanceOf(SubnetExhaustedError);
      db.advance(120_000);
      try {
        expect((await one(s.id, {})).ip).toBe('10.8.0.2');
      } finally {
        db.advance(-120_000);
      }
    });

    it('renews a lease with PATCH ttlSeconds', async () => {
      const s = await subnet('10.9.0.0/29');
      await one(s.id, { ip: '10.9.0.3', ttlSeconds: 60 });
      db.advance(50_000);
      try {
        const renewed = await allocator.update(s.id, '10.9.0.3', { ttlSeconds: 3600 });
        expect(Date.parse(renewed.expiresAt!)).toBeGreaterThan(db.ctx.now() + 3_500_000);
        db.advance(60_000);
        await expect(allocator.allocate(s.id, { ip: '10.9.0.3' })).rejects.toBeInstanceOf(
          IpAlreadyAllocatedError,
        );
      } finally {
        db.advance(-110_000);
      }
    });
  });

  describe('release', () => {
    it('frees the address for immediate reuse', async () => {
      const s = await subnet('10.10.0.0/30');
      const only = await one(s.id);
      await allocator.release(s.id, only.ip);
      expect((await one(s.id)).ip).toBe(only.ip);
    });

    it('releases only for the matching owner when asked', async () => {
      const s = await subnet('10.11.0.0/24');
      await one(s.id, { ip: '10.11.0.8', owner: 'alice' });
      await expect(allocator.release(s.id, '10.11.0.8', 'bob')).rejects.toBeInstanceOf(
        OwnerMismatchError,
      );
      await allocator.release(s.id, '10.11.0.8', 'alice');
      await expect(allocator.release(s.id, '10.11.0.8')).rejects.toBeInstanceOf(
        AllocationNotFoundError,
      );
    });

    it('accepts a non-canonical IPv6 spelling of the address', async () => {
      const s = await subnet('2001:db8:5::/64');
      await one(s.id, { ip: '2001:db8:5::5' });
      await allocator.release(s.id, '2001:DB8:5:0:0:0:0:5');
      expect(await storedIps(db.ctx, s.id)).toEqual([]);
    });

    it('lets the subnet be deleted once everything is released', async () => {
      const s = await subnet('10.12.0.0/24');
      const [a, b] = await allocator.allocate(s.id, { count: 2 });
      await allocator.release(s.id, a!.ip);
      await allocator.release(s.id, b!.ip);
      await deleteSubnet(db.ctx, s.id, onSubnetDeleted);
      await expect(allocator.allocate(s.id, {})).rejects.toBeInstanceOf(SubnetNotFoundError);
    });
  });

  describe('read and list', () => {
    it('gets, updates and lists allocations by subnet and by owner', async () => {
      const s = await subnet('10.13.0.0/23');
      const created = await allocator.allocate(s.id, {
        count: 5,
        owner: 'team-a',
        strategy: 'sequential',
      });
      await one(s.id, { ip: '10.13.1.200', owner: 'team-b' });
      expect((await allocator.get(s.id, '10.13.0.2')).owner).toBe('team-a');

      const first = await allocator.list(s.id, { limit: 4 });
      expect(first.items.map((a) => a.ip)).toEqual(created.slice(0, 4).map((a) => a.ip));
      const second = await allocator.list(s.id, { limit: 4, cursor: first.nextCursor! });
      expect(second.items.map((a) => a.ip)).toEqual([created[4]!.ip, '10.13.1.200']);

      const updated = await allocator.update(s.id, '10.13.1.200', {
        owner: 'team-a',
        description: 'moved',
      });
      expect(updated).toMatchObject({ owner: 'team-a', description: 'moved' });
      const byOwner = await allocator.list(s.id, { owner: 'team-a', limit: 100 });
      expect(byOwner.items).toHaveLength(6);
      const { listByOwner } = await import('../../shared/allocator/index.js');
      expect((await listByOwner(db.ctx, 'team-b', { limit: 10 })).items).toEqual([]);
    });

    it('answers ALLOCATION_NOT_FOUND for a free or foreign address', async () => {
      const s = await subnet('10.14.0.0/24');
      await expect(allocator.get(s.id, '10.14.0.9')).rejects.toBeInstanceOf(
        AllocationNotFoundError,
      );
      await expect(allocator.get(s.id, '10.99.0.9')).rejects.toBeInstanceOf(
        AllocationNotFoundError,
      );
    });
  });

  describe('races found in review', () => {
    /** A context whose transactions wait until `open()`: the write lands after a rival's. */
    function gated() {
      let open!: () => void;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const doc = {
        send: async (command: { constructor: { name: string } }) => {
          if (command.constructor.name === 'TransactWriteCommand') await gate;
          return db.ctx.doc.send(command as never);
        },
      } as unknown as typeof db.ctx.doc;
      return { ctx: { ...db.ctx, doc }, open };
    }
    const counter = async (subnetId: string) =>
      (
        await db.ctx.doc.send(
          new GetCommand({
            TableName: db.ctx.tableName,
            Key: keys.counter(subnetId, 0),
            ConsistentRead: true,
          }),
        )
      ).Item!;

    it('refuses the new gateway after a PATCH moved it, even with the old one cached', async () => {
      const s = await subnet('10.60.0.0/24');
      const cached = new TextAllocator(db.ctx);
      await cached.allocate(s.id, { ip: '10.60.0.10' });
      await updateSubnet(db.ctx, s.id, {
        gatewayIp: '10.60.0.254',
        allocationPools: [{ start: '10.60.0.2', end: '10.60.0.200' }],
      });
      await expect(cached.allocate(s.id, { ip: '10.60.0.254' })).rejects.toBeInstanceOf(
        IpReservedError,
      );
      // …and the old gateway is an ordinary address now, whatever the cache said.
      expect((await cached.allocate(s.id, { ip: '10.60.0.1' }))[0]!.ip).toBe('10.60.0.1');
    });

    it('counts one lease once when two renewals race', async () => {
      const s = await subnet('10.61.0.0/24');
      await allocator.allocate(s.id, { ip: '10.61.0.20' });
      const slow = gated();
      const first = new TextAllocator(slow.ctx).update(s.id, '10.61.0.20', { ttlSeconds: 3600 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await new TextAllocator(db.ctx).update(s.id, '10.61.0.20', { ttlSeconds: 3600 });
      slow.open();
      await first;
      expect((await counter(s.id)).l).toBe(1);
    });

    it('leaves no lease counted when a release races a renewal', async () => {
      const s = await subnet('10.62.0.0/24');
      await allocator.allocate(s.id, { ip: '10.62.0.20' });
      const slow = gated();
      const release = new TextAllocator(slow.ctx).release(s.id, '10.62.0.20');
      await new Promise((resolve) => setTimeout(resolve, 200));
      await new TextAllocator(db.ctx).update(s.id, '10.62.0.20', { ttlSeconds: 3600 });
      slow.open();
      await release;
      const { n, l } = await counter(s.id);
      expect({ n, l }).toEqual({ n: 0, l: 0 });
    });
  });
});
