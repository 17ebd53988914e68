/**
 * Edge cases of issue 17's first stage (the allocation item holds `ttl` = freeAt,
 * `coolFrom`, and a release under a cool-down leaves a tombstone) that a review
 * found: a delay PATCH's rewrite beside an offset whose request has no item yet, a
 * stale PATCH meeting a tombstone, the audit taking back a lease written before the
 * stage, a full subnet whose last address is inside the takeover margin, and one
 * release reading the clock twice.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../shared/audit/index.js';
import { parseCidr, parseIp } from '../../shared/net/address.js';
import type { IpamContext } from '../../shared/store/context.js';
import { keys } from '../../shared/store/keys.js';
import { geometryOf, positionOf } from '../../shared/subnets/geometry.js';
import { TAKEOVER_MARGIN_MS } from '../../shared/subnets/holding.js';
import { createSubnet, updateSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import { interrupted } from '../support/interleave.js';
import { TextAllocator } from '../support/textAllocator.js';

let spaces = 0;
const newSpace = () => `stage1-review-${++spaces}-${Math.random().toString(36).slice(2)}`;

/** A context whose clock stands still at `ms`. */
const frozenAt = (ctx: IpamContext, ms: number): IpamContext => ({ ...ctx, now: () => ms });

async function read(ctx: IpamContext, key: Record<string, unknown>) {
  const result = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: key, ConsistentRead: true }),
  );
  return result.Item;
}

function where(cidr: string, ip: string) {
  return positionOf(geometryOf(parseCidr(cidr)), parseIp(ip).value);
}

const itemOf = (ctx: IpamContext, subnetId: string, cidr: string, ip: string) =>
  read(ctx, keys.allocation(subnetId, where(cidr, ip).shard, parseIp(ip)));

const blockOf = (ctx: IpamContext, subnetId: string, cidr: string, ip: string) => {
  const pos = where(cidr, ip);
  return read(ctx, keys.block(subnetId, pos.shard, pos.block));
};

/** Rewrites a lease item to the shape written before stage 1: `ttl` = expiry, no `coolFrom`, no `pv`. */
async function asBeforeStage1(db: TestDb, subnetId: string, cidr: string, ip: string) {
  const item = await itemOf(db.ctx, subnetId, cidr, ip);
  const expiry = Date.parse(String(item?.expiresAt)) / 1000;
  await db.ctx.doc.send(
    new UpdateCommand({
      TableName: db.ctx.tableName,
      Key: keys.allocation(subnetId, where(cidr, ip).shard, parseIp(ip)),
      UpdateExpression: 'SET #ttl = :expiry REMOVE coolFrom, pv',
      ExpressionAttributeNames: { '#ttl': 'ttl' },
      ExpressionAttributeValues: { ':expiry': expiry },
    }),
  );
  return expiry;
}

