/**
 * History from the stream, against DynamoDB Local's real stream: one entry per
 * committed change, idempotent on redelivery, published once, a poison record
 * reported and the rest written, a restart losing and doubling nothing.
 */
import { DeleteCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStreamHandler } from '../../functions/stream/streamHandler.js';
import { listByOwner, lookupAddress } from '../../shared/allocator/index.js';
import { runAudit } from '../../shared/audit/index.js';
import { type EventPublisher, type IpamEvent, memoryPublisher } from '../../shared/events/index.js';
import {
  addressHistory,
  processStreamRecords,
  type StreamRecordInput,
  subnetHistory,
} from '../../shared/history/index.js';
import { parseIp } from '../../shared/net/address.js';
import { onSubnetDeleted } from '../../shared/pools/index.js';
import { keys } from '../../shared/store/keys.js';
import {
  createSubnet,
  deleteSubnet,
  getSubnet,
  updateSubnet,
} from '../../shared/subnets/subnets.js';
import { createTestDb, historyPoller, streamRecords, type TestDb } from '../support/dynamo.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;
let allocator: TextAllocator;
let nextSpace = 0;

beforeAll(async () => {
  db = await createTestDb({ stream: true });
  allocator = new TextAllocator(db.ctx);
});

async function subnet(cidr = '10.20.0.0/24') {
  nextSpace++;
  return createSubnet(db.ctx, { cidr, space: `hist-${nextSpace}` });
}

async function historyOf(subnetId: string, ip: string) {
  return (await addressHistory(db.ctx, subnetId, parseIp(ip), { limit: 100 })).items;
}

/** A fresh test table each: the stream then holds only what the test did. */
async function freshDb(): Promise<{ db: TestDb; allocator: TextAllocator }> {
  const fresh = await createTestDb({ stream: true });
  return { db: fresh, allocator: new TextAllocator(fresh.ctx) };
}

/** The allocation item's key of an address (shard from the subnet's geometry). */
function allocationKey(subnetId: string, ip: string) {
  // A /24 is one shard (0).
  return keys.allocation(subnetId, 0, parseIp(ip));
}

/** A stream record as a Lambda event carries it (epoch seconds, not a Date). */
function asLambdaRecord(record: StreamRecordInput): DynamoDBStreamEvent['Records'][number] {
  const at = record.dynamodb?.ApproximateCreationDateTime;
  return {
    ...record,
    dynamodb: {
      ...record.dynamodb,
      ApproximateCreationDateTime: at instanceof Date ? at.getTime() / 1000 : at,
    },
  } as DynamoDBStreamEvent['Records'][number];
}

