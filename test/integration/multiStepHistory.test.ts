/**
 * The history of requests too large for one transaction (the pending-record path):
 * a committed one has exactly one ALLOCATED entry per address, whichever of its
 * records the processor meets first; one that fails part-way and is undone has no
 * entry at all (API.md: "a refused or failed request has none"), and neither has a
 * crashed one that the audit undoes.
 */
import type { _Record as StreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { DeleteCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../shared/audit/index.js';
import { memoryPublisher } from '../../shared/events/index.js';
import { processStreamRecords, type StreamRecordInput } from '../../shared/history/index.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import { PREFIX } from '../../shared/store/keys.js';
import { TRANSACTION_ATTEMPTS } from '../../shared/store/transactions.js';
import { createSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, storedIps, streamRecords, type TestDb } from '../support/dynamo.js';
import { injectFaults } from '../support/faults.js';
import { TextAllocator } from '../support/textAllocator.js';

/** A fresh table each: its stream then holds only what the test did. */
async function freshDb(): Promise<TestDb> {
  return createTestDb({ stream: true });
}

/** Every history entry of the table's allocations (not the subnets' own). */
async function allocationEntries(db: TestDb): Promise<Record<string, unknown>[]> {
  const scanned = await db.ctx.doc.send(
    new ScanCommand({ TableName: db.ctx.tableName, ConsistentRead: true }),
  );
  return (scanned.Items ?? []).filter((item) => item.type === 'history' && item.ip !== null);
}

const sortKey = (record: StreamRecord) => record.dynamodb?.Keys?.sk?.S ?? '';
const isAllocationInsert = (record: StreamRecord) =>
  record.eventName === 'INSERT' && sortKey(record).startsWith(PREFIX.allocation);
const isPendingRemoval = (record: StreamRecord) =>
  record.eventName === 'REMOVE' && sortKey(record).startsWith(PREFIX.pending);

function process(db: TestDb, records: StreamRecord[], publisher = memoryPublisher()) {
  return processStreamRecords(db.ctx, records as StreamRecordInput[], publisher);
}

/**
 * A `count: 100` request on a /24 (one shard: calls 1 pending record, 2 reservation,
 * 3 allocation items, 4 commit) whose TransactWriteItems calls from `fails.from` on
 * fail (up to `until`, exclusive), so it rejects with InternalServerError.
 */
async function failingBulkRequest(
  db: TestDb,
  subnetId: string,
  fails: { readonly from: number; readonly until?: number },
  details: { readonly ttlSeconds?: number } = {},
): Promise<void> {
  const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  injectFaults(client, [
    {
      command: 'TransactWriteItemsCommand',
      when: (call) => call >= fails.from && (fails.until === undefined || call < fails.until),
      error: 'InternalServerError',
    },
  ]);
  const faulty = new TextAllocator({ ...db.ctx, doc: createDocumentClient(client) });
  await expect(
    faulty.allocate(subnetId, { count: 100, owner: 'bulk', ...details }),
  ).rejects.toMatchObject({ name: 'InternalServerError' });
}

describe('history of multi-step requests', () => {
  it('has one ALLOCATED entry per address of a committed request, once on redelivery', async () => {
    const db = await freshDb();
    const s = await createSubnet(db.ctx, { cidr: '10.96.0.0/16' });
    const ips = await new TextAllocator(db.ctx).allocate(s.id, { count: 100, owner: 'bulk' });
    const records = await streamRecords(db);
    const publisher = memoryPublisher();
    const first = await process(db, records, publisher);
    const again = await process(db, records, publisher);
    expect(first.firstFailure).toBeUndefined();
    expect(again).toMatchObject({ entriesWritten: 0, eventsPublished: 0 });
    const entries = await allocationEntries(db);
    expect(entries.map((entry) => entry.ip).sort()).toEqual(ips.map((a) => a.ip).sort());
    expect(new Set(entries.map((entry) => entry.action))).toEqual(new Set(['ALLOCATED']));
    expect(
      publisher.events.filter((event) => event.detailType === 'Allocation Created'),
    ).toHaveLength(100);
  });

  it('loses no entry when the commit is processed before the items', async () => {
    const db = await freshDb();
    const s = await createSubnet(db.ctx, { cidr: '10.97.0.0/16' });
    await new TextAllocator(db.ctx).allocate(s.id, { count: 100, owner: 'bulk' });
    const records = await streamRecords(db);
    const commit = records.filter(isPendingRemoval);
    expect(commit).toHaveLength(1);
    await process(db, commit);
    expect(await allocationEntries(db)).toEqual([]);
    await process(db, records.filter(isAllocationInsert));
    expect(await allocationEntries(db)).toHaveLength(100);
  });

  it('holds the entries back while the request is in flight, and writes them at its commit', async () => {
    const db = await freshDb();
    const s = await createSubnet(db.ctx, { cidr: '10.98.0.0/16' });
    await new TextAllocator(db.ctx).allocate(s.id, { count: 100, owner: 'bulk' });
    const records = await streamRecords(db);
    const commit = records.filter(isPendingRemoval);
    // The items' records are processed while the pending record is still there:
    // it is put back as it was during the request, then deleted again.
    const pending = commit[0]?.dynamodb?.OldImage;
    const pendingKey = { pk: pending?.pk?.S, sk: pending?.sk?.S };
    await db.ctx.doc.send(
      new PutCommand({ TableName: db.ctx.tableName, Item: { ...pendingKey, type: 'pending' } }),
    );
    await process(db, records.filter(isAllocationInsert));
    expect(await allocationEntries(db)).toEqual([]);
    await db.ctx.doc.send(new DeleteCommand({ TableName: db.ctx.tableName, Key: pendingKey }));
    await process(db, commit);
    const entries = await allocationEntries(db);
    expect(entries).toHaveLength(100);
    expect(entries[0]).toMatchObject({ action: 'ALLOCATED', owner: 'bulk', actor: 'unknown' });
  });

  it('has no entry for a request that wrote its items, failed to commit and was undone', async () => {
    const db = await freshDb();
    const s = await createSubnet(db.ctx, { cidr: '10.99.0.0/24' });
    // Every attempt of the commit fails, so the undo deletes the 100 items it wrote.
    await failingBulkRequest(db, s.id, { from: 4, until: 4 + TRANSACTION_ATTEMPTS });
    const records = await streamRecords(db);
    expect(records.filter(isAllocationInsert)).toHaveLength(100);
    const publisher = memoryPublisher();
    const result = await process(db, records, publisher);
    expect(result.firstFailure).toBeUndefined();
    expect(await allocationEntries(db)).toEqual([]);
    expect(publisher.events.map((event) => event.detailType)).toEqual(['Subnet Created']);
    // Whatever the order: the items' records after the undo's, and again.
    const reordered = [...records.filter((r) => !isAllocationInsert(r)), ...records];
    await process(db, reordered, publisher);
    expect(await allocationEntries(db)).toEqual([]);
  });

  it('has no entry for a crashed request that the audit undoes', async () => {
    const db = await freshDb();
    const s = await createSubnet(db.ctx, { cidr: '10.100.0.0/24' });
    // The commit fails and so does the undo's first write: the request is left as a
    // crash leaves it, its pending record and items in place, for the audit.
    await failingBulkRequest(db, s.id, { from: 4 });
    const written = await streamRecords(db);
    expect(written.filter(isAllocationInsert)).toHaveLength(100);
    await process(db, written);
    expect(await allocationEntries(db)).toEqual([]);
    db.advance(16 * 60_000);
    const report = await runAudit(db.ctx, { repair: true });
    expect(report.findings).toContainEqual(
      expect.objectContaining({ type: 'STALE_PENDING', repaired: true }),
    );
    await process(db, await streamRecords(db));
    expect(await allocationEntries(db)).toEqual([]);
  });

  it.each([
    ['undone by the audit', false],
    ['one of them taken over first, then undone by the audit', true],
  ])(
    'has no entry for a crashed request of leases that expired before it was %s',
    async (_, takeOver) => {
      const db = await freshDb();
      // The clock 20 minutes behind the stream's: its records see the leases expired.
      db.advance(-20 * 60_000);
      const s = await createSubnet(db.ctx, { cidr: '10.101.0.0/24' });
      // Crashed as above, its items 60-second leases.
      await failingBulkRequest(db, s.id, { from: 4 }, { ttlSeconds: 60 });
      db.advance(16 * 60_000);
      const allocator = new TextAllocator(db.ctx);
      const taken = takeOver ? (await storedIps(db.ctx, s.id)).slice(0, 1) : [];
      expect(taken).toHaveLength(takeOver ? 1 : 0);
      for (const ip of taken) await allocator.allocate(s.id, { ip, owner: 'taker' });
      const report = await runAudit(db.ctx, { repair: true });
      expect(report.findings).toContainEqual(
        expect.objectContaining({ type: 'STALE_PENDING', repaired: true }),
      );
      await process(db, await streamRecords(db));
      const entries = await allocationEntries(db);
      // Only the taker's own allocation: nothing of the request, nor of its leases' ends.
      expect(entries.map((entry) => [entry.ip, entry.action, entry.owner])).toEqual(
        taken.map((ip) => [ip, 'ALLOCATED', 'taker']),
      );
    },
  );
});
