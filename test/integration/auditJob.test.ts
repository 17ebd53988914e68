import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type AuditReport,
  finishAudit,
  getAudit,
  LOCK_LEASE_MS,
  runAudit,
  runAuditSegment,
  runJobInProcess,
  startAuditJob,
} from '../../shared/audit/index.js';
import { AuditRunningError } from '../../shared/errors.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import { auditKeys, keys } from '../../shared/store/keys.js';
import { createSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;
let ctx: IpamContext;

beforeEach(async () => {
  db = await createTestDb();
  ctx = db.ctx;
});

/** A few subnets with allocations, leases and one drifted counter. */
async function fill(): Promise<void> {
  const allocator = new TextAllocator(ctx);
  for (let i = 0; i < 3; i++) {
    const s = await createSubnet(ctx, { cidr: `10.40.${i * 2}.0/23`, space: 'jobs' });
    // Sequential: a random pick could take the address the lease below asks for.
    await allocator.allocate(s.id, { count: 5, owner: `web-${i}`, strategy: 'sequential' });
    await allocator.allocate(s.id, { ip: `10.40.${i * 2 + 1}.9`, ttlSeconds: 60 });
    if (i === 2) {
      await ctx.doc.send(
        new UpdateCommand({
          TableName: ctx.tableName,
          Key: keys.counter(s.id, 1),
          UpdateExpression: 'ADD n :n, p :n, ver :one',
          ExpressionAttributeValues: { ':n': 3, ':one': 1 },
        }),
      );
    }
  }
  db.advance(61_000); // the leases expire: EXPIRED_LEASE findings
}

/** What two runs of one audit over the same table must agree on. */
function outcome(report: AuditReport) {
  return {
    status: report.status,
    scanned: report.scanned,
    findingCounts: report.findingCounts,
    findings: [...report.findings].sort((a, b) =>
      `${a.type}${a.subnetId}${a.ip}${a.detail}` < `${b.type}${b.subnetId}${b.ip}${b.detail}`
        ? -1
        : 1,
    ),
    utilization: report.utilization,
    unstableShards: report.unstableShards,
  };
}

/** A context whose client fails every Scan after the first `allowed` (a Lambda killed mid-way). */
function dyingContext(allowed: number): IpamContext {
  const client: DynamoDBClient = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  let scans = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'ScanCommand' && ++scans > allowed) {
        throw new Error('killed: the Lambda ran out of time');
      }
      return next(args);
    },
    { step: 'initialize', name: 'killAfterScans' },
  );
  return { ...ctx, doc: createDocumentClient(client) };
}

describe('audit job', () => {
  it('resumes a segment stopped at its deadline or killed mid-way, and reports as an uninterrupted run', {
    timeout: 180_000,
  }, async () => {
    await fill();
    const job = await startAuditJob(ctx, { repair: false, segments: 2 });
    expect(job).toMatchObject({ status: 'running', segments: 2, progress: { scannedItems: 0 } });
    // Segment 0: killed after six pages, once it has checkpointed.
    await expect(
      runAuditSegment(dyingContext(6), job.id, 0, { pageSize: 2, checkpointEveryMs: 0 }),
    ).rejects.toThrow('killed');
    const midway = await getAudit(ctx, job.id);
    expect(midway.status).toBe('running');
    expect(midway.progress?.scannedItems).toBeGreaterThan(0);
    // Both segments: one page per invocation, until done.
    const invocations = [0, 0];
    for (const segment of [0, 1]) {
      for (let run = 0; run < 500; run++) {
        invocations[segment] = (invocations[segment] ?? 0) + 1;
        const { done } = await runAuditSegment(ctx, job.id, segment, {
          pageSize: 3,
          deadline: () => true,
        });
        if (done) break;
      }
    }
    expect(Math.max(...invocations)).toBeGreaterThan(2);
    const resumed = await finishAudit(ctx, job.id);
    expect(resumed.status).toBe('complete');
    expect(resumed.invocations).toBeGreaterThan(2);
    expect(resumed.findingCounts.USAGE_DRIFT).toEqual({ found: 1, repaired: 0 });
    expect(resumed.findingCounts.EXPIRED_LEASE).toEqual({ found: 3, repaired: 0 });
    // Finishing again changes nothing.
    expect(await finishAudit(ctx, job.id)).toEqual(resumed);

    const straight = await runAudit(ctx, { repair: false, segments: 2 });
    expect(straight.invocations).toBe(1);
    expect(outcome(resumed)).toEqual(outcome(straight));
    expect(resumed.scanned).toMatchObject({ subnets: 3, allocations: 18 });
  });

  it('runs one audit at a time: a second start names the running one', async () => {
    const first = await startAuditJob(ctx, { repair: false });
    const second = startAuditJob(ctx, { repair: true });
    await expect(second).rejects.toBeInstanceOf(AuditRunningError);
    await expect(second).rejects.toMatchObject({
      code: 'AUDIT_RUNNING',
      details: { auditId: first.id },
    });
    const done = await runJobInProcess(ctx, first.id, first.segments ?? 1);
    expect(done.status).toBe('complete');
    // The lock is released with the report: the next audit starts.
    expect((await runAudit(ctx, { repair: false })).status).toBe('complete');
  });

  it('marks a job failed, with the reason, when it lost its lock', async () => {
    await fill();
    const job = await startAuditJob(ctx, { repair: false });
    // Another job took the lock over (as after the lease expired).
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: {
          ...auditKeys.lock,
          type: 'auditLock',
          auditId: 'aud_BBBBBBBBBBBBBBBBBBBBBB',
          leaseUntil: ctx.now() + LOCK_LEASE_MS,
        },
      }),
    );
    const failed = await runJobInProcess(ctx, job.id, job.segments ?? 1);
    expect(failed).toMatchObject({ id: job.id, status: 'failed' });
    expect(failed.reason).toMatch(/lost its lock.*start a new audit/);
    expect(await getAudit(ctx, job.id)).toEqual(failed);
    // A failed job is finished: its segments have nothing left to do.
    expect(await runAuditSegment(ctx, job.id, 0)).toEqual({ done: true });
  });

  it('fails a job whose lease expired when the next audit takes the lock over', async () => {
    const stale = await startAuditJob(ctx, { repair: false });
    db.advance(LOCK_LEASE_MS + 1);
    const next = await startAuditJob(ctx, { repair: false });
    expect(next.id).not.toBe(stale.id);
    const old = await getAudit(ctx, stale.id);
    expect(old.status).toBe('failed');
    expect(old.reason).toContain('stopped without finishing');
    expect((await runJobInProcess(ctx, next.id, next.segments ?? 1)).status).toBe('complete');
  });
});