describe('history from the stream', () => {
  it('has exactly one entry per allocate, patch, renew and release, newest first', async () => {
    const poller = historyPoller(db);
    const s = await subnet();
    await allocator.allocate(s.id, { ip: '10.20.0.7', owner: 'vm-1' });
    await allocator.update(s.id, '10.20.0.7', { owner: 'vm-2', description: 'web' });
    await allocator.update(s.id, '10.20.0.7', { ttlSeconds: 3600, owner: 'vm-3' });
    await allocator.release(s.id, '10.20.0.7');
    await poller.drain();
    const entries = await historyOf(s.id, '10.20.0.7');
    expect(entries.map((entry) => [entry.action, entry.owner])).toEqual([
      ['RELEASED', 'vm-3'],
      ['RENEWED', 'vm-3'],
      ['UPDATED', 'vm-2'],
      ['ALLOCATED', 'vm-1'],
    ]);
    expect(entries[3]).toMatchObject({ before: null, actor: 'unknown', requestId: null });
    expect(entries[3]?.after).toMatchObject({ ip: '10.20.0.7', owner: 'vm-1' });
    expect(entries[2]?.before).toMatchObject({ owner: 'vm-1', description: null });
    expect(entries[2]?.after).toMatchObject({ owner: 'vm-2', description: 'web' });
    expect(entries[0]).toMatchObject({ after: null, before: { owner: 'vm-3' } });
    // A second pass over the same stream (a restarted poller) changes nothing.
    await historyPoller(db).drain();
    expect(await historyOf(s.id, '10.20.0.7')).toEqual(entries);
    await poller.stop();
  });

  it('records a reused expired lease as EXPIRED at its expiry, then ALLOCATED', async () => {
    const poller = historyPoller(db);
    const s = await subnet();
    const [lease] = await allocator.allocate(s.id, {
      ip: '10.20.0.9',
      owner: 'pod-a',
      ttlSeconds: 60,
    });
    db.advance(120_000);
    await allocator.allocate(s.id, { ip: '10.20.0.9', owner: 'pod-b' });
    await poller.drain();
    const entries = await historyOf(s.id, '10.20.0.9');
    expect(entries.map((entry) => [entry.action, entry.owner, entry.actor])).toEqual([
      ['ALLOCATED', 'pod-b', 'unknown'],
      ['EXPIRED', 'pod-a', 'system'],
      ['ALLOCATED', 'pod-a', 'unknown'],
    ]);
    expect(entries[1]).toMatchObject({ at: lease?.expiresAt, requestId: null, after: null });
    await poller.stop();
  });

  it("shows a subnet's cool-down in every view, also once PATCHed back to 0", async () => {
    const s = await subnet('10.21.0.0/24');
    await updateSubnet(db.ctx, s.id, { reuseDelaySeconds: 300 });
    await updateSubnet(db.ctx, s.id, { reuseDelaySeconds: 0 });
    await historyPoller(db).drain();
    const entries = (await subnetHistory(db.ctx, s.id, { limit: 10 })).items;
    expect(
      entries.map((entry) => [
        entry.action,
        (entry.before as { reuseDelaySeconds?: number } | null)?.reuseDelaySeconds,
        (entry.after as { reuseDelaySeconds?: number } | null)?.reuseDelaySeconds,
      ]),
    ).toEqual([
      ['SUBNET_UPDATED', 300, 0],
      ['SUBNET_UPDATED', 0, 300],
      ['SUBNET_CREATED', undefined, 0],
    ]);
  });

  it("keeps a subnet's own history after its deletion, actor from the deletion note", async () => {
    const poller = historyPoller(db);
    const s = await subnet('10.30.0.0/24');
    await updateSubnet(db.ctx, s.id, { name: 'renamed' });
    await updateSubnet(db.ctx, s.id, { name: 'renamed' }); // changes nothing visible
    // The writer side's deletion note (the delete transaction will write it).
    await db.ctx.doc.send(
      new PutCommand({
        TableName: db.ctx.tableName,
        Item: {
          pk: `SUBNET#${s.id}`,
          sk: 'DELETED',
          deletedBy: 'arn:aws:iam::1:user/alice',
          requestId: 'req-del',
          ttl: Math.floor(Date.now() / 1000) + 7 * 86400,
        },
      }),
    );
    await deleteSubnet(db.ctx, s.id, onSubnetDeleted);
    await poller.drain();
    const entries = (await subnetHistory(db.ctx, s.id, { limit: 100 })).items;
    expect(entries.map((entry) => entry.action)).toEqual([
      'SUBNET_DELETED',
      'SUBNET_UPDATED',
      'SUBNET_CREATED',
    ]);
    expect(entries[0]).toMatchObject({
      actor: 'arn:aws:iam::1:user/alice',
      requestId: 'req-del',
      owner: null,
      after: null,
      before: { name: 'renamed', cidr: '10.30.0.0/24' },
    });
    expect(entries[1]?.before).toMatchObject({ name: null });
    expect(entries[2]?.after).not.toHaveProperty('version');
    await poller.stop();
  });

  it("derives actors, tombstones and repairs from the writer side's attributes", async () => {
    const poller = historyPoller(db);
    const s = await subnet();
    const key = allocationKey(s.id, '10.20.0.30');
    const base = {
      ...key,
      type: 'allocation',
      subnetId: s.id,
      ip: '10.20.0.30',
      owner: 'vm-1',
      description: null,
      tags: {},
      macAddress: null,
      createdAt: '2026-01-01T10:00:00.000Z',
      expiresAt: null,
      reqToken: 'tok-1',
      createdBy: 'alice',
    };
    const put = (Item: Record<string, unknown>) =>
      db.ctx.doc.send(new PutCommand({ TableName: db.ctx.tableName, Item }));
    await put({ ...base, updatedBy: 'alice', requestId: 'r-1', updatedAt: base.createdAt });
    // Only an internal attribute changes: no entry.
    await put({
      ...base,
      updatedBy: 'alice',
      requestId: 'r-1',
      updatedAt: base.createdAt,
      rev: 'x',
    });
    await put({
      ...base,
      owner: 'vm-9',
      updatedBy: 'audit',
      requestId: 'aud_1',
      updatedAt: '2026-01-01T10:05:00.000Z',
      rev: 'y',
    });
    await put({
      ...base,
      owner: 'vm-9',
      releasedAt: '2026-01-01T11:00:00.000Z',
      releasedBy: 'bob',
      requestId: 'r-2',
      availableAt: 1767268800,
      ttl: 1767268800,
    });
    await db.ctx.doc.send(new DeleteCommand({ TableName: db.ctx.tableName, Key: key }));
    await poller.drain();
    const entries = await historyOf(s.id, '10.20.0.30');
    expect(
      entries.map(({ at, action, actor, requestId, owner }) => ({
        at,
        action,
        actor,
        requestId,
        owner,
      })),
    ).toEqual([
      {
        at: '2026-01-01T11:00:00.000Z',
        action: 'RELEASED',
        actor: 'bob',
        requestId: 'r-2',
        owner: 'vm-9',
      },
      {
        at: '2026-01-01T10:05:00.000Z',
        action: 'REPAIRED',
        actor: 'audit',
        requestId: 'aud_1',
        owner: 'vm-9',
      },
      {
        at: '2026-01-01T10:00:00.000Z',
        action: 'ALLOCATED',
        actor: 'alice',
        requestId: 'r-1',
        owner: 'vm-1',
      },
    ]);
    await poller.stop();
  });

  it('makes no history of history entries, blocks or counters', async () => {
    const fresh = await freshDb();
    const s = await createSubnet(fresh.db.ctx, { cidr: '10.40.0.0/24' });
    await fresh.allocator.allocate(s.id, { ip: '10.40.0.5' });
    await historyPoller(fresh.db).drain();
    // The entries the first pass wrote are in the stream now too: a pass over them adds none.
    const records = await streamRecords(fresh.db);
    const result = await processStreamRecords(fresh.db.ctx, records, memoryPublisher());
    expect(result.entriesWritten).toBe(0);
    expect(
      records.some((record) => String(record.dynamodb?.Keys?.pk?.S).startsWith('HISTORY#')),
    ).toBe(true);
  });
});

