import { randomInt } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { tokenAttribute } from '../../shared/allocator/index.js';
import {
  type AuditFinding,
  type AuditOptions,
  type AuditReport,
  FindingType,
  getAudit,
  getLatestAudit,
  NotRepaired,
  runAudit,
  utilizationMetrics,
} from '../../shared/audit/index.js';
import {
  AllocationContentionError,
  AllocationNotFoundError,
  AuditNotFoundError,
  AuditRunningError,
  IpAlreadyAllocatedError,
  OwnerMismatchError,
  SubnetExhaustedError,
} from '../../shared/errors.js';
import { parseCidr, parseIp } from '../../shared/net/address.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import { keys } from '../../shared/store/keys.js';
import { sleep } from '../../shared/store/retry.js';
import { leaseAttribute } from '../../shared/subnets/blocks.js';
import { newCounterItem } from '../../shared/subnets/counters.js';
import { geometryOf, positionOf } from '../../shared/subnets/geometry.js';
import { toSubnetItem } from '../../shared/subnets/subnet.js';
import { createSubnet, getSubnet, planSubnet, updateSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import { TextAllocator } from '../support/textAllocator.js';

const MINUTE = 60_000;
/** Past the default grace period (15 minutes). */
const PAST_GRACE = 16 * MINUTE;

/** Finding types that are never repaired: what a clean table may still show. */
const INFORMATIONAL: readonly string[] = [
  FindingType.ALLOCATION_OUTSIDE_POOL,
  FindingType.HIGH_UTILIZATION,
  FindingType.SUBNET_OVERLAP,
  FindingType.ALLOCATION_TOKEN_MISMATCH,
];

let db: TestDb;
let ctx: IpamContext;
let allocator: TextAllocator;
let nextSpace = 0;

// Every test gets its own table: an audit reads the whole table.
beforeEach(async () => {
  db = await createTestDb();
  ctx = db.ctx;
  allocator = new TextAllocator(ctx);
});

async function subnet(cidr: string, extra: Record<string, unknown> = {}) {
  nextSpace++;
  return createSubnet(ctx, { cidr, space: `audit-${nextSpace}`, ...extra });
}

function audit(options: Partial<AuditOptions> = {}, on: IpamContext = ctx): Promise<AuditReport> {
  return runAudit(on, { repair: false, ...options });
}

function repair(options: Partial<AuditOptions> = {}, on: IpamContext = ctx): Promise<AuditReport> {
  return runAudit(on, { repair: true, ...options });
}

function ofType(report: AuditReport, type: string): AuditFinding[] {
  return report.findings.filter((finding) => finding.type === type);
}

/** Findings that say something is wrong (everything but the informational types). */
function problems(report: AuditReport): AuditFinding[] {
  return report.findings.filter((finding) => !INFORMATIONAL.includes(finding.type));
}

/** Where an address of a subnet lives. */
function where(cidr: string, ip: string) {
  return positionOf(geometryOf(parseCidr(cidr)), parseIp(ip).value);
}

async function getItem(key: Record<string, unknown>) {
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: key, ConsistentRead: true }),
  );
  return result.Item;
}

async function counter(subnetId: string, shard = 0) {
  return getItem(keys.counter(subnetId, shard));
}

async function usedOffsets(subnetId: string, cidr: string, ip: string): Promise<number[]> {
  const pos = where(cidr, ip);
  const block = await getItem(keys.block(subnetId, pos.shard, pos.block));
  return block?.u instanceof Set ? [...(block.u as Set<number>)].sort((a, b) => a - b) : [];
}

