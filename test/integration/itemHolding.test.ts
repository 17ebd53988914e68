/**
 * The allocation item alone says how long it holds its address (issue 17, stage 1):
 * `ttl` is when the address is free again — a lease's expiry plus the cool-down, or
 * a release's time plus it (a tombstone) — and `coolFrom` when that cool-down began.
 * The blocks still hold the same facts (`x<o>`, `q<o>`); these tests read the items.
 * A lease that ends without a cool-down is taken over only a clock margin after its
 * end, so a holder whose clock is behind never loses it early.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { lookupAddress } from '../../shared/allocator/addressLookup.js';
import { Allocator } from '../../shared/allocator/index.js';
import { addressHistory } from '../../shared/history/index.js';
import { subnetMap } from '../../shared/map/index.js';
import { parseIp } from '../../shared/net/address.js';
import type { IpamContext } from '../../shared/store/context.js';
import { keys } from '../../shared/store/keys.js';
import { TAKEOVER_MARGIN_MS } from '../../shared/subnets/holding.js';
import { createSubnet, loadSubnet, updateSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, historyPoller } from '../support/dynamo.js';
import { TextAllocator } from '../support/textAllocator.js';

const releaser = { actor: 'arn:aws:iam::1:user/rhea', requestId: 'req-release-7' };

/** The stored allocation item of an address of a /24 (one shard: 0). */
async function storedItem(ctx: IpamContext, subnetId: string, ip: string) {
  const result = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: keys.allocation(subnetId, 0, parseIp(ip)),
      ConsistentRead: true,
    }),
  );
  return result.Item;
}

/** A context whose clock stands still at `ms`. */
const frozenAt = (ctx: IpamContext, ms: number): IpamContext => ({ ...ctx, now: () => ms });