describe('processStreamRecords', () => {
  it('writes and publishes nothing twice when a batch is delivered again', async () => {
    const fresh = await freshDb();
    const s = await createSubnet(fresh.db.ctx, { cidr: '10.50.0.0/24' });
    await fresh.allocator.allocate(s.id, { count: 3, owner: 'ci' });
    await fresh.allocator.update(s.id, '10.50.0.2', { owner: 'ci-2' }).catch(() => undefined);
    const records = await streamRecords(fresh.db);
    const publisher = memoryPublisher();
    const first = await processStreamRecords(fresh.db.ctx, records, publisher);
    const second = await processStreamRecords(fresh.db.ctx, records, publisher);
    expect(first.firstFailure).toBeUndefined();
    expect(first.entriesWritten).toBeGreaterThanOrEqual(4); // subnet + 3 allocations
    expect(first.eventsPublished).toBe(first.entriesWritten);
    expect(second).toMatchObject({
      entriesWritten: 0,
      eventsPublished: 0,
      firstFailure: undefined,
    });
    expect(new Set(publisher.events.map((event) => event.detail.eventId)).size).toBe(
      publisher.events.length,
    );
    const created = publisher.events.filter((event) => event.detailType === 'Allocation Created');
    expect(created).toHaveLength(3);
    expect(created[0]?.detail).toMatchObject({
      subnetId: s.id,
      cidr: '10.50.0.0/24',
      space: 'default',
      action: 'ALLOCATED',
      owner: 'ci',
    });
    expect(
      publisher.events.find((event) => event.detailType === 'Subnet Created')?.detail,
    ).not.toHaveProperty('ip');
  });

  it('reports a poison record as the first batch item failure and writes the others', async () => {
    const fresh = await freshDb();
    const s = await createSubnet(fresh.db.ctx, { cidr: '10.60.0.0/24' });
    await fresh.allocator.allocate(s.id, { ip: '10.60.0.5', owner: 'a' });
    await fresh.allocator.allocate(s.id, { ip: '10.60.0.6', owner: 'b' });
    const records = await streamRecords(fresh.db);
    // An allocation image the derivation cannot read (no createdAt, no subnetId).
    const poisonKeys = allocationKey(s.id, '10.60.0.99');
    const poison: StreamRecordInput = {
      eventID: 'poison',
      eventName: 'INSERT',
      dynamodb: {
        ApproximateCreationDateTime: new Date(),
        Keys: { pk: { S: poisonKeys.pk }, sk: { S: poisonKeys.sk } },
        NewImage: { pk: { S: poisonKeys.pk }, sk: { S: poisonKeys.sk }, ip: { S: '10.60.0.99' } },
        SequenceNumber: '1',
      },
    };
    const batch = [records[0], poison, ...records.slice(1)] as StreamRecordInput[];
    const publisher = memoryPublisher();
    const handler = createStreamHandler(fresh.db.ctx, publisher, {
      info: () => {},
      error: () => {},
    });
    const response = await handler({ Records: batch.map(asLambdaRecord) });
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '1' }] });
    expect(
      (await addressHistory(fresh.db.ctx, s.id, parseIp('10.60.0.5'), { limit: 10 })).items,
    ).toHaveLength(1);
    expect(
      (await addressHistory(fresh.db.ctx, s.id, parseIp('10.60.0.6'), { limit: 10 })).items,
    ).toHaveLength(1);
    expect(publisher.events.map((event) => event.detailType).sort()).toEqual([
      'Allocation Created',
      'Allocation Created',
      'Subnet Created',
    ]);
    // Lambda retries from the poison record: the others are found, not written again.
    const retry = await handler({ Records: batch.slice(1).map(asLambdaRecord) });
    expect(retry).toEqual({ batchItemFailures: [{ itemIdentifier: '1' }] });
    expect(publisher.events).toHaveLength(3);
  });

  it('holds back the later records of a failed item and goes on with other items', async () => {
    const fresh = await freshDb();
    const s = await createSubnet(fresh.db.ctx, { cidr: '10.70.0.0/24' });
    await fresh.allocator.allocate(s.id, { ip: '10.70.0.5', owner: 'a' });
    await fresh.allocator.update(s.id, '10.70.0.5', { owner: 'b' });
    await fresh.allocator.allocate(s.id, { ip: '10.70.0.6', owner: 'c' });
    const records = await streamRecords(fresh.db);
    let failOnce = true;
    const flaky: EventPublisher = {
      publishes: true,
      publish: async (event: IpamEvent) => {
        if (failOnce && event.detail.ip === '10.70.0.5') {
          failOnce = false;
          throw new Error('EventBridge is down');
        }
      },
    };
    const result = await processStreamRecords(fresh.db.ctx, records, flaky);
    const allocationOf5 = records.findIndex(
      (record) => record.eventName === 'INSERT' && record.dynamodb?.NewImage?.ip?.S === '10.70.0.5',
    );
    expect(result.firstFailure?.sequenceNumber).toBe(
      records[allocationOf5]?.dynamodb?.SequenceNumber,
    );
    expect(result.failures).toHaveLength(2); // its INSERT and the held-back PATCH
    // The entry was written unpublished; the PATCH waits: 10.70.0.6 went on.
    expect((await historyOf2(fresh.db, s.id, '10.70.0.5')).map((e) => e.action)).toEqual([
      'ALLOCATED',
    ]);
    expect((await historyOf2(fresh.db, s.id, '10.70.0.6')).map((e) => e.action)).toEqual([
      'ALLOCATED',
    ]);
  });

  it('loses and doubles nothing when restarted mid-batch', async () => {
    const fresh = await freshDb();
    const s = await createSubnet(fresh.db.ctx, { cidr: '10.80.0.0/24' });
    for (let i = 2; i < 12; i++) {
      await fresh.allocator.allocate(s.id, { ip: `10.80.0.${i}`, owner: `o${i}` });
    }
    await fresh.allocator.release(s.id, '10.80.0.3');
    const records = await streamRecords(fresh.db);
    // The first processor "crashes" after 5 events: its publisher throws from then on.
    const before = memoryPublisher();
    const crashing: EventPublisher = {
      publishes: true,
      publish: async (event) => {
        if (before.events.length >= 5) throw new Error('process killed');
        await before.publish(event);
      },
    };
    await processStreamRecords(fresh.db.ctx, records.slice(0, 15), crashing, { concurrency: 1 });
    // A new processor starts again at TRIM_HORIZON (the poller's in-memory checkpoint is gone).
    const after = memoryPublisher();
    const poller = historyPoller(fresh.db, after);
    await poller.drain();
    const events = [...before.events, ...after.events];
    const ids = events.map((event) => event.detail.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    // 1 subnet + 10 allocations + 1 release.
    expect(events).toHaveLength(12);
    for (let i = 2; i < 12; i++) {
      const expected = i === 3 ? ['RELEASED', 'ALLOCATED'] : ['ALLOCATED'];
      expect((await historyOf2(fresh.db, s.id, `10.80.0.${i}`)).map((e) => e.action)).toEqual(
        expected,
      );
    }
    await poller.stop();
  });
});

