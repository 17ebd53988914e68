/**
 * Second review of issue 17 stage 2's hints audit (shared/audit/hints.ts): the
 * HINT_STALE repair racing the stream processor, and what the sighting's fingerprint
 * (hintDifference) names.
 */
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../shared/audit/index.js';
import { noopPublisher } from '../../shared/events/index.js';
import { compareHints } from '../../shared/hints/index.js';
import { processStreamRecords } from '../../shared/history/index.js';
import { parseIp } from '../../shared/net/address.js';
import type { IpamContext } from '../../shared/store/context.js';
import { keys } from '../../shared/store/keys.js';
import { createSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, storedItems, streamRecords, type TestDb } from '../support/dynamo.js';
import { TextAllocator } from '../support/textAllocator.js';

const hintTypes = (report: { findings: { type: string }[] }) =>
  report.findings.filter((finding) => finding.type.startsWith('HINT_')).map((f) => f.type);

/** The stream's records not handed to the processor yet (`seen` counts those that were). */
function newRecords(db: TestDb) {
  let seen = 0;
  return async () => {
    const all = await streamRecords(db);
    const fresh = all.slice(seen);
    seen = all.length;
    return fresh;
  };
}

/** `ctx` whose first TransactWrite of a hint item runs `before` first (an interleaving). */
function beforeHintRepair(ctx: IpamContext, before: () => Promise<void>): IpamContext {
  let done = false;
  const send = ((command: unknown) => {
    const repairsHint =
      command instanceof TransactWriteCommand &&
      JSON.stringify(command.input.TransactItems).includes('"type":"hint"');
    if (repairsHint && !done) {
      done = true;
      return before().then(() => ctx.doc.send(command as TransactWriteCommand));
    }
    return ctx.doc.send(command as TransactWriteCommand);
  }) as IpamContext['doc']['send'];
  return {
    ...ctx,
    doc: new Proxy(ctx.doc, { get: (t, p) => (p === 'send' ? send : Reflect.get(t, p)) }),
  };
}

describe('block hints (second review)', () => {
  it('a HINT_STALE repair racing a change the processor applies as a no-op leaves the hint wrong', async () => {
    const db = await createTestDb({ stream: true });
    const allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
    const pending = newRecords(db);
    const subnet = await createSubnet(db.ctx, { cidr: '10.81.0.0/24', space: 'hints' });
    await allocator.allocate(subnet.id, { ip: '10.81.0.5' });
    await processStreamRecords(db.ctx, await pending(), noopPublisher, { hints: true });
    // .9's create went to the failure destination: the hint says it is free.
    await allocator.allocate(subnet.id, { ip: '10.81.0.9' });
    const nine = keys.allocationSort(parseIp('10.81.0.9'));
    const lost = (await pending()).filter((r) => r.dynamodb?.Keys?.sk?.S !== nine);
    await processStreamRecords(db.ctx, lost, noopPublisher, { hints: true });
    const options = { repair: true, gracePeriodMs: 0, expectHints: true };
    expect(hintTypes(await runAudit(db.ctx, options))).toEqual(['HINT_TRAILING']);

    // Between the audit's re-read of the block's items and its repair, .9 is released
    // and the processor applies that: the hint already says free, so it writes nothing
    // and the hint's `ver` stays where the audit read it.
    const racing = beforeHintRepair(db.ctx, async () => {
      await allocator.release(subnet.id, '10.81.0.9');
      await processStreamRecords(db.ctx, await pending(), noopPublisher, { hints: true });
    });
    const second = await runAudit(racing, options);
    expect(hintTypes(second)).toEqual(['HINT_STALE']);
    expect((await storedItems(db.ctx, 'allocation', subnet.id)).map((i) => i.ip)).toEqual([
      '10.81.0.5',
    ]);
    // The rest of the stream (the audits' own items) is processed: no record of .9
    // is left that could correct the hint.
    await processStreamRecords(db.ctx, await pending(), noopPublisher, { hints: true });
    expect(await compareHints(db.ctx, subnet.id, 1)).toEqual([]);
  });

  it('a lost change on a busy block is never HINT_STALE: each audit also meets a different change in flight', async () => {
    const db = await createTestDb({ stream: true });
    const allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
    const pending = newRecords(db);
    const subnet = await createSubnet(db.ctx, { cidr: '10.82.0.0/24', space: 'hints' });
    await allocator.allocate(subnet.id, { ip: '10.82.0.5' });
    await processStreamRecords(db.ctx, await pending(), noopPublisher, { hints: true });
    // .9's create is lost for good (the failure destination).
    await allocator.allocate(subnet.id, { ip: '10.82.0.9' });
    const nine = keys.allocationSort(parseIp('10.82.0.9'));
    const lost = (await pending()).filter((r) => r.dynamodb?.Keys?.sk?.S !== nine);
    await processStreamRecords(db.ctx, lost, noopPublisher, { hints: true });
    const options = { repair: false, gracePeriodMs: 60_000, expectHints: true };
    // Each audit meets the block while one other allocation is still in the stream.
    const audits: string[][] = [];
    for (const ip of ['10.82.0.20', '10.82.0.21', '10.82.0.22']) {
      await allocator.allocate(subnet.id, { ip });
      audits.push(hintTypes(await runAudit(db.ctx, options)));
      await processStreamRecords(db.ctx, await pending(), noopPublisher, { hints: true });
      db.advance(120_000); // past the grace period before the next audit
    }
    expect(await compareHints(db.ctx, subnet.id, 1)).toHaveLength(1); // .9, lost
    // .9's disagreement is the same in all three, seen first > grace ago by the second.
    expect(audits).toEqual([['HINT_TRAILING'], ['HINT_STALE'], ['HINT_STALE']]);
  });

  it('a lag that recurs in the same state matches a sighting left by an earlier, resolved lag', async () => {
    const db = await createTestDb({ stream: true });
    const allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
    const pending = newRecords(db);
    const subnet = await createSubnet(db.ctx, { cidr: '10.83.0.0/24', space: 'hints' });
    await allocator.allocate(subnet.id, { ip: '10.83.0.5' });
    await processStreamRecords(db.ctx, await pending(), noopPublisher, { hints: true });
    const options = { repair: false, gracePeriodMs: 60_000, expectHints: true };
    // A permanent allocation whose record is still in the stream when the audit runs.
    await allocator.allocate(subnet.id, { ip: '10.83.0.9' });
    expect(hintTypes(await runAudit(db.ctx, options))).toEqual(['HINT_TRAILING']);
    await processStreamRecords(db.ctx, await pending(), noopPublisher, { hints: true });
    expect(hintTypes(await runAudit(db.ctx, options))).toEqual([]); // the lag resolved
    // Hours later, .9 released and allocated again, the new record again in flight.
    db.advance(3 * 3600_000);
    await allocator.release(subnet.id, '10.83.0.9');
    await processStreamRecords(db.ctx, await pending(), noopPublisher, { hints: true });
    await allocator.allocate(subnet.id, { ip: '10.83.0.9' });
    // A fresh lag, first seen now: HINT_TRAILING, not HINT_STALE.
    expect(hintTypes(await runAudit(db.ctx, options))).toEqual(['HINT_TRAILING']);
  });
});