describe('stage 1 review', () => {
  it("moves a lease's cool-down with a delay PATCH although a request still being written shares its block", async () => {
    const db = await createTestDb();
    const cidr = '10.81.0.0/24';
    const subnet = await createSubnet(db.ctx, { cidr, space: newSpace() });
    const own = new TextAllocator(db.ctx, { cacheMs: 0 });
    const [lease] = await own.allocate(subnet.id, { ip: '10.81.0.250', ttlSeconds: 3600 });
    const expiry = Date.parse(String(lease?.expiresAt)) / 1000;
    // A request of 100 leases is written in steps (pending record, reservation, items):
    // the delay PATCH commits and rewrites between its reservation and its items, so
    // its offsets name a token whose item does not exist yet.
    const bulk = new TextAllocator(
      interrupted(
        db,
        async () => {
          await updateSubnet(db.ctx, subnet.id, { reuseDelaySeconds: 900 });
        },
        'TransactWriteItemsCommand',
        1,
        { skip: 2 },
      ),
      { cacheMs: 0 },
    );
    expect(await bulk.allocate(subnet.id, { count: 100, ttlSeconds: 3600 })).toHaveLength(100);
    // The lease that was there before takes the new delay, in its block and its item.
    expect(await blockOf(db.ctx, subnet.id, cidr, '10.81.0.250')).toMatchObject({
      x250: expiry + 900,
      q250: expiry,
    });
    expect(await itemOf(db.ctx, subnet.id, cidr, '10.81.0.250')).toMatchObject({
      ttl: expiry + 900,
      coolFrom: expiry,
    });
  });

  it('never lets a PATCH that read the live allocation overwrite the tombstone its release left', async () => {
    const db = await createTestDb();
    const cidr = '10.82.0.0/24';
    const subnet = await createSubnet(db.ctx, {
      cidr,
      space: newSpace(),
      reuseDelaySeconds: 60,
    });
    // A second boundary a little ahead, so allocation, release and PATCH share one second.
    const t0 = (Math.floor(Date.now() / 1000) + 2) * 1000;
    const at = (ms: number) => new TextAllocator(frozenAt(db.ctx, ms), { cacheMs: 0 });
    await at(t0 + 100).allocate(subnet.id, { ip: '10.82.0.9', owner: 'vm-9', ttlSeconds: 60 });
    // Written before stage 1: its ttl is the lease's expiry, which here is exactly
    // when a release now ends its cool-down (now + 60 s).
    await asBeforeStage1(db, subnet.id, cidr, '10.82.0.9');
    const patching = new TextAllocator(
      {
        ...interrupted(db, async () => {
          await at(t0 + 200).release(subnet.id, '10.82.0.9');
        }),
        now: () => t0 + 300,
      },
      { cacheMs: 0 },
    );
    await expect(
      patching.update(subnet.id, '10.82.0.9', { description: 'late' }),
    ).rejects.toMatchObject({ code: 'ALLOCATION_NOT_FOUND' });
    const stored = await itemOf(db.ctx, subnet.id, cidr, '10.82.0.9');
    expect(stored?.releasedAt).toEqual(expect.any(String));
    expect(stored?.description).toBeNull();
  });

  it('takes back the cool-down of a lease written before stage 1 when its block lost it', async () => {
    const db = await createTestDb();
    const cidr = '10.83.0.0/24';
    const subnet = await createSubnet(db.ctx, {
      cidr,
      space: newSpace(),
      reuseDelaySeconds: 300,
    });
    const own = new TextAllocator(db.ctx, { cacheMs: 0 });
    await own.allocate(subnet.id, { ip: '10.83.0.64', ttlSeconds: 3600 });
    const expiry = await asBeforeStage1(db, subnet.id, cidr, '10.83.0.64');
    const pos = where(cidr, '10.83.0.64');
    await db.ctx.doc.send(
      new UpdateCommand({
        TableName: db.ctx.tableName,
        Key: keys.block(subnet.id, pos.shard, pos.block),
        UpdateExpression: 'DELETE u :o REMOVE x64, q64, t64',
        ExpressionAttributeValues: { ':o': new Set([64]) },
      }),
    );
    const report = await runAudit(db.ctx, { repair: true, gracePeriodMs: 0 });
    expect(report.findings.filter((f) => f.type === 'ALLOCATION_WITHOUT_BLOCK')).toEqual([
      expect.objectContaining({ ip: '10.83.0.64', repaired: true }),
    ]);
    // The cool-down in force (300 s) follows the lease, as before stage 1.
    expect(await blockOf(db.ctx, subnet.id, cidr, '10.83.0.64')).toMatchObject({
      x64: expiry + 300,
      q64: expiry,
    });
    // And the item, as the block: it holds the address until the same second.
    expect(await itemOf(db.ctx, subnet.id, cidr, '10.83.0.64')).toMatchObject({
      ttl: expiry + 300,
      coolFrom: expiry,
    });
    db.advance(3_601_000);
    await expect(own.allocate(subnet.id, { ip: '10.83.0.64' })).rejects.toMatchObject({
      code: 'IP_QUARANTINED',
    });
  });

  it('answers a full subnet whose last address is inside the takeover margin with retry, not exhausted', async () => {
    const db = await createTestDb();
    const cidr = '10.84.0.0/29';
    const subnet = await createSubnet(db.ctx, { cidr, space: newSpace() });
    const own = new TextAllocator(db.ctx, { cacheMs: 0 });
    const [lease] = await own.allocate(subnet.id, { ip: '10.84.0.3', ttlSeconds: 60 });
    // Everything else in the pools, without a lease.
    for (;;) {
      const more = await own.allocate(subnet.id, {}).catch(() => undefined);
      if (more === undefined) break;
    }
    const endMs = Date.parse(String(lease?.expiresAt));
    const early = new TextAllocator(frozenAt(db.ctx, endMs + TAKEOVER_MARGIN_MS - 400), {
      cacheMs: 0,
    });
    await expect(early.allocate(subnet.id, {})).rejects.toMatchObject({
      code: 'ALLOCATION_CONTENTION',
    });
    const late = new TextAllocator(frozenAt(db.ctx, endMs + TAKEOVER_MARGIN_MS + 1000), {
      cacheMs: 0,
    });
    expect((await late.allocate(subnet.id, {}))[0]?.ip).toBe('10.84.0.3');
  });

  it("gives a release's tombstone the same free time and cool-down start as its block", async () => {
    const db = await createTestDb();
    const cidr = '10.85.0.0/24';
    const subnet = await createSubnet(db.ctx, {
      cidr,
      space: newSpace(),
      reuseDelaySeconds: 600,
    });
    await new TextAllocator(db.ctx, { cacheMs: 0 }).allocate(subnet.id, { ip: '10.85.0.9' });
    // A clock that moves on a second at every reading: two readings in one release
    // would land in different seconds.
    let tick = Date.now();
    const ticking: IpamContext = {
      ...db.ctx,
      now: () => {
        tick += 1000;
        return tick;
      },
    };
    await new TextAllocator(ticking, { cacheMs: 0 }).release(subnet.id, '10.85.0.9');
    const tombstone = await itemOf(db.ctx, subnet.id, cidr, '10.85.0.9');
    const block = await blockOf(db.ctx, subnet.id, cidr, '10.85.0.9');
    expect({ ttl: tombstone?.ttl, coolFrom: tombstone?.coolFrom }).toEqual({
      ttl: block?.x9,
      coolFrom: block?.q9,
    });
  });
});
