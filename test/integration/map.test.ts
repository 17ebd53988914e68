/**
 * The address map against DynamoDB Local and its real stream: exact cells below a
 * block, summaries above, kept by the stream processor; a /8 and a /64 zoomed down
 * to one address; time alone (a lease lapsing, a cool-down starting and ending)
 * counted right; a pool change needing no rewrite; a redelivered batch doubling
 * nothing; and what a view costs in requests, whatever the subnet's size.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { lookupAddress } from '../../shared/allocator/index.js';
import { noopPublisher } from '../../shared/events/index.js';
import { processStreamRecords, type StreamRecordInput } from '../../shared/history/index.js';
import { subnetMap } from '../../shared/map/index.js';
import { parseIp } from '../../shared/net/address.js';
import { onSubnetDeleted } from '../../shared/pools/index.js';
import { createSubnet, deleteSubnet, updateSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, historyPoller, streamRecords, type TestDb } from '../support/dynamo.js';
import { counts } from '../support/mapCells.js';
import { countedContext, RequestCount } from '../support/requestCount.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;
let allocator: TextAllocator;
let poller: ReturnType<typeof historyPoller>;

beforeAll(async () => {
  db = await createTestDb({ stream: true });
  allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
  poller = historyPoller(db);
});

/** The map items of a subnet, straight from the table. */
async function mapItems(subnetId: string): Promise<Record<string, unknown>[]> {
  const page = await db.ctx.doc.send(
    new ScanCommand({
      TableName: db.ctx.tableName,
      FilterExpression: 'begins_with(pk, :pk)',
      ExpressionAttributeValues: { ':pk': `MAP#${subnetId}#` },
      ConsistentRead: true,
    }),
  );
  return page.Items ?? [];
}