describe('who released an address', () => {
  const xena = { actor: 'arn:aws:iam::1:user/xena', requestId: 'req-release-1' };
  const yuri = { actor: 'arn:aws:iam::1:user/yuri', requestId: 'req-release-2' };

  it('names the releaser and its request, for a plain and a guarded release, once on redelivery', async () => {
    const fresh = await freshDb();
    const s = await createSubnet(fresh.db.ctx, { cidr: '10.90.0.0/24' });
    await fresh.allocator.allocate(s.id, { ip: '10.90.0.5', owner: 'vm-1' });
    await fresh.allocator.allocate(s.id, { ip: '10.90.0.6', owner: 'vm-2' });
    // As the HTTP route passes it, and as the custom-resource provider acts (actingAs).
    await fresh.allocator.typed.release(s.id, parseIp('10.90.0.5'), undefined, xena);
    await fresh.allocator.typed.actingAs(yuri).release(s.id, parseIp('10.90.0.6'), 'vm-2');
    const records = await streamRecords(fresh.db);
    const first = await processStreamRecords(fresh.db.ctx, records, memoryPublisher());
    // The subnet, two allocations, two releases: the release notes make no entry.
    expect(first).toMatchObject({ entriesWritten: 5, firstFailure: undefined });
    const again = await processStreamRecords(fresh.db.ctx, records, memoryPublisher());
    expect(again).toMatchObject({ entriesWritten: 0, firstFailure: undefined });
    const brief = async (ip: string) =>
      (await historyOf2(fresh.db, s.id, ip)).map(({ action, actor, requestId, owner }) => ({
        action,
        actor,
        requestId,
        owner,
      }));
    expect(await brief('10.90.0.5')).toEqual([
      { action: 'RELEASED', actor: xena.actor, requestId: xena.requestId, owner: 'vm-1' },
      { action: 'ALLOCATED', actor: 'unknown', requestId: null, owner: 'vm-1' },
    ]);
    expect(await brief('10.90.0.6')).toEqual([
      { action: 'RELEASED', actor: yuri.actor, requestId: yuri.requestId, owner: 'vm-2' },
      { action: 'ALLOCATED', actor: 'unknown', requestId: null, owner: 'vm-2' },
    ]);
  });

  it('dates a release by its note to the millisecond, the same on redelivery', async () => {
    const fresh = await freshDb();
    const s = await createSubnet(fresh.db.ctx, { cidr: '10.92.0.0/24' });
    await fresh.allocator.allocate(s.id, { ip: '10.92.0.5', owner: 'vm-1' });
    // The service's clock runs 5.5 s ahead of the stream's: only the note can say when.
    fresh.db.advance(5_500);
    const before = fresh.db.ctx.now();
    await fresh.allocator.typed.release(s.id, parseIp('10.92.0.5'), undefined, xena);
    const scanned = await fresh.db.ctx.doc.send(
      new ScanCommand({ TableName: fresh.db.ctx.tableName, ConsistentRead: true }),
    );
    const note = (scanned.Items ?? []).find((item) => item.type === 'releaseNote');
    expect(Date.parse(String(note?.releasedAt))).toBeGreaterThanOrEqual(before);
    const records = await streamRecords(fresh.db);
    await processStreamRecords(fresh.db.ctx, records, memoryPublisher());
    const again = await processStreamRecords(fresh.db.ctx, records, memoryPublisher());
    expect(again.entriesWritten).toBe(0);
    const [released] = await historyOf2(fresh.db, s.id, '10.92.0.5');
    expect(released).toMatchObject({ action: 'RELEASED', actor: xena.actor, at: note?.releasedAt });
  });

  it('keeps the note beyond the stream, and no reader takes it for an allocation', async () => {
    const fresh = await freshDb();
    const ctx = fresh.db.ctx;
    const s = await createSubnet(ctx, { cidr: '10.91.0.0/24', space: 'notes' });
    await fresh.allocator.allocate(s.id, { ip: '10.91.0.5', owner: 'vm-note' });
    await fresh.allocator.typed.release(s.id, parseIp('10.91.0.5'), 'vm-note', xena);
    const scanned = await ctx.doc.send(
      new ScanCommand({ TableName: ctx.tableName, ConsistentRead: true }),
    );
    const notes = (scanned.Items ?? []).filter((item) => item.releasedBy !== undefined);
    expect(notes).toEqual([
      expect.objectContaining({
        type: 'releaseNote',
        releasedBy: xena.actor,
        requestId: xena.requestId,
      }),
    ]);
    // Longer than the stream keeps a record (24 h).
    expect(Number(notes[0]?.ttl)).toBeGreaterThan(Math.floor(ctx.now() / 1000) + 86_400);
    expect((await fresh.allocator.list(s.id, { limit: 10 })).items).toEqual([]);
    expect((await listByOwner(ctx, 'vm-note', { limit: 10 })).items).toEqual([]);
    expect((await getSubnet(ctx, s.id)).usage.allocated).toBe(0);
    expect(await lookupAddress(ctx, parseIp('10.91.0.5'), 'notes')).toMatchObject({
      items: [expect.objectContaining({ state: 'FREE' })],
    });
    const report = await runAudit(ctx, { repair: false, gracePeriodMs: 0 });
    expect(report.findings.filter((finding) => finding.type !== 'HIGH_UTILIZATION')).toEqual([]);
    expect(report.scanned.allocations).toBe(0);
    await expect(deleteSubnet(ctx, s.id, onSubnetDeleted)).resolves.toBeUndefined();
  });

  it("records the audit's deletion of a vanished subnet's allocation as REPAIRED by the audit", async () => {
    const fresh = await freshDb();
    const ctx = fresh.db.ctx;
    const s = await createSubnet(ctx, { cidr: '10.93.0.0/24' });
    await fresh.allocator.allocate(s.id, { ip: '10.93.0.8', owner: 'ghost' });
    // The subnet item vanishes (a bug, or a hand-made delete); everything else stays.
    await ctx.doc.send(new DeleteCommand({ TableName: ctx.tableName, Key: keys.subnet(s.id) }));
    await runAudit(ctx, { repair: true });
    fresh.db.advance(16 * 60_000);
    const second = await runAudit(ctx, { repair: true });
    expect(second.findingCounts.ORPHAN_ALLOCATION).toEqual({ found: 3, repaired: 3 });
    await historyPoller(fresh.db).drain();
    expect(await whoDid(fresh.db, s.id, '10.93.0.8')).toEqual([
      { action: 'REPAIRED', actor: 'audit', requestId: second.id },
      { action: 'ALLOCATED', actor: 'unknown', requestId: null },
    ]);
  });
});

