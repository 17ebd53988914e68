/**
 * The stage-2 review's findings on blocks' hints (shared/hints/, shared/audit/hints.ts):
 * a hint that is missing altogether is an audit finding once hints are expected, also
 * in a shard the scan never met, and a failure to tell a subnet's geometry fails that
 * subnet's records, not the batch.
 */
import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { finishAudit, runAudit, runAuditSegment, startAuditJob } from '../../shared/audit/index.js';
import { noopPublisher } from '../../shared/events/index.js';
import { compareHints } from '../../shared/hints/index.js';
import { processStreamRecords } from '../../shared/history/index.js';
import { SubnetPlaces } from '../../shared/history/places.js';
import { parseIp } from '../../shared/net/address.js';
import { keys } from '../../shared/store/keys.js';
import { createSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, storedItems, streamRecords } from '../support/dynamo.js';
import { TextAllocator } from '../support/textAllocator.js';

const hintFindings = (report: { findings: { type: string }[] }) =>
  report.findings.filter((finding) => finding.type.startsWith('HINT_'));

describe('block hints (review)', () => {
  it('are reported missing where a block has items and no hint, once hints are expected', async () => {
    const db = await createTestDb({ stream: true });
    const allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
    const subnet = await createSubnet(db.ctx, { cidr: '10.78.0.0/16', space: 'hints' });
    await allocator.allocate(subnet.id, { ip: '10.78.0.20' }); // block 0
    await allocator.allocate(subnet.id, { ip: '10.78.1.5' }); // block 1
    await allocator.allocate(subnet.id, { ip: '10.78.2.7' }); // block 2
    const records = await streamRecords(db);
    // Block 2's record went to the failure destination: its hint was never written.
    const seven = keys.allocationSort(parseIp('10.78.2.7'));
    const lost = records.filter((record) => record.dynamodb?.Keys?.sk?.S !== seven);
    expect(lost).toHaveLength(records.length - 1);
    await processStreamRecords(db.ctx, lost, noopPublisher, { hints: true });
    // Block 1's hint went too (a TTL or the orphan pass), while its item stays.
    await db.ctx.doc.send(
      new DeleteCommand({ TableName: db.ctx.tableName, Key: keys.hint(subnet.id, 0, 1n) }),
    );
    expect(await storedItems(db.ctx, 'hint')).toHaveLength(1);

    const unasked = await runAudit(db.ctx, { repair: false, gracePeriodMs: 0, expectHints: false });
    expect(hintFindings(unasked)).toEqual([]); // hints not written here: none is missing
    const first = await runAudit(db.ctx, { repair: false, gracePeriodMs: 0, expectHints: true });
    expect(hintFindings(first).map((finding) => finding.type)).toEqual([
      'HINT_TRAILING',
      'HINT_TRAILING',
    ]);
    const seen = await runAudit(db.ctx, { repair: false, gracePeriodMs: 0, expectHints: true });
    expect(hintFindings(seen)).toMatchObject([
      {
        type: 'HINT_STALE',
        subnetId: subnet.id,
        repaired: false,
        detail: expect.stringMatching(/Block 1 has no hint/),
      },
      {
        type: 'HINT_STALE',
        subnetId: subnet.id,
        repaired: false,
        detail: expect.stringMatching(/Block 2 has no hint/),
      },
    ]);
    await runAudit(db.ctx, { repair: true, gracePeriodMs: 0, expectHints: true });
    expect(await compareHints(db.ctx, subnet.id, 1)).toEqual([]);
    expect(await storedItems(db.ctx, 'hint')).toHaveLength(3);
    const after = await runAudit(db.ctx, { repair: false, gracePeriodMs: 0, expectHints: true });
    expect(hintFindings(after)).toEqual([]);
  });

  it('are checked in a shard the scan never met (a subnet created during the scan)', async () => {
    const db = await createTestDb({ stream: true });
    const allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
    const job = await startAuditJob(db.ctx, { repair: false, gracePeriodMs: 0, expectHints: true });
    expect(await runAuditSegment(db.ctx, job.id, 0)).toEqual({ done: true });
    // Created once the scan has passed: only the finish's by-Query audit meets it.
    const subnet = await createSubnet(db.ctx, { cidr: '10.80.0.0/16', space: 'hints' });
    await allocator.allocate(subnet.id, { ip: '10.80.0.20' }); // block 0
    await allocator.allocate(subnet.id, { ip: '10.80.1.5' }); // block 1
    await processStreamRecords(db.ctx, await streamRecords(db), noopPublisher, { hints: true });
    await db.ctx.doc.send(
      new DeleteCommand({ TableName: db.ctx.tableName, Key: keys.hint(subnet.id, 0, 0n) }),
    );
    await db.ctx.doc.send(
      new UpdateCommand({
        TableName: db.ctx.tableName,
        Key: keys.hint(subnet.id, 0, 1n),
        UpdateExpression: 'REMOVE u ADD ver :one',
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );
    const report = await finishAudit(db.ctx, job.id);
    expect(hintFindings(report)).toMatchObject([
      { subnetId: subnet.id, detail: expect.stringMatching(/Block 0 has no hint/) },
      {
        subnetId: subnet.id,
        detail: expect.stringMatching(/hint of block 1 says no offset taken/),
      },
    ]);
  });

  it('fail only the records of a subnet whose geometry cannot be read, never the batch', async () => {
    const db = await createTestDb({ stream: true });
    const allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
    const broken = await createSubnet(db.ctx, { cidr: '10.79.0.0/24', space: 'hints' });
    const fine = await createSubnet(db.ctx, { cidr: '10.79.1.0/24', space: 'hints' });
    await allocator.allocate(broken.id, { ip: '10.79.0.9' });
    await allocator.allocate(fine.id, { ip: '10.79.1.9' });
    const throttled = new Error('ProvisionedThroughputExceededException (injected)');
    // A subnet's place read that keeps failing (throttled), for one subnet only.
    class ThrottledPlaces extends SubnetPlaces {
      override note(): void {} // no place learnt from the batch's own subnet records
      override async of(...args: Parameters<SubnetPlaces['of']>) {
        if (args[1] === broken.id) throw throttled;
        return super.of(...args);
      }
    }
    const records = await streamRecords(db);
    const result = await processStreamRecords(db.ctx, records, noopPublisher, {
      hints: true,
      places: new ThrottledPlaces(),
    });
    const itemOf = (sequenceNumber: string | undefined) => {
      const record = records.find((r) => r.dynamodb?.SequenceNumber === sequenceNumber);
      return `${record?.dynamodb?.Keys?.pk?.S} ${record?.dynamodb?.Keys?.sk?.S}`;
    };
    const item = (subnetId: string, ip: string) => {
      const key = keys.allocation(subnetId, 0, parseIp(ip));
      return `${key.pk} ${key.sk}`;
    };
    const failedItems = new Set(result.failures.map((failure) => itemOf(failure.sequenceNumber)));
    expect(failedItems).toContain(item(broken.id, '10.79.0.9'));
    expect(failedItems).not.toContain(item(fine.id, '10.79.1.9'));
    expect(await compareHints(db.ctx, fine.id, 1)).toEqual([]);
    expect((await storedItems(db.ctx, 'hint')).map((hint) => hint.pk)).toEqual([
      keys.shardPartition(fine.id, 0),
    ]);
  });
});