async function allItems(): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await ctx.doc.send(
      new ScanCommand({
        TableName: ctx.tableName,
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/** Counts one command's calls on a client, so a deadline can trip after N of them. */
function countCalls(client: DynamoDBClient, command: string): { calls: number } {
  const counter = { calls: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === command) counter.calls++;
      return next(args);
    },
    { step: 'initialize', name: `count${command}` },
  );
  return counter;
}

function countingContext(command: string): { ctx: IpamContext; counter: { calls: number } } {
  const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  const counter = countCalls(client, command);
  return { ctx: { ...ctx, doc: createDocumentClient(client) }, counter };
}

/** Adds to a shard counter behind the allocator's back. */
async function bumpCounter(subnetId: string, shard: number, n: number, p = n, l = 0) {
  await ctx.doc.send(
    new UpdateCommand({
      TableName: ctx.tableName,
      Key: keys.counter(subnetId, shard),
      UpdateExpression: 'ADD n :n, p :p, l :l, ver :one',
      ExpressionAttributeValues: { ':n': n, ':p': p, ':l': l, ':one': 1 },
    }),
  );
}

describe('audit', () => {
  describe('a consistent table', () => {
    it('finds nothing, reports utilisation and stores the report', async () => {
      const s = await subnet('10.0.0.0/24');
      await allocator.allocate(s.id, { count: 10, owner: 'web' });
      const report = await audit();
      expect(report).toMatchObject({
        repair: false,
        status: 'complete',
        scanned: { subnets: 1, allocations: 10 },
        findings: [],
        findingsTruncated: false,
        utilization: [
          { subnetId: s.id, cidr: '10.0.0.0/24', total: 253, allocated: 10, percent: 3.95 },
        ],
      });
      expect(report.id).toMatch(/^aud_[A-Za-z0-9_-]{22}$/);
      expect(Date.parse(report.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(report.startedAt));
      expect(report.consumedReadCapacity).toBeGreaterThan(0);
      expect(await getAudit(ctx, report.id)).toEqual(report);
      expect(await getLatestAudit(ctx)).toEqual(report);
    });

    it('answers AUDIT_NOT_FOUND for unknown ids and before any audit finished', async () => {
      await expect(getLatestAudit(ctx)).rejects.toBeInstanceOf(AuditNotFoundError);
      await expect(getAudit(ctx, 'aud_AAAAAAAAAAAAAAAAAAAAAA')).rejects.toMatchObject({
        code: 'AUDIT_NOT_FOUND',
        details: { auditId: 'aud_AAAAAAAAAAAAAAAAAAAAAA' },
      });
      await expect(getAudit(ctx, '../etc')).rejects.toBeInstanceOf(AuditNotFoundError);
      await expect(audit({ resumeFrom: 'aud_AAAAAAAAAAAAAAAAAAAAAA' })).rejects.toBeInstanceOf(
        AuditNotFoundError,
      );
    });

    it('rejects nonsensical options', async () => {
      await expect(audit({ segments: 0 })).rejects.toMatchObject({
        code: 'VALIDATION_ERROR',
        details: { field: 'segments' },
      });
      await expect(audit({ gracePeriodMs: -1 })).rejects.toMatchObject({
        details: { field: 'gracePeriodMs' },
      });
    });
  });

  describe('ORPHAN_ALLOCATION and ORPHAN_SPACE_ENTRY', () => {
    it('deletes the leftovers of a vanished subnet once an earlier audit saw it gone', async () => {
      const s = await subnet('10.1.0.0/24');
      await allocator.allocate(s.id, { count: 3, owner: 'ghost' });
      await ctx.doc.send(
        new PutCommand({
          TableName: ctx.tableName,
          Item: {
            ...keys.pending(s.id, 'crashed'),
            type: 'pending',
            subnetId: s.id,
            token: 'crashed',
            ips: ['10.1.0.9'],
            createdAt: new Date(ctx.now()).toISOString(),
          },
        }),
      );
      // The subnet item vanishes (a bug, or a hand-made delete); everything else stays.
      await ctx.doc.send(new DeleteCommand({ TableName: ctx.tableName, Key: keys.subnet(s.id) }));

      const first = await repair();
      const orphans = ofType(first, FindingType.ORPHAN_ALLOCATION);
      // 3 allocations, their block, the counter and the pending record.
      expect(orphans).toHaveLength(6);
      expect(orphans.filter((finding) => finding.ip !== undefined)).toHaveLength(3);
      expect(ofType(first, FindingType.ORPHAN_SPACE_ENTRY)).toEqual([
        expect.objectContaining({ subnetId: s.id, repaired: false }),
      ]);
      for (const finding of problems(first)) {
        expect(finding).toMatchObject({ repaired: false, notRepaired: NotRepaired.GRACE_PERIOD });
      }
      expect(first.scanned.subnets).toBe(0);

      db.advance(PAST_GRACE);
      const second = await repair();
      expect(problems(second)).toHaveLength(7);
      expect(problems(second).every((finding) => finding.repaired)).toBe(true);
      expect(second.findingCounts.ORPHAN_ALLOCATION).toEqual({ found: 6, repaired: 6 });

      expect(problems(await repair())).toEqual([]);
      const left = (await allItems()).filter(
        (item) => String(item.pk).includes(s.id) && !String(item.pk).startsWith('AUDIT#'),
      );
      expect(left).toEqual([]);
      // The CIDR is free again in that space.
      await expect(
        createSubnet(ctx, { cidr: '10.1.0.0/24', space: s.space }),
      ).resolves.toBeDefined();
    });
  });

  describe('STALE_PENDING', () => {
    /** A multi-step request that crashed after reserving two addresses and writing one item. */
    async function plantCrashedRequest(subnetId: string, cidr: string, ips: string[]) {
      const token = 'tok-crashed';
      await ctx.doc.send(
        new PutCommand({
          TableName: ctx.tableName,
          Item: {
            ...keys.pending(subnetId, token),
            type: 'pending',
            subnetId,
            token,
            ips,
            createdAt: new Date(ctx.now()).toISOString(),
          },
        }),
      );
      for (const ip of ips) {
        const pos = where(cidr, ip);
        await ctx.doc.send(
          new UpdateCommand({
            TableName: ctx.tableName,
            Key: keys.block(subnetId, pos.shard, pos.block),
            UpdateExpression: `ADD u :o SET ${tokenAttribute(pos.offset)} = :token`,
            ExpressionAttributeValues: { ':o': new Set([pos.offset]), ':token': token },
          }),
        );
        await bumpCounter(subnetId, pos.shard, 1);
      }
      const first = where(cidr, ips[0]!);
      await ctx.doc.send(
        new PutCommand({
          TableName: ctx.tableName,
          Item: {
            ...keys.allocation(subnetId, first.shard, parseIp(ips[0]!)),
            type: 'allocation',
            subnetId,
            ip: ips[0],
            owner: null,
            description: null,
            tags: {},
            macAddress: null,
            createdAt: new Date(ctx.now()).toISOString(),
            expiresAt: null,
            reqToken: token,
          },
        }),
      );
    }

    it('reports a young pending request, and undoes it past the grace period', async () => {
      const s = await subnet('10.2.0.0/24');
      await plantCrashedRequest(s.id, s.cidr, ['10.2.0.20', '10.2.0.21']);

      const young = await repair({ gracePeriodMs: 0 });
      // Only the pending record: its reserved offsets are in flight, not inconsistent.
      expect(problems(young)).toEqual([
        expect.objectContaining({
          type: FindingType.STALE_PENDING,
          subnetId: s.id,
          ip: '10.2.0.20',
          repaired: false,
          // Even with gracePeriodMs 0: a request may run for up to 15 minutes.
          notRepaired: NotRepaired.GRACE_PERIOD,
        }),
      ]);
      expect(await usedOffsets(s.id, s.cidr, '10.2.0.20')).toEqual([20, 21]);

      db.advance(PAST_GRACE);
      const old = await repair();
      expect(problems(old)).toEqual([
        expect.objectContaining({ type: FindingType.STALE_PENDING, repaired: true }),
      ]);
      expect(problems(old)[0]?.detail).toContain('2 address(es) freed');
      expect(await usedOffsets(s.id, s.cidr, '10.2.0.20')).toEqual([]);
      expect(await getItem(keys.pending(s.id, 'tok-crashed'))).toBeUndefined();
      expect((await getSubnet(ctx, s.id)).usage.allocated).toBe(0);
      expect(problems(await repair())).toEqual([]);
    });
  });

  describe('USAGE_DRIFT', () => {
    it('recounts a drifted, a missing and an outdated counter, each conditionally', async () => {
      // A /22: four shards of one block each.
      const s = await subnet('10.3.0.0/22');
      for (const ip of ['10.3.0.5', '10.3.0.6', '10.3.1.5', '10.3.2.5', '10.3.3.5']) {
        await allocator.allocate(s.id, { ip });
      }
      await bumpCounter(s.id, 0, 3); // shard 0 says 5 instead of 2
      await ctx.doc.send(
        new DeleteCommand({ TableName: ctx.tableName, Key: keys.counter(s.id, 1) }),
      );
      await ctx.doc.send(
        new UpdateCommand({
          TableName: ctx.tableName,
          Key: keys.counter(s.id, 2),
          UpdateExpression: 'SET pv = :old, n = :n',
          ExpressionAttributeValues: { ':old': 0, ':n': 7 },
        }),
      );
      // Without its counter, no allocation in shard 1 can commit.
      await expect(allocator.allocate(s.id, { ip: '10.3.1.9' })).rejects.toThrow();

      const seen = await audit();
      const drift = ofType(seen, FindingType.USAGE_DRIFT);
      expect(drift.map((finding) => finding.detail.slice(0, 8)).sort()).toEqual([
        'Shard 0:',
        'Shard 1:',
        'Shard 2:',
      ]);
      expect(drift.find((finding) => finding.detail.startsWith('Shard 0'))?.detail).toContain(
        'the counter says 5 allocated (5 in the pools, 0 leases), the blocks hold 2 allocated',
      );
      expect(drift.every((finding) => !finding.repaired && finding.notRepaired === undefined)).toBe(
        true,
      );
      expect(await counter(s.id, 1)).toBeUndefined();

      const fixed = await repair({ gracePeriodMs: 0 });
      expect(ofType(fixed, FindingType.USAGE_DRIFT).map((finding) => finding.repaired)).toEqual([
        true,
        true,
        true,
      ]);
      expect(fixed.utilization[0]).toMatchObject({ allocated: 5, total: 1021 });
      for (const [shard, n] of [
        [0, 2],
        [1, 1],
        [2, 1],
        [3, 1],
      ] as const) {
        expect(await counter(s.id, shard)).toMatchObject({ n, p: n, l: 0, pv: 1 });
      }
      expect((await getSubnet(ctx, s.id)).usage.allocated).toBe(5);
      await allocator.allocate(s.id, { ip: '10.3.1.9' });
      expect(problems(await repair())).toEqual([]);
    });
  });

  describe('COUNTER_AWAITING_RECOUNT', () => {
    /** A context whose single-item updates fail: a PATCH commits, its recount does not. */
    function recountsFail(): IpamContext {
      const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'UpdateItemCommand') {
            throw Object.assign(new Error('injected'), { name: 'InternalServerError' });
          }
          return next(args);
        },
        { step: 'initialize', name: 'failUpdates' },
      );
      return { ...ctx, doc: createDocumentClient(client) };
    }

    it('tells a counter fenced by a pools PATCH whose recount failed from drift', async () => {
      const s = await subnet('10.4.0.0/24');
      for (const ip of ['10.4.0.5', '10.4.0.20']) await allocator.allocate(s.id, { ip });
      const pools = [{ start: '10.4.0.10', end: '10.4.0.200' }];
      await expect(updateSubnet(recountsFail(), s.id, { allocationPools: pools })).rejects.toThrow(
        'injected',
      );
      // The PATCH committed (configuration 2) and left the shard fenced for its recount.
      expect(await counter(s.id)).toMatchObject({ n: 2, p: 2, pv: 1.5 });

      const seen = await audit();
      expect(ofType(seen, FindingType.USAGE_DRIFT)).toEqual([]);
      expect(ofType(seen, FindingType.COUNTER_AWAITING_RECOUNT)).toEqual([
        expect.objectContaining({ subnetId: s.id, repaired: false }),
      ]);
      expect(ofType(seen, FindingType.COUNTER_AWAITING_RECOUNT)[0]?.detail).toContain(
        'Shard 0: fenced for the recount of configuration 2',
      );
      expect(ofType(seen, FindingType.COUNTER_AWAITING_RECOUNT)[0]?.detail).toContain(
        'which hold 2 allocated (1 in the pools, 0 leases)',
      );
      expect(await counter(s.id)).toMatchObject({ pv: 1.5 }); // a report changes nothing

      // A repair audit recounts it at once …
      const fixed = await repair({ gracePeriodMs: 0 });
      expect(ofType(fixed, FindingType.COUNTER_AWAITING_RECOUNT)).toEqual([
        expect.objectContaining({ subnetId: s.id, repaired: true }),
      ]);
      expect(await counter(s.id)).toMatchObject({ n: 2, p: 1, l: 0, pv: 2 });
      expect(problems(await audit())).toEqual([]);

      // … and without one, the next read of the counters does.
      await expect(
        updateSubnet(recountsFail(), s.id, {
          allocationPools: [{ start: '10.4.0.2', end: '10.4.0.254' }],
        }),
      ).rejects.toThrow('injected');
      expect(await counter(s.id)).toMatchObject({ pv: 2.5 });
      expect((await getSubnet(ctx, s.id)).usage.allocated).toBe(2);
      expect(await counter(s.id)).toMatchObject({ n: 2, p: 2, pv: 3 });
      expect(problems(await audit())).toEqual([]);
    });
  });

  describe('EXPIRED_LEASE', () => {
    it('reports leases inside the grace period without touching them, then clears them', async () => {
      const s = await subnet('10.4.0.0/24');
      await allocator.allocate(s.id, { ip: '10.4.0.10', ttlSeconds: 60, owner: 'dhcp-a' });
      await allocator.allocate(s.id, { ip: '10.4.0.11', ttlSeconds: 60, owner: 'dhcp-b' });
      await allocator.allocate(s.id, { ip: '10.4.0.12', ttlSeconds: 60, owner: 'dhcp-c' });
      await allocator.allocate(s.id, { ip: '10.4.0.13', owner: 'static' });
      db.advance(61_000);
      // 10.4.0.12: its block entry already cleared; only the expired item is left.
      const pos = where(s.cidr, '10.4.0.12');
      await ctx.doc.send(
        new UpdateCommand({
          TableName: ctx.tableName,
          Key: keys.block(s.id, pos.shard, pos.block),
          UpdateExpression: `DELETE u :o REMOVE ${leaseAttribute(pos.offset)}, ${tokenAttribute(pos.offset)}`,
          ExpressionAttributeValues: { ':o': new Set([pos.offset]) },
        }),
      );
      await bumpCounter(s.id, 0, -1, -1, -1);
      const before = await allItems();

      const young = await repair();
      const expired = ofType(young, FindingType.EXPIRED_LEASE);
      expect(expired.map((finding) => finding.ip).sort()).toEqual([
        '10.4.0.10',
        '10.4.0.11',
        '10.4.0.12',
      ]);
      for (const finding of expired) {
        expect(finding).toMatchObject({ repaired: false, notRepaired: NotRepaired.GRACE_PERIOD });
      }
      expect(problems(young)).toHaveLength(3);
      // Nothing of the allocator's was touched (only the audit's own items were written).
      const after = (await allItems()).filter((item) => !String(item.pk).startsWith('AUDIT#'));
      expect(after).toEqual(expect.arrayContaining(before));
      expect(after).toHaveLength(before.length);

      db.advance(PAST_GRACE);
      const old = await repair();
      expect(ofType(old, FindingType.EXPIRED_LEASE).every((finding) => finding.repaired)).toBe(
        true,
      );
      expect(ofType(old, FindingType.EXPIRED_LEASE)).toHaveLength(3);
      expect(await usedOffsets(s.id, s.cidr, '10.4.0.10')).toEqual([13]);
      expect(await counter(s.id)).toMatchObject({ n: 1, p: 1, l: 0 });
      for (const ip of ['10.4.0.10', '10.4.0.11', '10.4.0.12']) {
        expect(await getItem(keys.allocation(s.id, 0, parseIp(ip)))).toBeUndefined();
      }
      expect(problems(await repair())).toEqual([]);
    });
  });

  describe('conditional repairs', () => {
    it('leaves an expired lease alone when a caller reclaims it between read and repair', async () => {
      const s = await subnet('10.11.0.0/24');
      await allocator.allocate(s.id, { ip: '10.11.0.10', ttlSeconds: 60, owner: 'old' });
      db.advance(61_000 + PAST_GRACE);
      // The audit's first repair transaction is preceded by a reclaim of that address.
      const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
      let raced = false;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'TransactWriteItemsCommand' && !raced) {
            raced = true;
            await allocator.allocate(s.id, { ip: '10.11.0.10', owner: 'new' });
          }
          return next(args);
        },
        { step: 'initialize', name: 'reclaimFirst' },
      );
      const report = await repair({}, { ...ctx, doc: createDocumentClient(client) });
      expect(raced).toBe(true);
      expect(problems(report)).toEqual([
        expect.objectContaining({
          type: FindingType.EXPIRED_LEASE,
          ip: '10.11.0.10',
          repaired: false,
          notRepaired: NotRepaired.CHANGED,
        }),
      ]);
      expect(await getItem(keys.allocation(s.id, 0, parseIp('10.11.0.10')))).toMatchObject({
        owner: 'new',
      });
      expect(await usedOffsets(s.id, s.cidr, '10.11.0.10')).toEqual([10]);
      expect(await counter(s.id)).toMatchObject({ n: 1, p: 1, l: 0 });
      expect(problems(await repair())).toEqual([]);
    });

    it('does not write a recount when an allocation lands after the blocks were read', async () => {
      const s = await subnet('10.12.0.0/24');
      await allocator.allocate(s.id, { ip: '10.12.0.10' });
      await bumpCounter(s.id, 0, 4);
      const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
      let raced = false;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'UpdateItemCommand' && !raced) {
            raced = true;
            await allocator.allocate(s.id, { ip: '10.12.0.11' });
          }
          return next(args);
        },
        { step: 'initialize', name: 'allocateFirst' },
      );
      const report = await repair(
        { gracePeriodMs: 0 },
        { ...ctx, doc: createDocumentClient(client) },
      );
      expect(raced).toBe(true);
      expect(problems(report)).toEqual([
        expect.objectContaining({
          type: FindingType.USAGE_DRIFT,
          notRepaired: NotRepaired.CHANGED,
        }),
      ]);
      // The allocation counted on top of the drift; the next audit recounts both.
      expect(await counter(s.id)).toMatchObject({ n: 6 });
      const next = await repair({ gracePeriodMs: 0 });
      expect(problems(next)).toEqual([
        expect.objectContaining({ type: FindingType.USAGE_DRIFT, repaired: true }),
      ]);
      expect(await counter(s.id)).toMatchObject({ n: 2, p: 2 });
    });
  });

  describe('BLOCK_WITHOUT_ALLOCATION', () => {
    it('frees an offset nobody holds only after an earlier audit saw the same state', async () => {
      const s = await subnet('10.5.0.0/24');
      await allocator.allocate(s.id, { ip: '10.5.0.7', owner: 'lost' });
      await allocator.allocate(s.id, { ip: '10.5.0.8', owner: 'kept' });
      // The allocation item of 10.5.0.7 disappears; its block offset stays taken.
      await ctx.doc.send(
        new DeleteCommand({
          TableName: ctx.tableName,
          Key: keys.allocation(s.id, 0, parseIp('10.5.0.7')),
        }),
      );
      await expect(allocator.allocate(s.id, { ip: '10.5.0.7' })).rejects.toBeInstanceOf(
        IpAlreadyAllocatedError,
      );

      const first = await repair({ gracePeriodMs: 0 });
      expect(problems(first)).toEqual([
        expect.objectContaining({
          type: FindingType.BLOCK_WITHOUT_ALLOCATION,
          ip: '10.5.0.7',
          repaired: false,
          notRepaired: NotRepaired.GRACE_PERIOD,
        }),
      ]);

      // Seen again by a later audit, but not yet for the grace period: still left alone.
      db.advance(5 * MINUTE);
      const early = await repair();
      expect(problems(early)).toEqual([
        expect.objectContaining({ repaired: false, notRepaired: NotRepaired.GRACE_PERIOD }),
      ]);

      db.advance(PAST_GRACE);
      const fixed = await repair();
      expect(problems(fixed)).toEqual([
        expect.objectContaining({ type: FindingType.BLOCK_WITHOUT_ALLOCATION, repaired: true }),
      ]);
      expect(await usedOffsets(s.id, s.cidr, '10.5.0.7')).toEqual([8]);
      expect(await counter(s.id)).toMatchObject({ n: 1, p: 1 });
      expect(problems(await repair())).toEqual([]);
      expect((await allocator.allocate(s.id, { ip: '10.5.0.7' }))[0]?.ip).toBe('10.5.0.7');
    });
  });

  describe('ALLOCATION_WITHOUT_BLOCK', () => {
    it('takes the offset back for a live allocation its block lost', async () => {
      const s = await subnet('10.6.0.0/24');
      const [held] = await allocator.allocate(s.id, { ip: '10.6.0.30', owner: 'vm-1' });
      const [lease] = await allocator.allocate(s.id, {
        ip: '10.6.0.31',
        owner: 'vm-2',
        ttlSeconds: 3600,
      });
      for (const ip of [held!.ip, lease!.ip]) {
        const pos = where(s.cidr, ip);
        await ctx.doc.send(
          new UpdateCommand({
            TableName: ctx.tableName,
            Key: keys.block(s.id, pos.shard, pos.block),
            UpdateExpression: `DELETE u :o REMOVE ${leaseAttribute(pos.offset)}, ${tokenAttribute(pos.offset)}`,
            ExpressionAttributeValues: { ':o': new Set([pos.offset]) },
          }),
        );
      }
      await bumpCounter(s.id, 0, -2, -2, -1);

      const young = await repair();
      expect(ofType(young, FindingType.ALLOCATION_WITHOUT_BLOCK)).toEqual([
        expect.objectContaining({ ip: '10.6.0.30', notRepaired: NotRepaired.GRACE_PERIOD }),
        expect.objectContaining({ ip: '10.6.0.31', notRepaired: NotRepaired.GRACE_PERIOD }),
      ]);
      expect(problems(young)).toHaveLength(2);

      db.advance(PAST_GRACE);
      const fixed = await repair();
      expect(problems(fixed).map((finding) => [finding.ip, finding.repaired])).toEqual([
        ['10.6.0.30', true],
        ['10.6.0.31', true],
      ]);
      expect(await usedOffsets(s.id, s.cidr, '10.6.0.30')).toEqual([30, 31]);
      expect(await counter(s.id)).toMatchObject({ n: 2, p: 2, l: 1 });
      expect(problems(await repair())).toEqual([]);
      // And the holders can release them normally.
      await allocator.release(s.id, '10.6.0.30', 'vm-1');
      await allocator.release(s.id, '10.6.0.31', 'vm-2');
      expect(await counter(s.id)).toMatchObject({ n: 0, p: 0, l: 0 });
      expect(problems(await repair())).toEqual([]);
    });
  });

  describe('informational findings', () => {
    it('reports overlaps, allocations outside the pools and high utilisation, changing nothing', async () => {
      const s = await subnet('10.7.0.0/28', {
        allocationPools: [{ start: '10.7.0.2', end: '10.7.0.5' }],
      });
      await allocator.allocate(s.id, { count: 4, owner: 'full' });
      await allocator.allocate(s.id, { ip: '10.7.0.12', owner: 'outside' });
      await allocator.allocate(s.id, { ip: '10.7.0.13', owner: 'outside' });
      // A second subnet overlapping the first in the same space, written behind the
      // overlap check's back (as a bug might).
      const rogue = planSubnet({ cidr: '10.7.0.8/29', space: s.space }, s.createdAt);
      await ctx.doc.send(new PutCommand({ TableName: ctx.tableName, Item: toSubnetItem(rogue) }));
      await ctx.doc.send(
        new PutCommand({ TableName: ctx.tableName, Item: newCounterItem(rogue.id, 0, 1) }),
      );
      // A block offset whose token differs from its allocation item's.
      const pos = where(s.cidr, '10.7.0.12');
      await ctx.doc.send(
        new UpdateCommand({
          TableName: ctx.tableName,
          Key: keys.block(s.id, pos.shard, pos.block),
          UpdateExpression: `SET ${tokenAttribute(pos.offset)} = :other`,
          ExpressionAttributeValues: { ':other': 'someone-else' },
        }),
      );
      const before = await allItems();

      const report = await repair({ gracePeriodMs: 0 });
      expect(problems(report)).toEqual([]);
      expect(ofType(report, FindingType.SUBNET_OVERLAP)).toEqual([
        expect.objectContaining({ subnetId: rogue.id, notRepaired: NotRepaired.REPORT_ONLY }),
      ]);
      expect(ofType(report, FindingType.SUBNET_OVERLAP)[0]?.detail).toContain(s.id);
      expect(ofType(report, FindingType.ALLOCATION_OUTSIDE_POOL)).toEqual([
        expect.objectContaining({
          subnetId: s.id,
          ip: '10.7.0.12',
          notRepaired: NotRepaired.INFORMATIONAL,
        }),
      ]);
      expect(ofType(report, FindingType.ALLOCATION_OUTSIDE_POOL)[0]?.detail).toMatch(
        /^2 live allocation\(s\).*10\.7\.0\.12, 10\.7\.0\.13/,
      );
      expect(ofType(report, FindingType.HIGH_UTILIZATION)).toEqual([
        expect.objectContaining({ subnetId: s.id }),
      ]);
      expect(ofType(report, FindingType.ALLOCATION_TOKEN_MISMATCH)).toEqual([
        expect.objectContaining({ ip: '10.7.0.12' }),
      ]);
      expect(report.utilization).toEqual([
        { subnetId: s.id, cidr: '10.7.0.0/28', total: 4, allocated: 4, percent: 100 },
        { subnetId: rogue.id, cidr: '10.7.0.8/29', total: 5, allocated: 0, percent: 0 },
      ]);
      const after = (await allItems()).filter((item) => !String(item.pk).startsWith('AUDIT#'));
      expect(after).toEqual(expect.arrayContaining(before));
      expect(after).toHaveLength(before.length);
    });

    it('keeps counts of every finding when the stored list is capped', async () => {
      const s = await subnet('10.8.0.0/24');
      for (let i = 20; i < 26; i++) {
        await allocator.allocate(s.id, { ip: `10.8.0.${i}` });
        await ctx.doc.send(
          new DeleteCommand({
            TableName: ctx.tableName,
            Key: keys.allocation(s.id, 0, parseIp(`10.8.0.${i}`)),
          }),
        );
      }
      const report = await audit({ maxStoredFindings: 2 });
      expect(report.findings).toHaveLength(2);
      expect(report.findingsTruncated).toBe(true);
      expect(report.findingCounts.BLOCK_WITHOUT_ALLOCATION).toEqual({ found: 6, repaired: 0 });
      expect((await getAudit(ctx, report.id)).findingCounts).toEqual(report.findingCounts);
    });
  });

  describe('checkpoints', () => {
    it.each([1, 3])(
      'stops after the first page and resumes to the full result (%i segment(s))',
      async (segments) => {
        const subnets = [];
        for (let i = 0; i < 5; i++) {
          const s = await subnet(`10.9.${i}.0/24`);
          await allocator.allocate(s.id, { count: 2 });
          await bumpCounter(s.id, 0, 1);
          subnets.push(s);
        }
        const { ctx: counted, counter } = countingContext('ScanCommand');
        const options = { pageSize: 3, segments, deadline: () => counter.calls >= 1 };

        let report = await repair(options, counted);
        expect(report.status).toBe('running');
        expect(report.finishedAt).toBeNull();
        expect((await getAudit(ctx, report.id)).status).toBe('running');
        await expect(getLatestAudit(ctx)).rejects.toBeInstanceOf(AuditNotFoundError);
        let runs = 1;
        while (report.status === 'running' && runs < 200) {
          counter.calls = 0;
          report = await runAudit(counted, { ...options, repair: true, resumeFrom: report.id });
          runs++;
        }
        expect(runs).toBeGreaterThan(2);
        expect(report).toMatchObject({ status: 'complete', invocations: runs });
        expect(report.scanned).toMatchObject({ subnets: 5, allocations: 10 });
        const drift = ofType(report, FindingType.USAGE_DRIFT);
        expect(drift.map((finding) => finding.subnetId).sort()).toEqual(
          subnets.map((s) => s.id).sort(),
        );
        expect(drift.every((finding) => finding.repaired)).toBe(true);
        expect(report.utilization).toHaveLength(5);
        expect((await getLatestAudit(ctx)).id).toBe(report.id);
        // Resuming a complete audit returns it unchanged.
        expect(await runAudit(ctx, { repair: true, resumeFrom: report.id })).toEqual(report);

        // An uninterrupted audit visits the same items, and finds nothing left.
        const straight = await audit({ segments });
        expect(problems(straight)).toEqual([]);
        expect(straight.scanned).toEqual(report.scanned);
      },
    );

    it('stops between the shards of a subnet and resumes at the next shard', async () => {
      const s = await subnet('10.10.0.0/22');
      for (const ip of ['10.10.0.5', '10.10.1.5', '10.10.2.5', '10.10.3.5']) {
        await allocator.allocate(s.id, { ip });
      }
      await bumpCounter(s.id, 3, 2);
      const { ctx: counted, counter } = countingContext('ScanCommand');
      // Pages of 2 items: the scan stops after the first shard partition it finished.
      const partial = await repair(
        { pageSize: 2, segments: 1, deadline: () => counter.calls >= 1 },
        counted,
      );
      expect(partial.status).toBe('running');
      expect(partial.scanned.subnets).toBe(0);
      const done = await repair({ resumeFrom: partial.id }, counted);
      expect(done.status).toBe('complete');
      expect(done.scanned).toMatchObject({ subnets: 1, allocations: 4 });
      expect(ofType(done, FindingType.USAGE_DRIFT)).toEqual([
        expect.objectContaining({ repaired: true, detail: expect.stringMatching(/^Shard 3:/) }),
      ]);
      expect(done.utilization).toEqual([
        { subnetId: s.id, cidr: '10.10.0.0/22', total: 1021, allocated: 4, percent: 0.39 },
      ]);
    });
  });

  describe('metrics', () => {
    it('turns a complete report into utilisation and finding metrics', () => {
      const report: AuditReport = {
        id: 'aud_x',
        startedAt: '2024-01-01T00:00:00.000Z',
        finishedAt: '2024-01-01T00:00:01.000Z',
        repair: true,
        status: 'complete',
        scanned: { subnets: 1, allocations: 7, items: 20 },
        findings: [],
        findingCounts: { USAGE_DRIFT: { found: 2, repaired: 1 } },
        findingsTruncated: false,
        utilization: [
          { subnetId: 'sub_a', cidr: '10.0.0.0/24', total: 253, allocated: 7, percent: 2.76 },
        ],
        utilizationTruncated: false,
        unstableShards: 0,
        gracePeriodMs: 900_000,
        highUtilizationPercent: 90,
        consumedReadCapacity: 3,
        consumedWriteCapacity: 1,
        invocations: 1,
      };
      const metrics = utilizationMetrics(report);
      expect(metrics).toEqual(
        expect.arrayContaining([
          {
            name: 'SubnetUtilization',
            unit: 'Percent',
            value: 2.76,
            dimensions: { SubnetId: 'sub_a', Cidr: '10.0.0.0/24' },
          },
          {
            name: 'SubnetAllocatedAddresses',
            unit: 'Count',
            value: 7,
            dimensions: { SubnetId: 'sub_a', Cidr: '10.0.0.0/24' },
          },
          {
            name: 'AuditFindings',
            unit: 'Count',
            value: 2,
            dimensions: { FindingType: 'USAGE_DRIFT' },
          },
          {
            name: 'AuditRepairs',
            unit: 'Count',
            value: 1,
            dimensions: { FindingType: 'USAGE_DRIFT' },
          },
          {
            name: 'AuditFindings',
            unit: 'Count',
            value: 0,
            dimensions: { FindingType: 'EXPIRED_LEASE' },
          },
        ]),
      );
      expect(utilizationMetrics({ ...report, status: 'running' })).toEqual([]);
    });
  });

  describe('beside live traffic', () => {
    // Two audits run one after the other (one at a time), each beside the traffic.
    it('never loses or doubles an acknowledged address while repair audits run', {
      timeout: 180_000,
    }, async () => {
      const s = await subnet('10.20.0.0/24');
      const bulk = await subnet('10.21.0.0/22');
      interface Holding {
        owner: string;
        expiresAtMs: number | null;
        releasing: boolean;
      }
      const held = new Map<string, Holding>();
      const violations: string[] = [];
      const liveAt = (holding: Holding, nowMs: number) =>
        holding.expiresAtMs === null || holding.expiresAtMs > nowMs;
      const acknowledge = (ip: string, owner: string, expiresAt: string | null) => {
        const previous = held.get(ip);
        if (previous !== undefined && !previous.releasing && liveAt(previous, ctx.now())) {
          violations.push(`${ip} was given to ${owner} while ${previous.owner} held it`);
        }
        held.set(ip, {
          owner,
          expiresAtMs: expiresAt === null ? null : Date.parse(expiresAt),
          releasing: false,
        });
      };
      const release = async (own: TextAllocator, subnetId: string, ip: string) => {
        const holding = held.get(ip);
        if (holding === undefined) return;
        holding.releasing = true;
        try {
          await own.release(subnetId, ip, holding.owner);
          if (held.get(ip) === holding) held.delete(ip);
        } catch (error) {
          holding.releasing = false;
          if (error instanceof AllocationContentionError) return;
          if (!(error instanceof AllocationNotFoundError || error instanceof OwnerMismatchError)) {
            throw error;
          }
          if (liveAt(holding, ctx.now())) {
            violations.push(`${ip} of ${holding.owner} vanished: ${(error as Error).message}`);
          }
          if (held.get(ip) === holding) held.delete(ip);
        }
      };
      const expected = (error: unknown) =>
        error instanceof IpAlreadyAllocatedError ||
        error instanceof SubnetExhaustedError ||
        error instanceof AllocationContentionError;

      let stop = false;
      const worker = async (w: number) => {
        const own = new TextAllocator(ctx, { cacheMs: 50 });
        const mine: string[] = [];
        for (let i = 0; !stop; i++) {
          const owner = `w${w}-${i}`;
          const roll = Math.random();
          try {
            if (roll < 0.45 || mine.length === 0) {
              const leased = Math.random() < 0.5;
              const got = await own.allocate(s.id, {
                count: 1 + randomInt(3),
                owner,
                ...(leased ? { ttlSeconds: 60 } : {}),
              });
              for (const a of got) {
                acknowledge(a.ip, owner, a.expiresAt);
                mine.push(a.ip);
              }
            } else if (roll < 0.6) {
              const [a] = await own.allocate(s.id, { ip: `10.20.0.${2 + randomInt(40)}`, owner });
              acknowledge(a!.ip, owner, a!.expiresAt);
              mine.push(a!.ip);
            } else {
              const [ip] = mine.splice(randomInt(mine.length), 1);
              if (held.get(ip!)?.owner.startsWith(`w${w}-`)) await release(own, s.id, ip!);
            }
          } catch (error) {
            if (!expected(error)) throw error;
          }
        }
      };
      // Multi-step requests (100 addresses: a pending record, then several transactions).
      const bulkWorker = async () => {
        const own = new TextAllocator(ctx);
        for (let i = 0; !stop; i++) {
          try {
            const got = await own.allocate(bulk.id, { count: 100, owner: `bulk-${i}` });
            for (const a of got) acknowledge(a.ip, `bulk-${i}`, a.expiresAt);
            for (let j = 0; j < got.length; j += 20) {
              await Promise.all(got.slice(j, j + 20).map((a) => release(own, bulk.id, a.ip)));
            }
          } catch (error) {
            if (!expected(error)) throw error;
          }
        }
      };
      const audits: AuditReport[] = [];
      // Two auditors: one audit at a time, so the second waits while the first runs.
      const auditor = async () => {
        while (!stop) {
          try {
            audits.push(await repair({ gracePeriodMs: 0, pageSize: 25 }));
          } catch (error) {
            if (!(error instanceof AuditRunningError)) throw error;
            await sleep(200);
          }
        }
      };
      // Time moves on: 60-second leases expire while everything runs (10 minutes in all).
      const clock = async () => {
        for (let tick = 0; tick < 30 && !stop; tick++) {
          await sleep(200);
          db.advance(20_000);
        }
      };
      const running = Promise.all([
        worker(1),
        worker(2),
        worker(3),
        worker(4),
        bulkWorker(),
        auditor(),
        auditor(),
        clock(),
      ]);
      await sleep(7_000);
      // Audits run one at a time: traffic goes on until two have finished beside it.
      while (audits.length < 2) await sleep(100);
      stop = true;
      await running;

      expect(violations).toEqual([]);
      expect(audits.length).toBeGreaterThanOrEqual(2);
      for (const report of audits) {
        // Nothing the allocator does in its normal course looks like these.
        for (const type of [
          FindingType.BLOCK_WITHOUT_ALLOCATION,
          FindingType.ALLOCATION_WITHOUT_BLOCK,
          FindingType.ORPHAN_ALLOCATION,
          FindingType.USAGE_DRIFT,
        ]) {
          expect(ofType(report, type)).toEqual([]);
        }
      }

      // Settle: clear the expired leases, then a read-only audit must be clean. Every
      // lease has expired first: audits run one at a time, and on a loaded machine the
      // settling audits outlast a 60-second lease handed out just before the stop.
      db.advance(61_000);
      await repair({ gracePeriodMs: 0 });
      await repair({ gracePeriodMs: 0 });
      expect(problems(await audit({ gracePeriodMs: 0 }))).toEqual([]);

      // Compare the acknowledgements with a straight read of the table.
      const nowMs = ctx.now();
      const stored = new Map<string, string>();
      const taken = new Set<string>();
      for (const item of await allItems()) {
        if (
          item.type === 'allocation' &&
          (item.ttl === undefined || Number(item.ttl) * 1000 > nowMs)
        ) {
          stored.set(String(item.ip), String(item.owner));
        }
        if (String(item.sk).startsWith('BLOCK#') && item.u instanceof Set) {
          const prefix = String(item.pk).includes(s.id) ? '10.20' : '10.21';
          const block = Number.parseInt(String(item.sk).slice('BLOCK#'.length), 16);
          for (const offset of item.u as Set<number>) {
            taken.add(`${prefix}.${block}.${offset}`);
          }
        }
      }
      const acknowledged = new Map<string, string>();
      for (const [ip, holding] of held) {
        if (!holding.releasing && liveAt(holding, nowMs)) acknowledged.set(ip, holding.owner);
      }
      expect(stored).toEqual(acknowledged);
      expect([...taken].sort()).toEqual([...stored.keys()].sort());
      const usage = (await getSubnet(ctx, s.id)).usage;
      expect(Number(usage.allocated) + Number(usage.outsidePools)).toBe(
        [...stored.keys()].filter((ip) => ip.startsWith('10.20.')).length,
      );
    });
  });

  describe('a multi-step request that fails between its transactions', () => {
    /** Items of a transaction, whatever the client's marshalling. */
    const transactItems = (args: unknown) =>
      ((args as { input: { TransactItems?: unknown[] } }).input.TransactItems ?? []) as {
        Update?: { UpdateExpression?: string };
        Put?: { Item?: { type?: unknown } };
      }[];
    const injected = (name: string) =>
      Object.assign(new Error(`injected ${name}`), { name, $fault: 'server' });

    it('keeps the counters exact when a later reservation transaction fails', async () => {
      // 100 addresses, one per block across 25 shards: the reservation needs two
      // transactions. Every attempt of the second fails; the first must be undone
      // with exactly the counter changes it made.
      const pools = Array.from({ length: 120 }, (_, block) => ({
        start: `10.30.${block}.10`,
        end: `10.30.${block}.10`,
      }));
      const s = await subnet('10.30.0.0/16', { allocationPools: pools });
      const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
      let reservations = 0;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const reserves = transactItems(args).some((item) =>
            item.Update?.UpdateExpression?.includes('ADD u'),
          );
          if (
            context.commandName === 'TransactWriteItemsCommand' &&
            reserves &&
            ++reservations > 1
          ) {
            throw injected('InternalServerError');
          }
          return next(args);
        },
        { step: 'initialize', name: 'failSecondReservation' },
      );
      const faulty = new TextAllocator({ ...ctx, doc: createDocumentClient(client) });
      await expect(
        faulty.allocate(s.id, { count: 100, strategy: 'sequential' }),
      ).rejects.toMatchObject({
        name: 'InternalServerError',
      });
      expect(reservations).toBeGreaterThan(1);
      expect(await allItems()).not.toContainEqual(expect.objectContaining({ type: 'pending' }));
      expect((await getSubnet(ctx, s.id)).usage.allocated).toBe(0);
      expect(problems(await repair({ gracePeriodMs: 0 }))).toEqual([]);
    });

    it('frees what a failed request reserved even when its undo is cancelled once', async () => {
      // The allocation items fail; while the undo runs the pools change, so the first
      // undo transaction (its counter checks pv) is cancelled and must be retried.
      const s = await subnet('10.31.0.0/16');
      const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
      let changed = false;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'TransactWriteItemsCommand') {
            const items = transactItems(args);
            const writesAllocations = items.some((item) => {
              const type = item.Put?.Item?.type;
              return (
                type === 'allocation' || (type as { S?: string } | undefined)?.S === 'allocation'
              );
            });
            if (writesAllocations)
              throw Object.assign(injected('ValidationException'), { $fault: 'client' });
            const undoing = items.some((item) =>
              String(item.Update?.UpdateExpression).startsWith('DELETE u'),
            );
            if (undoing && !changed) {
              changed = true;
              await updateSubnet(ctx, s.id, {
                allocationPools: [{ start: '10.31.0.2', end: '10.31.255.254' }],
              });
            }
          }
          return next(args);
        },
        { step: 'initialize', name: 'failItemsThenChangePools' },
      );
      const faulty = new TextAllocator({ ...ctx, doc: createDocumentClient(client) });
      await expect(faulty.allocate(s.id, { count: 100 })).rejects.toMatchObject({
        name: 'ValidationException',
      });
      expect(changed).toBe(true);
      const stored = await allItems();
      expect(stored).not.toContainEqual(expect.objectContaining({ type: 'pending' }));
      expect(stored).not.toContainEqual(expect.objectContaining({ type: 'allocation' }));
      expect((await getSubnet(ctx, s.id)).usage.allocated).toBe(0);
      expect(problems(await repair({ gracePeriodMs: 0 }))).toEqual([]);
    });
  });
});
