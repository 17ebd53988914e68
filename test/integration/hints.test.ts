/**
 * Blocks' hints (shared/hints/) from DynamoDB Local's real stream: each hint says
 * what its block says once the stream is processed, also when batches come again
 * from an earlier record, and when two processors write one block at once. (The mixed workload under delivery realism is in
 * streamRedelivery.test.ts.)
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../shared/audit/index.js';
import { noopPublisher } from '../../shared/events/index.js';
import { compareHints } from '../../shared/hints/index.js';
import { processStreamRecords } from '../../shared/history/index.js';
import { keys } from '../../shared/store/keys.js';
import { createSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, storedItems, streamRecords } from '../support/dynamo.js';
import { TextAllocator } from '../support/textAllocator.js';

describe('block hints', () => {
  it('follow the items: held, leased, cooling, released, as the blocks say', async () => {
    const db = await createTestDb({ stream: true });
    const allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
    const subnet = await createSubnet(db.ctx, {
      cidr: '10.74.0.0/24',
      space: 'hints',
      reuseDelaySeconds: 120,
    });
    await allocator.allocate(subnet.id, { ip: '10.74.0.5' });
    await allocator.allocate(subnet.id, { ip: '10.74.0.6', ttlSeconds: 600 });
    await allocator.allocate(subnet.id, { ip: '10.74.0.7' });
    await allocator.allocate(subnet.id, { count: 3, strategy: 'sequential' });
    await allocator.release(subnet.id, '10.74.0.7'); // a tombstone: cooling
    await processStreamRecords(db.ctx, await streamRecords(db), noopPublisher, { hints: true });
    expect(await compareHints(db.ctx, subnet.id, 1)).toEqual([]);
    const [hint] = await storedItems(db.ctx, 'hint');
    expect(hint).toMatchObject({ ...keys.hint(subnet.id, 0, 0n), u: new Set([2, 3, 4, 5, 6, 7]) });
    expect(hint?.x6).toEqual(expect.any(Number));
    expect(hint?.q7).toEqual(expect.any(Number));
  });

  it('end as the items are when a batch comes again from an earlier record', async () => {
    const db = await createTestDb({ stream: true });
    const allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
    const subnet = await createSubnet(db.ctx, { cidr: '10.75.0.0/24', space: 'hints' });
    await allocator.allocate(subnet.id, { ip: '10.75.0.9' });
    await allocator.allocate(subnet.id, { ip: '10.75.0.10', ttlSeconds: 300 });
    await allocator.release(subnet.id, '10.75.0.9');
    await allocator.update(subnet.id, '10.75.0.10', { ttlSeconds: 900 });
    const records = await streamRecords(db);
    await processStreamRecords(db.ctx, records, noopPublisher, { hints: true });
    const settled = await storedItems(db.ctx, 'hint');
    // Redelivered from each record on, as a retried or bisected batch is: first in
    // pieces (an older change applied alone for a while), then to the end.
    for (let from = 0; from < records.length; from++) {
      await processStreamRecords(db.ctx, records.slice(from, from + 1), noopPublisher, {
        hints: true,
      });
      await processStreamRecords(db.ctx, records.slice(from), noopPublisher, { hints: true });
      expect(await compareHints(db.ctx, subnet.id, 1), `from record ${from}`).toEqual([]);
    }
    const [before] = settled;
    const [after] = await storedItems(db.ctx, 'hint');
    expect({ ...after, ver: undefined }).toEqual({ ...before, ver: undefined });
  });

  it('lose no change when two processors write one block at once', async () => {
    const db = await createTestDb({ stream: true });
    const allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
    const subnet = await createSubnet(db.ctx, { cidr: '10.76.0.0/24', space: 'hints' });
    for (let i = 0; i < 4; i++) await allocator.allocate(subnet.id, { count: 5 });
    const taken = (await allocator.list(subnet.id, { limit: 100 })).items;
    for (const view of taken.slice(0, 7)) await allocator.release(subnet.id, view.ip);
    const records = await streamRecords(db);
    // Two processors, each with the records of half the addresses (a parallelization
    // factor keeps each item's order, not a block's), each record on its own, at once.
    const itemOf = (record: (typeof records)[number]) => String(record.dynamodb?.Keys?.sk?.S);
    const items = [...new Set(records.map(itemOf))];
    const half = new Set(items.filter((_, i) => i % 2 === 0));
    const processor = async (mine: typeof records) => {
      for (const record of mine)
        await processStreamRecords(db.ctx, [record], noopPublisher, { hints: true });
    };
    await Promise.all([
      processor(records.filter((record) => half.has(itemOf(record)))),
      processor(records.filter((record) => !half.has(itemOf(record)))),
    ]);
    expect(await compareHints(db.ctx, subnet.id, 1)).toEqual([]);
  });

  it('are checked by the audit against the items: trailing when first seen, rebuilt when seen lost', async () => {
    const db = await createTestDb({ stream: true });
    const allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
    const subnet = await createSubnet(db.ctx, { cidr: '10.77.0.0/24', space: 'hints' });
    await allocator.allocate(subnet.id, { ip: '10.77.0.20' });
    await allocator.allocate(subnet.id, { ip: '10.77.0.21', ttlSeconds: 600 });
    await processStreamRecords(db.ctx, await streamRecords(db), noopPublisher, { hints: true });
    const clean = await runAudit(db.ctx, { repair: false, gracePeriodMs: 0 });
    expect(clean.findings.filter((f) => f.type === 'HINT_STALE')).toEqual([]);
    // A change the processor lost (sent to the failure destination, say).
    await db.ctx.doc.send(
      new UpdateCommand({
        TableName: db.ctx.tableName,
        Key: keys.hint(subnet.id, 0, 0n),
        UpdateExpression: 'DELETE u :o REMOVE x21 ADD ver :one',
        ExpressionAttributeValues: { ':o': new Set([21]), ':one': 1 },
      }),
    );
    expect(await compareHints(db.ctx, subnet.id, 1)).toHaveLength(1);
    // First seen, it may be a change still in the stream: trailing, left alone.
    const first = await runAudit(db.ctx, { repair: true, gracePeriodMs: 0 });
    expect(first.findings.filter((f) => f.type.startsWith('HINT_'))).toMatchObject([
      {
        type: 'HINT_TRAILING',
        subnetId: subnet.id,
        repaired: false,
        notRepaired: 'GRACE_PERIOD',
      },
    ]);
    expect(await compareHints(db.ctx, subnet.id, 1)).toHaveLength(1);
    // Seen the same again past the grace period: lost.
    const seen = await runAudit(db.ctx, { repair: false, gracePeriodMs: 0 });
    expect(seen.findings.filter((f) => f.type.startsWith('HINT_'))).toMatchObject([
      { type: 'HINT_STALE', subnetId: subnet.id, repaired: false },
    ]);
    await runAudit(db.ctx, { repair: true, gracePeriodMs: 0 });
    expect(await compareHints(db.ctx, subnet.id, 1)).toEqual([]);
    const after = await runAudit(db.ctx, { repair: false, gracePeriodMs: 0 });
    expect(after.findings.filter((f) => f.type.startsWith('HINT_'))).toEqual([]);
  });
});
