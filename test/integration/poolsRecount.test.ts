/**
 * A pools PATCH on a busy subnet: allocations keep landing in the shard it
 * recounts, one between every read and write of the recount. The PATCH must
 * still finish its recount (no shard left to recount on the hot path) and leave
 * exact counters — `p` the allocations inside the new pools — with nothing for
 * the audit to repair.
 */

import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { FindingType, runAudit } from '../../shared/audit/index.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import { keys } from '../../shared/store/keys.js';
import { RETRY } from '../../shared/store/retry.js';
import { createSubnet, getSubnet, loadSubnet, updateSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import { interrupted } from '../support/interleave.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;

beforeAll(async () => {
  db = await createTestDb();
});

/** A context that appends the name of every command it sends to `sent`. */
function recording(sent: string[]): IpamContext {
  const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'record' },
  );
  return { ...db.ctx, doc: createDocumentClient(client) };
}

/** A context with `nextAnswer()`: a promise of its next transaction's answer (either way). */
function watched(): { ctx: IpamContext; nextAnswer: () => Promise<void> } {
  const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  const waiting: (() => void)[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
      try {
        return await next(args);
      } finally {
        for (const resolve of waiting.splice(0)) resolve();
      }
    },
    { step: 'initialize', name: 'watch' },
  );
  return {
    ctx: { ...db.ctx, doc: createDocumentClient(client) },
    nextAnswer: () => new Promise<void>((resolve) => waiting.push(resolve)),
  };
}

describe('a pools PATCH recounting a shard that allocations keep changing', () => {
  it('finishes its recount and leaves exact counters the audit agrees with', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.70.0.0/24', space: 'recount' });
    // Allocators that read the subnet (old pools) before the PATCH, one per interruption.
    const racers = Array.from({ length: RETRY.attempts }, () => watched());
    const allocators = racers.map(({ ctx }) => new TextAllocator(ctx));
    const warm = new TextAllocator(db.ctx);
    for (const [i, allocator] of allocators.entries()) {
      await allocator.allocate(subnet.id, { ip: `10.70.0.${10 + i}` });
    }
    await warm.allocate(subnet.id, { ip: '10.70.0.60' });
    const racing: Promise<unknown>[] = [];
    let turn = 0;
    const patching = interrupted(
      db,
      async () => {
        const i = turn++;
        const allocator = allocators[i];
        const racer = racers[i];
        if (allocator === undefined || racer === undefined) return;
        // Started between the recount's read and its write; waited for until its
        // first transaction is answered (committed, or refused by the fence).
        const answered = racer.nextAnswer();
        racing.push(allocator.allocate(subnet.id, { ip: `10.70.0.${100 + i}` }));
        await answered;
      },
      'UpdateItemCommand',
      RETRY.attempts,
    );
    const patched = await updateSubnet(patching, subnet.id, {
      allocationPools: [{ start: '10.70.0.50', end: '10.70.0.150' }],
    });
    expect(patched.allocationPools).toEqual([{ start: '10.70.0.50', end: '10.70.0.150' }]);
    await Promise.all(racing);
    const racedIn = racing.length;
    expect(racedIn).toBeGreaterThan(0);

    // The shard is counted under the new pools: nothing left to recount inline.
    const current = await loadSubnet(db.ctx, subnet.id);
    const counter = await db.ctx.doc.send(
      new GetCommand({
        TableName: db.ctx.tableName,
        Key: keys.counter(subnet.id, 0),
        ConsistentRead: true,
      }),
    );
    expect(counter.Item?.pv).toBe(current.configVersion);
    // .10–.17 outside the new pools; .60 and the raced .100+ inside.
    expect(counter.Item).toMatchObject({ n: RETRY.attempts + 1 + racedIn, p: 1 + racedIn, l: 0 });
    expect((await getSubnet(db.ctx, subnet.id)).usage).toMatchObject({
      allocated: 1 + racedIn,
      outsidePools: RETRY.attempts,
    });
    const report = await runAudit(db.ctx, { repair: false });
    expect(
      report.findings.filter(
        (finding) => finding.subnetId === subnet.id && finding.type === FindingType.USAGE_DRIFT,
      ),
    ).toEqual([]);
  });

  it('recounts only the shards whose pools changed; a gateway move recounts none', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.71.0.0/16', space: 'recount' });
    const allocator = new TextAllocator(db.ctx);
    // Shard 0 holds 10.71.0.0–10.71.3.255, shard 10 holds 10.71.40.0–10.71.43.255.
    for (const ip of ['10.71.0.50', '10.71.0.150', '10.71.40.7']) {
      await allocator.allocate(subnet.id, { ip });
    }
    const sent: string[] = [];
    const counting = recording(sent);
    const patched = await updateSubnet(counting, subnet.id, {
      allocationPools: [{ start: '10.71.0.100', end: '10.71.255.254' }],
    });
    expect(sent.filter((command) => command === 'UpdateItemCommand')).toHaveLength(1);
    expect(patched.usage).toMatchObject({ allocated: 2, outsidePools: 1 });
    sent.length = 0;
    const moved = await updateSubnet(counting, subnet.id, { gatewayIp: '10.71.0.60' });
    expect(moved.gatewayIp).toBe('10.71.0.60');
    expect(sent.filter((command) => command === 'UpdateItemCommand')).toEqual([]);
    expect(moved.usage).toEqual(patched.usage);
    const report = await runAudit(db.ctx, { repair: false });
    expect(
      report.findings.filter(
        (finding) => finding.subnetId === subnet.id && finding.type === FindingType.USAGE_DRIFT,
      ),
    ).toEqual([]);
  });
});