describe('address map', () => {
  it('draws a /24 from its block: exact at once, without the stream', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.9.0.0/24', space: 'map-24' });
    await allocator.allocate(subnet.id, { ip: '10.9.0.7', owner: 'a' });
    const map = await subnetMap(db.ctx, subnet.id);
    expect(map).toMatchObject({
      subnetId: subnet.id,
      cidr: '10.9.0.0/24',
      cell: null,
      cellSize: 1,
    });
    expect(map.cells).toHaveLength(256);
    expect(map.cells[0]).toEqual({
      index: 0,
      first: '10.9.0.0',
      last: '10.9.0.0',
      allocated: 0,
      leased: 0,
      quarantined: 0,
      free: 0,
      state: 'RESERVED',
    });
    expect(map.cells[1]?.state).toBe('GATEWAY');
    expect(map.cells[7]).toMatchObject({ allocated: 1, free: 0, state: 'ALLOCATED' });
    expect(map.cells[8]).toMatchObject({ allocated: 0, free: 1, state: 'FREE' });
    expect(map.cells[255]?.state).toBe('RESERVED');
    await expect(subnetMap(db.ctx, subnet.id, '7')).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
    });
  });

  it('draws a /20 as 256 cells of 16 and zooms into one', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.10.0.0/20', space: 'map-20' });
    await allocator.allocate(subnet.id, { ip: '10.10.1.17', owner: 'a' });
    await allocator.allocate(subnet.id, { ip: '10.10.1.18', owner: 'a', ttlSeconds: 600 });
    const top = await subnetMap(db.ctx, subnet.id);
    expect(top.cellSize).toBe(16);
    expect(top.cells[17]).toMatchObject({
      first: '10.10.1.16',
      last: '10.10.1.31',
      allocated: 1,
      leased: 1,
      quarantined: 0,
      free: 14,
    });
    expect(top.cells[0]).toMatchObject({ free: 14 }); // network and gateway
    const zoom = await subnetMap(db.ctx, subnet.id, '17');
    expect(zoom.cell).toBe('17');
    expect(zoom.cells).toHaveLength(16);
    expect(zoom.cells[1]).toMatchObject({ first: '10.10.1.17', allocated: 1, state: 'ALLOCATED' });
    expect(zoom.cells[2]).toMatchObject({ leased: 1, state: 'ALLOCATED' });
    for (const bad of ['256', '17.0', '01', '1..2', 'a']) {
      await expect(subnetMap(db.ctx, subnet.id, bad)).rejects.toMatchObject({
        code: 'VALIDATION_ERROR',
      });
    }
  });

  it('draws a /8 from summaries, zooms to one address, and counts lapsed leases and cool-downs', {
    timeout: 120_000,
  }, async () => {
    const subnet = await createSubnet(db.ctx, {
      cidr: '10.0.0.0/8',
      space: 'map-8',
      allocationPools: [{ start: '10.0.0.2', end: '10.127.255.255' }],
      reuseDelaySeconds: 300,
    });
    await allocator.allocate(subnet.id, { ip: '10.1.2.3', owner: 'a' });
    await allocator.allocate(subnet.id, { ip: '10.1.2.4', owner: 'a', ttlSeconds: 60 });
    await allocator.allocate(subnet.id, { ip: '10.1.2.5', owner: 'a' });
    await allocator.release(subnet.id, '10.1.2.5');
    await allocator.allocate(subnet.id, { ip: '10.200.0.5', owner: 'outside' });
    await poller.drain();

    const count = new RequestCount();
    const counted = countedContext(db.ctx, db.endpoint, count, db.ctx.now);
    const top = await subnetMap(counted, subnet.id);
    expect(top.cellSize).toBe(65_536);
    expect(top.cells).toHaveLength(256);
    expect(counts(top.cells[1]!)).toEqual({
      allocated: 1,
      leased: 1,
      quarantined: 1,
      free: 65_533,
    });
    expect(top.cells[1]).toMatchObject({ first: '10.1.0.0', last: '10.1.255.255' });
    expect(counts(top.cells[0]!)).toEqual({
      allocated: 0,
      leased: 0,
      quarantined: 0,
      free: 65_534,
    });
    expect(counts(top.cells[200]!)).toEqual({ allocated: 1, leased: 0, quarantined: 0, free: 0 });
    expect(counts(top.cells[255]!)).toEqual({ allocated: 0, leased: 0, quarantined: 0, free: 0 });
    // The subnet, then one Query of the top level: a /8 costs what a /16 costs.
    expect(Object.fromEntries(count.byCommand)).toEqual({ GetItem: 1, Query: 1 });
    expect(count.itemsRead).toBeLessThanOrEqual(4);

    const block = await subnetMap(db.ctx, subnet.id, '1');
    expect(block.cellSize).toBe(256);
    expect(counts(block.cells[2]!)).toEqual({ allocated: 1, leased: 1, quarantined: 1, free: 253 });
    const one = await subnetMap(db.ctx, subnet.id, '1.2');
    expect(one.cells.slice(2, 7).map((cell) => cell.state)).toEqual([
      'FREE',
      'ALLOCATED',
      'ALLOCATED',
      'QUARANTINED',
      'FREE',
    ]);
    expect(counts(one.cells[4]!)).toEqual({ allocated: 0, leased: 1, quarantined: 0, free: 0 });
    const start = await subnetMap(db.ctx, subnet.id, '0.0');
    expect(start.cells.slice(0, 3).map((cell) => cell.state)).toEqual([
      'RESERVED',
      'GATEWAY',
      'FREE',
    ]);
    expect((await subnetMap(db.ctx, subnet.id, '200.0')).cells[5]?.state).toBe('ALLOCATED');
    expect((await subnetMap(db.ctx, subnet.id, '200.0')).cells[6]?.state).toBe('OUTSIDE_POOLS');
    expect((await subnetMap(db.ctx, subnet.id, '255.255')).cells[255]?.state).toBe('RESERVED');
    await expect(subnetMap(db.ctx, subnet.id, '1.2.3')).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
    });

    // The lease lapses into its cool-down with no write: the summaries say when, and
    // the view reads below them there.
    db.advance(61_000);
    count.reset();
    const lapsed = await subnetMap(counted, subnet.id);
    expect(counts(lapsed.cells[1]!)).toEqual({
      allocated: 1,
      leased: 0,
      quarantined: 2,
      free: 65_533,
    });
    expect(count.requests).toBeLessThanOrEqual(4);
    // Both cool-downs end: free again, with no write either.
    db.advance(300_000);
    const cooled = await subnetMap(db.ctx, subnet.id);
    expect(counts(cooled.cells[1]!)).toEqual({
      allocated: 1,
      leased: 0,
      quarantined: 0,
      free: 65_535,
    });
    // One address's state is the lookup's.
    const cells = (await subnetMap(db.ctx, subnet.id, '1.2')).cells;
    for (const ip of ['10.1.2.3', '10.1.2.4', '10.1.2.5', '10.1.2.6']) {
      const [place] = (await lookupAddress(db.ctx, parseIp(ip), 'map-8')).items;
      expect(cells[Number(ip.split('.')[3])]?.state, ip).toBe(place?.state);
    }

    // A pool change rewrites no summary: free is pool arithmetic, and a cell the new
    // boundary cuts is counted from below.
    await updateSubnet(db.ctx, subnet.id, {
      allocationPools: [{ start: '10.0.0.2', end: '10.1.2.3' }],
    });
    const repooled = await subnetMap(db.ctx, subnet.id);
    expect(counts(repooled.cells[1]!)).toEqual({
      allocated: 1,
      leased: 0,
      quarantined: 0,
      free: 2 * 256 + 4 - 1,
    });
    expect(repooled.cells[2]?.free).toBe(0);
  });

  it('draws a /64 sparse, zooms down to one address deep inside, counts as strings beyond 2^53', {
    timeout: 120_000,
  }, async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '2001:db8:0:1::/64', space: 'map-64' });
    const deep = '2001:db8:0:1:abcd:ef01:2345:6789';
    await allocator.allocate(subnet.id, { ip: deep, owner: 'a' });
    await allocator.allocate(subnet.id, {
      ip: '2001:db8:0:1:abcd:ef01:2345:678a',
      owner: 'a',
      ttlSeconds: 3600,
    });
    await poller.drain();
    const count = new RequestCount();
    const counted = countedContext(db.ctx, db.endpoint, count, db.ctx.now);
    const top = await subnetMap(counted, subnet.id);
    expect(Object.fromEntries(count.byCommand)).toEqual({ GetItem: 1, Query: 1 });
    expect(top.cellSize).toBe((2n ** 56n).toString());
    const index = 0xab;
    expect(top.cells[index]).toMatchObject({
      first: '2001:db8:0:1:ab00::',
      last: '2001:db8:0:1:abff:ffff:ffff:ffff',
      allocated: 1,
      leased: 1,
      quarantined: 0,
      free: (2n ** 56n - 2n).toString(),
    });
    // The subnet-router anycast address and the gateway (::1) are in no pool.
    expect(top.cells[0]?.free).toBe((2n ** 56n - 2n).toString());
    const path = ['ab', 'cd', 'ef', '01', '23', '45', '67'].map((hex) => Number.parseInt(hex, 16));
    for (let depth = 1; depth < path.length; depth++) {
      const view = await subnetMap(db.ctx, subnet.id, path.slice(0, depth).join('.'));
      expect(view.cells[path[depth]!], `depth ${depth}`).toMatchObject({ allocated: 1, leased: 1 });
    }
    const last = await subnetMap(db.ctx, subnet.id, path.join('.'));
    expect(last.cellSize).toBe(1);
    expect(last.cells[0x89]).toMatchObject({ first: deep, allocated: 1, state: 'ALLOCATED' });
    expect(last.cells[0x8a]).toMatchObject({ leased: 1, state: 'ALLOCATED' });
    expect(last.cells[0x8b]).toMatchObject({ free: 1, state: 'FREE' });
    await expect(subnetMap(db.ctx, subnet.id, [...path, 1].join('.'))).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
    });
  });

  it('a redelivered batch, or older records after newer ones, doubles nothing', {
    timeout: 120_000,
  }, async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.64.0.0/16', space: 'map-16' });
    for (const ip of ['10.64.3.1', '10.64.3.2', '10.64.9.9']) {
      await allocator.allocate(subnet.id, { ip, owner: 'a' });
    }
    await allocator.release(subnet.id, '10.64.3.2');
    await poller.drain();
    const before = await subnetMap(db.ctx, subnet.id);
    expect(counts(before.cells[3]!)).toEqual({
      allocated: 1,
      leased: 0,
      quarantined: 0,
      free: 255,
    });
    const records = (await streamRecords(db)) as StreamRecordInput[];
    const again = await processStreamRecords(db.ctx, records, noopPublisher);
    expect(again.failures).toEqual([]);
    // Block 3's older images alone (two held, then one): none is written over the newest.
    const key = (record: StreamRecordInput, name: string) =>
      (record.dynamodb?.Keys?.[name] as { S?: string } | undefined)?.S ?? '';
    const block3 = records.filter(
      (record) =>
        key(record, 'pk').startsWith(`SUBNET#${subnet.id}#`) &&
        key(record, 'sk') === `BLOCK#${'3'.padStart(30, '0')}`,
    );
    expect(block3.length).toBeGreaterThanOrEqual(3);
    const older = await processStreamRecords(db.ctx, block3.slice(0, -1), noopPublisher);
    expect(older.failures).toEqual([]);
    expect(await subnetMap(db.ctx, subnet.id)).toEqual(before);
  });

  it('two processors racing on the same sums leave the newest', { timeout: 120_000 }, async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '12.0.0.0/8', space: 'map-race' });
    const ips = Array.from({ length: 24 }, (_, i) => `12.7.${i * 10}.${i + 2}`);
    for (const ip of ips) await allocator.allocate(subnet.id, { ip, owner: 'a' });
    // Before the poller sees them: the block records, split in two by block, processed
    // at once by two processors (two stream shards), both recomputing cell 7's sum.
    const key = (record: StreamRecordInput, name: string) =>
      (record.dynamodb?.Keys?.[name] as { S?: string } | undefined)?.S ?? '';
    const mine = ((await streamRecords(db)) as StreamRecordInput[]).filter(
      (record) =>
        key(record, 'pk').startsWith(`SUBNET#${subnet.id}#`) ||
        key(record, 'pk') === `SUBNET#${subnet.id}`,
    );
    const half = (odd: number) =>
      mine.filter((record) => {
        const sk = key(record, 'sk');
        return !sk.startsWith('BLOCK#') || Number.parseInt(sk.slice(6), 16) % 2 === odd;
      });
    const results = await Promise.all([
      processStreamRecords(db.ctx, half(0), noopPublisher, { concurrency: 1 }),
      processStreamRecords(db.ctx, half(1), noopPublisher, { concurrency: 1 }),
    ]);
    expect(results.flatMap((result) => result.failures)).toEqual([]);
    const top = await subnetMap(db.ctx, subnet.id);
    expect(counts(top.cells[7]!)).toEqual({
      allocated: ips.length,
      leased: 0,
      quarantined: 0,
      free: 65_536 - ips.length,
    });
    await poller.drain();
    expect(await subnetMap(db.ctx, subnet.id)).toEqual(top);
  });

  it("a deleted subnet's summaries empty out and carry a TTL", { timeout: 120_000 }, async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.65.0.0/16', space: 'map-del' });
    await allocator.allocate(subnet.id, { ip: '10.65.1.1', owner: 'a' });
    await poller.drain();
    expect((await mapItems(subnet.id)).some((item) => item.a === 1)).toBe(true);
    await allocator.release(subnet.id, '10.65.1.1');
    await deleteSubnet(db.ctx, subnet.id, onSubnetDeleted);
    await poller.drain();
    const items = await mapItems(subnet.id);
    expect(items.length).toBeGreaterThan(0);
    for (const item of items) {
      expect(item).toMatchObject({ a: 0, l: 0, q: 0 });
      expect(typeof item.ttl).toBe('number');
    }
  });
});