describe('history pages', () => {
  it('pages newest first with cursors, and is empty (not 404) for unknown addresses', async () => {
    const poller = historyPoller(db);
    const s = await subnet();
    await allocator.allocate(s.id, { ip: '10.20.0.50', owner: 'a' });
    for (const owner of ['b', 'c', 'd']) await allocator.update(s.id, '10.20.0.50', { owner });
    await poller.drain();
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const result = await addressHistory(db.ctx, s.id, parseIp('10.20.0.50'), {
        limit: 3,
        ...(cursor === undefined ? {} : { cursor }),
      });
      seen.push(...result.items.map((entry) => entry.owner ?? ''));
      if (result.nextCursor === null) break;
      cursor = result.nextCursor;
    }
    expect(seen).toEqual(['d', 'c', 'b', 'a']);
    expect(
      (await addressHistory(db.ctx, `sub_${'n'.repeat(22)}`, parseIp('10.0.0.1'), { limit: 5 }))
        .items,
    ).toEqual([]);
    await expect(
      subnetHistory(db.ctx, s.id, { limit: 5, ...(cursor === undefined ? {} : { cursor }) }),
    ).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    await poller.stop();
  });
});

async function historyOf2(target: TestDb, subnetId: string, ip: string) {
  return (await addressHistory(target.ctx, subnetId, parseIp(ip), { limit: 100 })).items;
}

/** An address's entries, newest first, as who did what in which request. */
async function whoDid(target: TestDb, subnetId: string, ip: string) {
  return (await historyOf2(target, subnetId, ip)).map(({ action, actor, requestId }) => ({
    action,
    actor,
    requestId,
  }));
}
