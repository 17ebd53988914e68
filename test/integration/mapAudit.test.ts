/**
 * The audit against the address map's summaries, on DynamoDB Local: a subnet filled
 * with no stream processor undercounts until a repair audit rebuilds its summaries
 * (a report-only audit changes nothing); a cool-down that ended with no write makes
 * views read below the summaries until the audit rewrites them; and the audit's
 * rebuild never lands on a newer image's summary the processor wrote meanwhile,
 * while a record the processor has yet to apply still wins.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AuditReport, FindingType, NotRepaired, runAudit } from '../../shared/audit/index.js';
import { subnetMap } from '../../shared/map/index.js';
import { onSubnetDeleted } from '../../shared/pools/index.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import { mapKeys } from '../../shared/store/keys.js';
import { createSubnet, deleteSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, historyPoller, type TestDb } from '../support/dynamo.js';
import { counts } from '../support/mapCells.js';
import { countedContext, RequestCount } from '../support/requestCount.js';
import { TextAllocator } from '../support/textAllocator.js';

const STALE = FindingType.MAP_SUMMARY_STALE;
const LAPSED = FindingType.MAP_SUMMARY_LAPSED;

/** Every map item of a subnet, straight from the table. */
async function mapItems(db: TestDb, subnetId: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.ctx.doc.send(
      new ScanCommand({
        TableName: db.ctx.tableName,
        FilterExpression: 'begins_with(pk, :pk)',
        ExpressionAttributeValues: { ':pk': `MAP#${subnetId}#` },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/** The partition key of a request's input, marshalled or not. */
function pkOf(input: Record<string, unknown>): string {
  const item = (input.Item ?? input.ExpressionAttributeValues) as
    | Record<string, unknown>
    | undefined;
  const pk = item?.pk ?? item?.[':pk'];
  return typeof pk === 'string' ? pk : String((pk as { S?: string } | undefined)?.S ?? '');
}

/** A context whose requests are recorded as `command pk` (map items only). */
function recordingMapRequests(db: TestDb, seen: string[]): IpamContext {
  const client: DynamoDBClient = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const pk = pkOf(args.input as Record<string, unknown>);
      if (pk.startsWith('MAP#')) seen.push(`${String(context.commandName)} ${pk}`);
      return next(args);
    },
    { step: 'initialize', name: 'recordMapRequests' },
  );
  return { ...db.ctx, doc: createDocumentClient(client) };
}

function stale(report: AuditReport) {
  return report.findings.filter((finding) => finding.type === STALE);
}

describe('the audit and the address map, without a stream processor', () => {
  let db: TestDb;
  let allocator: TextAllocator;

  beforeAll(async () => {
    db = await createTestDb();
    allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
  });

  it('finds the missing summaries, changes nothing without repair, and rebuilds them with it', {
    timeout: 120_000,
  }, async () => {
    const subnet = await createSubnet(db.ctx, {
      cidr: '10.0.0.0/8',
      space: 'map-audit',
      reuseDelaySeconds: 300,
    });
    await allocator.allocate(subnet.id, { ip: '10.1.2.3', owner: 'a' });
    await allocator.allocate(subnet.id, { ip: '10.1.2.4', owner: 'a', ttlSeconds: 3600 });
    await allocator.allocate(subnet.id, { ip: '10.1.2.5', owner: 'a' });
    await allocator.release(subnet.id, '10.1.2.5');
    // 25 more blocks, each one allocation (shard 0: cell 3), and two far shards.
    for (let block = 0; block < 25; block++) {
      await allocator.allocate(subnet.id, { ip: `10.3.${block}.1`, owner: 'b' });
    }
    await allocator.allocate(subnet.id, { ip: '10.77.0.9', owner: 'c' });
    await allocator.allocate(subnet.id, { ip: '10.200.0.5', owner: 'c' });
    const blocks = 1 + 25 + 2;

    const before = await subnetMap(db.ctx, subnet.id);
    expect(counts(before.cells[1]!)).toEqual({
      allocated: 0,
      leased: 0,
      quarantined: 0,
      free: 65_536,
    });

    const found = await runAudit(db.ctx, { repair: false });
    expect(found.findingCounts[STALE]).toEqual({ found: blocks, repaired: 0 });
    // Counted in full, listed as samples.
    expect(stale(found)).toHaveLength(20);
    expect(found.findingsTruncated).toBe(true);
    expect(stale(found)[0]).toMatchObject({ subnetId: subnet.id, repaired: false });
    expect(stale(found).map((finding) => finding.detail)).toContainEqual(
      expect.stringMatching(
        /^The address map has no summary of 10\.1\.2\.0\/24, which holds 1 allocated, 1 leased, 1 quarantined/,
      ),
    );
    expect(await mapItems(db, subnet.id)).toEqual([]);

    const repaired = await runAudit(db.ctx, { repair: true });
    expect(repaired.findingCounts[STALE]).toEqual({ found: blocks, repaired: blocks });
    const top = await subnetMap(db.ctx, subnet.id);
    expect(counts(top.cells[1]!)).toEqual({
      allocated: 1,
      leased: 1,
      quarantined: 1,
      free: 65_533,
    });
    expect(counts(top.cells[3]!)).toEqual({
      allocated: 25,
      leased: 0,
      quarantined: 0,
      free: 65_536 - 25,
    });
    expect(counts(top.cells[77]!)).toMatchObject({ allocated: 1, free: 65_535 });
    expect(counts(top.cells[200]!)).toMatchObject({ allocated: 1, free: 65_535 });
    expect(counts(top.cells[2]!)).toEqual({
      allocated: 0,
      leased: 0,
      quarantined: 0,
      free: 65_536,
    });
    // Down a level, from the block summaries it wrote: the same as the blocks say.
    const cell = await subnetMap(db.ctx, subnet.id, '1');
    expect(counts(cell.cells[2]!)).toEqual({ allocated: 1, leased: 1, quarantined: 1, free: 253 });

    // Nothing left; and agreeing summaries cost one Query per summary partition a
    // shard's blocks touch (4: shard 0 has blocks in cells 1 and 3, shards 19 and 50
    // one each), no read per block, no write.
    const seen: string[] = [];
    const again = await runAudit(recordingMapRequests(db, seen), { repair: true });
    expect(again.findingCounts[STALE]).toBeUndefined();
    expect(seen.filter((request) => !request.startsWith('QueryCommand'))).toEqual([]);
    expect(seen).toHaveLength(4);
  });

  it("deletes a deleted subnet's summaries that no processor emptied, as orphans", {
    timeout: 120_000,
  }, async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.70.0.0/16', space: 'map-orphans' });
    await allocator.allocate(subnet.id, { ip: '10.70.1.1', owner: 'a' });
    await runAudit(db.ctx, { repair: true });
    expect(await mapItems(db, subnet.id)).toEqual([expect.objectContaining({ a: 1, l: 0, q: 0 })]);
    // No processor sees the release or the delete: the summary outlives its subnet.
    await allocator.release(subnet.id, '10.70.1.1');
    await deleteSubnet(db.ctx, subnet.id, onSubnetDeleted);
    const first = await runAudit(db.ctx, { repair: true, gracePeriodMs: 0 });
    const orphans = (report: AuditReport) =>
      report.findings.filter(
        (finding) =>
          finding.type === FindingType.ORPHAN_ALLOCATION && finding.subnetId === subnet.id,
      );
    // Seen gone for the first time: kept until an earlier audit saw the same.
    expect(orphans(first)).toEqual([
      expect.objectContaining({ repaired: false, notRepaired: NotRepaired.GRACE_PERIOD }),
    ]);
    expect(orphans(first)[0]?.detail).toMatch(/^The address-map summary MAP#/);
    expect(await mapItems(db, subnet.id)).toHaveLength(1);
    const second = await runAudit(db.ctx, { repair: true, gracePeriodMs: 0 });
    expect(orphans(second)).toEqual([expect.objectContaining({ repaired: true })]);
    expect(await mapItems(db, subnet.id)).toEqual([]);
  });
});

describe('the audit and the address map, beside the stream processor', () => {
  let db: TestDb;
  let allocator: TextAllocator;
  let poller: ReturnType<typeof historyPoller>;

  beforeAll(async () => {
    db = await createTestDb({ stream: true });
    allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
    poller = historyPoller(db);
  });

  it('rewrites summaries a cool-down outlived, so views read no more than the summaries', {
    timeout: 120_000,
  }, async () => {
    const subnet = await createSubnet(db.ctx, {
      cidr: '10.0.0.0/8',
      space: 'map-lapsed',
      reuseDelaySeconds: 300,
    });
    await allocator.allocate(subnet.id, { ip: '10.1.2.3', owner: 'a' });
    await allocator.allocate(subnet.id, { ip: '10.1.2.5', owner: 'a' });
    await allocator.release(subnet.id, '10.1.2.5');
    await poller.drain();
    const count = new RequestCount();
    const counted = countedContext(db.ctx, db.endpoint, count, db.ctx.now);
    const constant = { GetItem: 1, Query: 1 };
    expect(Object.fromEntries(count.byCommand)).toEqual({});
    expect(counts((await subnetMap(counted, subnet.id)).cells[1]!)).toMatchObject({
      allocated: 1,
      quarantined: 1,
    });
    expect(Object.fromEntries(count.byCommand)).toEqual(constant);

    // The cool-down ends with no write: the summaries lapse, and views read below them.
    db.advance(301_000);
    count.reset();
    const lapsed = await subnetMap(counted, subnet.id);
    expect(counts(lapsed.cells[1]!)).toEqual({
      allocated: 1,
      leased: 0,
      quarantined: 0,
      free: 65_535,
    });
    expect(count.requests).toBeGreaterThan(2);

    const report = await runAudit(db.ctx, { repair: true });
    expect(report.findingCounts[STALE]).toBeUndefined();
    expect(report.findingCounts[LAPSED]).toEqual({ found: 1, repaired: 1 });
    expect(report.findings.find((finding) => finding.type === LAPSED)?.detail).toMatch(
      /^The address map's summary of 10\.1\.2\.0\/24 lapsed at /,
    );
    count.reset();
    expect(await subnetMap(counted, subnet.id)).toEqual(lapsed);
    expect(Object.fromEntries(count.byCommand)).toEqual(constant);
    expect((await runAudit(db.ctx, { repair: false })).findingCounts[LAPSED]).toBeUndefined();
  });

  it('never writes over the summary of a newer image; a record still to come wins', {
    timeout: 120_000,
  }, async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.66.0.0/16', space: 'map-race' });
    await allocator.allocate(subnet.id, { ip: '10.66.3.1', owner: 'a' });
    await allocator.allocate(subnet.id, { ip: '10.66.3.2', owner: 'a', ttlSeconds: 60 });
    await poller.drain();
    db.advance(61_000); // the lease lapses: block 3's summary with it

    // The audit reads the summary and the block again, then — before its put — an
    // allocation lands in the block and the processor writes that image's summary.
    const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
    let raced = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as Record<string, unknown>;
        if (
          context.commandName === 'PutItemCommand' &&
          pkOf(input).startsWith(`MAP#${subnet.id}#`) &&
          raced++ === 0
        ) {
          await allocator.allocate(subnet.id, { ip: '10.66.3.9', owner: 'b' });
          await poller.drain();
        }
        return next(args);
      },
      { step: 'initialize', name: 'allocateBeforeMapPut' },
    );
    const racing = { ...db.ctx, doc: createDocumentClient(client) };
    const report = await runAudit(racing, { repair: true });
    expect(raced).toBe(1);
    // The lease ran out with no write to the block: the summary lapsed.
    expect(report.findingCounts[LAPSED]).toEqual({ found: 1, repaired: 0 });
    expect(report.findings.find((finding) => finding.type === LAPSED)).toMatchObject({
      repaired: false,
      notRepaired: NotRepaired.CHANGED,
    });
    const top = await subnetMap(db.ctx, subnet.id);
    // The processor's newer image (2 held), not the audit's older one (1 held).
    expect(counts(top.cells[3]!)).toEqual({
      allocated: 2,
      leased: 0,
      quarantined: 0,
      free: 256 - 2,
    });

    // The next allocation's record waits; the audit rebuilds the (lapsed) summary
    // from the block as it is now, keeping the processor's version, so the record
    // it has not applied yet still lands when it comes.
    const stored = await db.ctx.doc.send(
      new GetCommand({
        TableName: db.ctx.tableName,
        Key: mapKeys.summary(subnet.id, 0, 3n),
        ConsistentRead: true,
      }),
    );
    expect(typeof stored.Item?.v).toBe('string');
    await allocator.allocate(subnet.id, { ip: '10.66.3.10', owner: 'b' });
    const rebuilt = await runAudit(db.ctx, { repair: true });
    expect(rebuilt.findingCounts[STALE]).toEqual({ found: 1, repaired: 1 });
    const kept = await db.ctx.doc.send(
      new GetCommand({
        TableName: db.ctx.tableName,
        Key: mapKeys.summary(subnet.id, 0, 3n),
        ConsistentRead: true,
      }),
    );
    expect(kept.Item?.v).toBe(stored.Item?.v);
    expect(counts((await subnetMap(db.ctx, subnet.id)).cells[3]!)).toEqual({
      allocated: 3,
      leased: 0,
      quarantined: 0,
      free: 253,
    });
    await poller.drain();
    const applied = await db.ctx.doc.send(
      new GetCommand({
        TableName: db.ctx.tableName,
        Key: mapKeys.summary(subnet.id, 0, 3n),
        ConsistentRead: true,
      }),
    );
    expect(String(applied.Item?.v) > String(stored.Item?.v)).toBe(true);
    expect(counts((await subnetMap(db.ctx, subnet.id)).cells[3]!)).toEqual({
      allocated: 3,
      leased: 0,
      quarantined: 0,
      free: 253,
    });
  });
});