describe('the allocation item holds its address', () => {
  it('turns into a tombstone on a release under a cool-down, which names the releaser', async () => {
    const db = await createTestDb({ stream: true });
    const poller = historyPoller(db);
    const allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
    const subnet = await createSubnet(db.ctx, {
      cidr: '10.71.0.0/24',
      space: 'tombstones',
      reuseDelaySeconds: 600,
    });
    await allocator.allocate(subnet.id, { ip: '10.71.0.9', owner: 'vm-9' });
    const before = Math.floor(db.ctx.now() / 1000);
    await allocator.typed.release(subnet.id, parseIp('10.71.0.9'), undefined, releaser);
    const after = Math.floor(db.ctx.now() / 1000);

    const tombstone = await storedItem(db.ctx, subnet.id, '10.71.0.9');
    expect(tombstone).toMatchObject({
      releasedBy: releaser.actor,
      requestId: releaser.requestId,
      releasedAt: expect.any(String),
    });
    expect(tombstone?.coolFrom).toBeGreaterThanOrEqual(before);
    expect(tombstone?.coolFrom).toBeLessThanOrEqual(after);
    expect(tombstone?.ttl).toBe(Number(tombstone?.coolFrom) + 600);
    // Out of the owner index, and no allocation to any reader.
    expect(tombstone?.gsi1pk).toBeUndefined();
    await expect(allocator.get(subnet.id, '10.71.0.9')).rejects.toMatchObject({
      code: 'ALLOCATION_NOT_FOUND',
    });
    expect((await allocator.list(subnet.id, { limit: 10 })).items).toEqual([]);
    expect((await allocator.list(subnet.id, { owner: 'vm-9', limit: 10 })).items).toEqual([]);
    const { items } = await lookupAddress(db.ctx, parseIp('10.71.0.9'), 'tombstones');
    expect(items[0]).toMatchObject({ state: 'QUARANTINED', allocation: null });
    // No release note: the tombstone itself names who released it.
    const note = await db.ctx.doc.send(
      new GetCommand({
        TableName: db.ctx.tableName,
        Key: keys.releaseNote(
          subnet.id,
          keys.allocationSort(parseIp('10.71.0.9')),
          String(tombstone?.reqToken),
        ),
        ConsistentRead: true,
      }),
    );
    expect(note.Item).toBeUndefined();

    // After the cool-down the address is taken over the tombstone.
    db.advance(601_000);
    // Its cool-down over, the tombstone (until the TTL takes it) is no lapsed lease.
    const free = await lookupAddress(db.ctx, parseIp('10.71.0.9'), 'tombstones');
    expect(free.items[0]).toMatchObject({ state: 'FREE', allocation: null });
    expect((await subnetMap(db.ctx, subnet.id)).cells[9]?.state).toBe('FREE');
    await allocator.allocate(subnet.id, { ip: '10.71.0.9', owner: 'vm-10' });
    const taken = await storedItem(db.ctx, subnet.id, '10.71.0.9');
    expect(taken?.releasedAt).toBeUndefined();
    expect(taken?.owner).toBe('vm-10');
    await poller.drain();
    const history = await addressHistory(db.ctx, subnet.id, parseIp('10.71.0.9'), { limit: 10 });
    expect(history.items.map(({ action, actor, owner }) => ({ action, actor, owner }))).toEqual([
      { action: 'ALLOCATED', actor: 'unknown', owner: 'vm-10' },
      { action: 'RELEASED', actor: releaser.actor, owner: 'vm-9' },
      { action: 'ALLOCATED', actor: 'unknown', owner: 'vm-9' },
    ]);
  });

  it('holds a lease until its expiry plus the cool-down, and moves with a PATCH of the delay', async () => {
    const db = await createTestDb();
    const allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
    const subnet = await createSubnet(db.ctx, {
      cidr: '10.72.0.0/24',
      space: 'lease-holding',
      reuseDelaySeconds: 300,
    });
    const [lease] = await allocator.allocate(subnet.id, { ip: '10.72.0.7', ttlSeconds: 3600 });
    const expiry = Date.parse(String(lease?.expiresAt)) / 1000;
    expect(await storedItem(db.ctx, subnet.id, '10.72.0.7')).toMatchObject({
      ttl: expiry + 300,
      coolFrom: expiry,
      pv: (await loadSubnet(db.ctx, subnet.id)).configVersion,
    });
    await updateSubnet(db.ctx, subnet.id, { reuseDelaySeconds: 900 });
    expect(await storedItem(db.ctx, subnet.id, '10.72.0.7')).toMatchObject({
      ttl: expiry + 900,
      coolFrom: expiry,
      pv: (await loadSubnet(db.ctx, subnet.id)).configVersion,
    });
    await updateSubnet(db.ctx, subnet.id, { reuseDelaySeconds: 0 });
    const without = await storedItem(db.ctx, subnet.id, '10.72.0.7');
    expect(without?.ttl).toBe(expiry);
    expect(without?.coolFrom).toBeUndefined();
    // A renewal under the delay in force then.
    await updateSubnet(db.ctx, subnet.id, { reuseDelaySeconds: 60 });
    const renewed = await allocator.update(subnet.id, '10.72.0.7', { ttlSeconds: 7200 });
    const renewedExpiry = Date.parse(String(renewed.expiresAt)) / 1000;
    expect(await storedItem(db.ctx, subnet.id, '10.72.0.7')).toMatchObject({
      ttl: renewedExpiry + 60,
      coolFrom: renewedExpiry,
      pv: (await loadSubnet(db.ctx, subnet.id)).configVersion,
    });
  });

  it('takes over a lease that ended without a cool-down only a clock margin after its end', async () => {
    const db = await createTestDb();
    const subnet = await createSubnet(db.ctx, { cidr: '10.73.0.0/24', space: 'margin' });
    const holder = new TextAllocator(db.ctx, { cacheMs: 0 });
    const [lease] = await holder.allocate(subnet.id, { ip: '10.73.0.5', ttlSeconds: 60 });
    const endMs = Date.parse(String(lease?.expiresAt));
    // A taker whose clock shows the lease ended a moment ago: the holder's clock may
    // be behind by as much, so the address is not its yet.
    const early = new Allocator(frozenAt(db.ctx, endMs + TAKEOVER_MARGIN_MS - 100), {
      cacheMs: 0,
    });
    // With its clock frozen it never gets past the margin: the answer is to retry shortly
    // (a real clock gets past it within the allocator's own retries).
    await expect(early.allocate(subnet.id, { ip: parseIp('10.73.0.5') })).rejects.toMatchObject({
      code: 'ALLOCATION_CONTENTION',
    });
    expect(await storedItem(db.ctx, subnet.id, '10.73.0.5')).toMatchObject({
      reqToken: expect.any(String),
      expiresAt: lease?.expiresAt,
    });
    const late = new Allocator(frozenAt(db.ctx, endMs + TAKEOVER_MARGIN_MS + 1000), {
      cacheMs: 0,
    });
    const [taken] = await late.allocate(subnet.id, { ip: parseIp('10.73.0.5'), owner: 'next' });
    expect(taken).toMatchObject({ ip: '10.73.0.5', owner: 'next' });
  });
});
