/**
 * Release cool-down (API.md "Release cool-down"): with `reuseDelaySeconds` D > 0 a
 * released address, and an expired lease from its expiry, stays QUARANTINED for D
 * seconds. No strategy hands it out, a specific request answers IP_QUARANTINED with
 * `availableAt`, usage counts it apart, the lookup shows it, the audit leaves it
 * alone. With D = 0 nothing changes.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { lookupAddress } from '../../shared/allocator/addressLookup.js';
import { runAudit } from '../../shared/audit/index.js';
import { parseCidr, parseIp } from '../../shared/net/address.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import { keys } from '../../shared/store/keys.js';
import { geometryOf, positionOf } from '../../shared/subnets/geometry.js';
import { createSubnet, getSubnet, updateSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import { injectFaults } from '../support/faults.js';
import { interrupted } from '../support/interleave.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;
let allocator: TextAllocator;

beforeAll(async () => {
  db = await createTestDb();
  // cacheMs 0: every pick decides from the table, not from this allocator's view.
  allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
});

const newSpace = () => `cool-${Math.random().toString(36).slice(2)}`;
const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString();

/**
 * Releases `ip` and answers a matcher of its availableAt: the release time (whole
 * seconds, read by the release itself) plus the delay, somewhere between the clock
 * before and after the call.
 */
async function releaseTimed(subnetId: string, ip: string, delaySeconds: number) {
  const before = db.ctx.now();
  await allocator.release(subnetId, ip);
  const after = db.ctx.now();
  const options = new Set([iso(before + delaySeconds * 1000), iso(after + delaySeconds * 1000)]);
  return expect.stringMatching(new RegExp(`^(${[...options].join('|').replace(/\./g, '\\.')})$`));
}

async function subnetOf(cidr: string, reuseDelaySeconds?: number) {
  return createSubnet(db.ctx, {
    cidr,
    space: newSpace(),
    ...(reuseDelaySeconds === undefined ? {} : { reuseDelaySeconds }),
  });
}

async function stateOf(ip: string, space: string) {
  const { items } = await lookupAddress(db.ctx, parseIp(ip), space);
  return items[0];
}

async function blockItem(subnetId: string, cidr: string, ip: string) {
  const pos = positionOf(geometryOf(parseCidr(cidr)), parseIp(ip).value);
  const stored = await db.ctx.doc.send(
    new GetCommand({
      TableName: db.ctx.tableName,
      Key: keys.block(subnetId, pos.shard, pos.block),
      ConsistentRead: true,
    }),
  );
  return stored.Item;
}

/** A /29 (pools .2–.6 around the gateway .1) whose five pool addresses are all allocated. */
async function fullSlash29(delay: number) {
  const subnet = await subnetOf('10.90.0.0/29', delay);
  const taken = await allocator.allocate(subnet.id, { count: 5, strategy: 'sequential' });
  expect(taken.map((a) => a.ip)).toEqual([
    '10.90.0.2',
    '10.90.0.3',
    '10.90.0.4',
    '10.90.0.5',
    '10.90.0.6',
  ]);
  return subnet;
}

describe('reuseDelaySeconds on the subnet', () => {
  it('defaults to 0, is set on create and by PATCH, and is checked for its range', async () => {
    const plain = await subnetOf('10.91.0.0/24');
    expect(plain.reuseDelaySeconds).toBe(0);
    const cooled = await subnetOf('10.91.1.0/24', 300);
    expect(cooled.reuseDelaySeconds).toBe(300);
    expect((await getSubnet(db.ctx, cooled.id)).reuseDelaySeconds).toBe(300);
    const patched = await updateSubnet(db.ctx, plain.id, { reuseDelaySeconds: 86_400 });
    expect(patched.reuseDelaySeconds).toBe(86_400);
    expect((await updateSubnet(db.ctx, plain.id, { reuseDelaySeconds: 0 })).reuseDelaySeconds).toBe(
      0,
    );
    for (const bad of [-1, 86_401, 1.5]) {
      await expect(subnetOf('10.91.2.0/24', bad)).rejects.toMatchObject({
        code: 'VALIDATION_ERROR',
        message: expect.stringContaining('0 to 86400'),
      });
      await expect(
        updateSubnet(db.ctx, plain.id, { reuseDelaySeconds: bad }),
      ).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    }
  });
});

describe('A released address with a cool-down', () => {
  it('answers IP_QUARANTINED to a specific request until availableAt, then is allocatable', async () => {
    const subnet = await subnetOf('10.92.0.0/24', 600);
    await allocator.allocate(subnet.id, { ip: '10.92.0.10', owner: 'a' });
    const availableAt = await releaseTimed(subnet.id, '10.92.0.10', 600);
    const refused = await allocator.allocate(subnet.id, { ip: '10.92.0.10' }).catch((e) => e);
    expect(refused).toMatchObject({
      code: 'IP_QUARANTINED',
      details: { ip: '10.92.0.10', availableAt },
    });
    expect(refused.message).toContain(refused.details.availableAt);
    expect(await stateOf('10.92.0.10', subnet.space)).toMatchObject({
      state: 'QUARANTINED',
      availableAt,
      allocation: null,
    });
    expect((await getSubnet(db.ctx, subnet.id)).usage).toEqual({
      total: 253,
      allocated: 0,
      available: 252,
      outsidePools: 0,
      quarantined: 1,
    });
    db.advance(590_000);
    await expect(allocator.allocate(subnet.id, { ip: '10.92.0.10' })).rejects.toMatchObject({
      code: 'IP_QUARANTINED',
    });
    db.advance(10_000);
    expect((await stateOf('10.92.0.10', subnet.space))?.state).toBe('FREE');
    expect((await getSubnet(db.ctx, subnet.id)).usage).toMatchObject({
      allocated: 0,
      available: 253,
      quarantined: 0,
    });
    const [again] = await allocator.allocate(subnet.id, { ip: '10.92.0.10', owner: 'b' });
    expect(again?.owner).toBe('b');
    expect((await getSubnet(db.ctx, subnet.id)).usage).toMatchObject({
      allocated: 1,
      quarantined: 0,
    });
    // The takeover cleared the quarantine mark: the new holder is ALLOCATED, not cooling.
    expect((await stateOf('10.92.0.10', subnet.space))?.state).toBe('ALLOCATED');
    const block = await blockItem(subnet.id, subnet.cidr, '10.92.0.10');
    expect(Object.keys(block ?? {}).filter((name) => /^[qx]\d+$/.test(name))).toEqual([]);
  });

  it.each(['random', 'sequential'] as const)(
    'is never handed out by %s while quarantined: the full /29 is SUBNET_EXHAUSTED',
    async (strategy) => {
      const subnet = await fullSlash29(120);
      const availableAt = await releaseTimed(subnet.id, '10.90.0.4', 120);
      for (const count of [1, 2]) {
        await expect(allocator.allocate(subnet.id, { strategy, count })).rejects.toMatchObject({
          code: 'SUBNET_EXHAUSTED',
          details: { total: 5, allocated: 4, quarantined: 1, availableAt, requested: count },
        });
      }
      db.advance(120_000);
      const [reused] = await allocator.allocate(subnet.id, { strategy });
      expect(reused?.ip).toBe('10.90.0.4');
    },
  );

  it('is not taken by a large count (the pending path) while quarantined', async () => {
    const subnet = await subnetOf('10.93.0.0/24', 900);
    const first = await allocator.allocate(subnet.id, { count: 3, strategy: 'random' });
    for (const a of first) await allocator.release(subnet.id, a.ip);
    // count 100: more items than one transaction holds, so it goes the pending way.
    const rest: { ip: string }[] = [];
    for (const count of [100, 100, 50]) {
      rest.push(...(await allocator.allocate(subnet.id, { count, strategy: 'random' })));
    }
    const quarantined = new Set(first.map((a) => a.ip));
    expect(rest.filter((a) => quarantined.has(a.ip))).toEqual([]);
    expect(new Set(rest.map((a) => a.ip)).size).toBe(250);
    await expect(allocator.allocate(subnet.id, { strategy: 'sequential' })).rejects.toMatchObject({
      code: 'SUBNET_EXHAUSTED',
      details: { quarantined: 3 },
    });
    expect((await getSubnet(db.ctx, subnet.id)).usage).toEqual({
      total: 253,
      allocated: 250,
      available: 0,
      outsidePools: 0,
      quarantined: 3,
    });
  });

  it('keeps the delay in force at release time when the subnet is PATCHed', async () => {
    const subnet = await subnetOf('10.94.0.0/24', 1000);
    await allocator.allocate(subnet.id, { ip: '10.94.0.20' });
    await allocator.allocate(subnet.id, { ip: '10.94.0.21' });
    const availableAt = await releaseTimed(subnet.id, '10.94.0.20', 1000);
    await updateSubnet(db.ctx, subnet.id, { reuseDelaySeconds: 0 });
    await expect(allocator.allocate(subnet.id, { ip: '10.94.0.20' })).rejects.toMatchObject({
      code: 'IP_QUARANTINED',
      details: { availableAt },
    });
    // Released under delay 0: free at once.
    await allocator.release(subnet.id, '10.94.0.21');
    expect((await allocator.allocate(subnet.id, { ip: '10.94.0.21' }))[0]?.ip).toBe('10.94.0.21');
  });
});

describe('Races at the end of a cool-down', () => {
  it('lets exactly one of several concurrent takers have the address once it is free', async () => {
    const subnet = await subnetOf('10.99.0.0/24', 60);
    await allocator.allocate(subnet.id, { ip: '10.99.0.70' });
    await allocator.release(subnet.id, '10.99.0.70');
    db.advance(61_000);
    const takers = Array.from({ length: 4 }, (_, i) =>
      new TextAllocator(db.ctx, { cacheMs: 0 }).allocate(subnet.id, {
        ip: '10.99.0.70',
        owner: `taker-${i}`,
      }),
    );
    const outcomes = await Promise.allSettled(takers);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const lost of outcomes.filter((o) => o.status === 'rejected')) {
      expect(lost.reason).toMatchObject({ code: 'IP_ALREADY_ALLOCATED' });
    }
    expect((await getSubnet(db.ctx, subnet.id)).usage).toMatchObject({
      allocated: 1,
      quarantined: 0,
    });
  });

  it('never hands out an address that went back into a cool-down after the pick read it free', async () => {
    const subnet = await subnetOf('10.90.8.0/29', 120);
    await allocator.allocate(subnet.id, { count: 5, strategy: 'sequential' });
    await allocator.release(subnet.id, '10.90.8.4');
    db.advance(121_000); // .4 is free again (an ended cool-down)
    // Between the pick's read (".4 is free") and its write, another caller takes .4
    // and releases it: a new cool-down has begun when the write is tried.
    const racing = interrupted(db, async () => {
      await allocator.allocate(subnet.id, { ip: '10.90.8.4', owner: 'other' });
      await allocator.release(subnet.id, '10.90.8.4');
    });
    const late = new TextAllocator(racing, { cacheMs: 0 });
    await expect(late.allocate(subnet.id, { strategy: 'random' })).rejects.toMatchObject({
      code: 'SUBNET_EXHAUSTED',
      details: { quarantined: 1 },
    });
    expect((await stateOf('10.90.8.4', subnet.space))?.state).toBe('QUARANTINED');
  });
});

describe('A PATCH of reuseDelaySeconds', () => {
  it('applies to the next release also of an allocator that cached the subnet before it', async () => {
    const subnet = await subnetOf('10.89.0.0/24', 0);
    // Default cacheMs: this allocator keeps the subnet item (30 s) and its counters.
    const cached = new TextAllocator(db.ctx);
    await cached.allocate(subnet.id, { ip: '10.89.0.80' });
    await cached.allocate(subnet.id, { ip: '10.89.0.81', ttlSeconds: 60 });
    await updateSubnet(db.ctx, subnet.id, { reuseDelaySeconds: 600 });
    await cached.release(subnet.id, '10.89.0.80');
    await expect(cached.allocate(subnet.id, { ip: '10.89.0.80' })).rejects.toMatchObject({
      code: 'IP_QUARANTINED',
    });
    await updateSubnet(db.ctx, subnet.id, { reuseDelaySeconds: 0 });
    await cached.release(subnet.id, '10.89.0.81');
    expect((await cached.allocate(subnet.id, { ip: '10.89.0.81' }))[0]?.ip).toBe('10.89.0.81');
  });
});

describe('A renewal racing a PATCH of reuseDelaySeconds', () => {
  it('sets its cool-down under the delay that committed first', async () => {
    const subnet = await subnetOf('10.71.0.0/24', 0);
    await allocator.allocate(subnet.id, { ip: '10.71.0.30', ttlSeconds: 60 });
    // The PATCH commits between the renewal's read of the subnet and its write.
    const racing = interrupted(db, async () => {
      await updateSubnet(db.ctx, subnet.id, { reuseDelaySeconds: 300 });
    });
    const late = new TextAllocator(racing, { cacheMs: 0 });
    const renewed = await late.update(subnet.id, '10.71.0.30', { ttlSeconds: 60 });
    expect((await getSubnet(db.ctx, subnet.id)).reuseDelaySeconds).toBe(300);
    db.advance(61_000);
    await expect(allocator.allocate(subnet.id, { ip: '10.71.0.30' })).rejects.toMatchObject({
      code: 'IP_QUARANTINED',
      details: { availableAt: iso(Date.parse(renewed.expiresAt ?? '') + 300_000) },
    });
  });
});

describe('The gateway moved onto a cooling address', () => {
  it('looks up as GATEWAY, not QUARANTINED', async () => {
    const subnet = await createSubnet(db.ctx, {
      cidr: '10.73.0.0/24',
      space: newSpace(),
      reuseDelaySeconds: 300,
      allocationPools: [{ start: '10.73.0.10', end: '10.73.0.20' }],
    });
    await allocator.allocate(subnet.id, { ip: '10.73.0.50' });
    await allocator.release(subnet.id, '10.73.0.50');
    expect((await stateOf('10.73.0.50', subnet.space))?.state).toBe('QUARANTINED');
    await updateSubnet(db.ctx, subnet.id, { gatewayIp: '10.73.0.50' });
    const place = await stateOf('10.73.0.50', subnet.space);
    expect(place).toMatchObject({ state: 'GATEWAY', allocation: null });
    expect(place).not.toHaveProperty('availableAt');
  });
});

describe('An expired lease with a cool-down', () => {
  it('is QUARANTINED from its expiry for the delay, LEASE_EXPIRED after it', async () => {
    const subnet = await subnetOf('10.95.0.0/24', 300);
    const [lease] = await allocator.allocate(subnet.id, { ip: '10.95.0.30', ttlSeconds: 60 });
    expect(lease?.expiresAt).not.toBeNull();
    const expiry = Date.parse(lease?.expiresAt ?? '');
    expect((await stateOf('10.95.0.30', subnet.space))?.state).toBe('ALLOCATED');
    db.advance(61_000);
    const availableAt = iso(expiry + 300_000);
    expect(await stateOf('10.95.0.30', subnet.space)).toMatchObject({
      state: 'QUARANTINED',
      availableAt,
    });
    await expect(allocator.allocate(subnet.id, { ip: '10.95.0.30' })).rejects.toMatchObject({
      code: 'IP_QUARANTINED',
      details: { availableAt },
    });
    expect((await getSubnet(db.ctx, subnet.id)).usage).toMatchObject({
      allocated: 0,
      available: 252,
      quarantined: 1,
    });
    db.advance(300_000);
    expect((await stateOf('10.95.0.30', subnet.space))?.state).toBe('LEASE_EXPIRED');
    expect((await getSubnet(db.ctx, subnet.id)).usage).toMatchObject({
      allocated: 0,
      quarantined: 0,
    });
    expect((await allocator.allocate(subnet.id, { ip: '10.95.0.30' }))[0]?.expiresAt).toBeNull();
  });

  it('takes the delay in force at its expiry: a PATCH moves the cool-down of running leases', async () => {
    const subnet = await subnetOf('10.96.0.0/24', 0);
    const [lease] = await allocator.allocate(subnet.id, { ip: '10.96.0.40', ttlSeconds: 60 });
    const [other] = await allocator.allocate(subnet.id, { ip: '10.96.0.41', ttlSeconds: 600 });
    await updateSubnet(db.ctx, subnet.id, { reuseDelaySeconds: 200 });
    db.advance(61_000);
    await expect(allocator.allocate(subnet.id, { ip: '10.96.0.40' })).rejects.toMatchObject({
      code: 'IP_QUARANTINED',
      details: { availableAt: iso(Date.parse(lease?.expiresAt ?? '') + 200_000) },
    });
    // Back to 0 before .41 expires: it is free at its expiry, while .40 keeps the
    // cool-down that began under 200.
    await updateSubnet(db.ctx, subnet.id, { reuseDelaySeconds: 0 });
    db.advance(600_000);
    expect(Date.parse(other?.expiresAt ?? '')).toBeLessThan(db.ctx.now());
    expect((await stateOf('10.96.0.41', subnet.space))?.state).toBe('LEASE_EXPIRED');
    expect((await allocator.allocate(subnet.id, { ip: '10.96.0.41' }))[0]?.ip).toBe('10.96.0.41');
  });

  it('completes the rewrite of a PATCH cut short when the PATCH is sent again', async () => {
    const subnet = await subnetOf('10.92.0.0/24', 0);
    const [lease] = await allocator.allocate(subnet.id, { ip: '10.92.0.40', ttlSeconds: 600 });
    const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
    // The PATCH's own transaction commits; every write of its rewrite fails.
    injectFaults(client, [
      {
        command: 'TransactWriteItemsCommand',
        when: (call) => call >= 2,
        error: 'InternalServerError',
      },
    ]);
    const cut = { ...db.ctx, doc: createDocumentClient(client) };
    await expect(updateSubnet(cut, subnet.id, { reuseDelaySeconds: 300 })).rejects.toMatchObject({
      name: 'InternalServerError',
    });
    expect((await getSubnet(db.ctx, subnet.id)).reuseDelaySeconds).toBe(300);
    await updateSubnet(db.ctx, subnet.id, { reuseDelaySeconds: 300 });
    db.advance(601_000);
    await expect(allocator.allocate(subnet.id, { ip: '10.92.0.40' })).rejects.toMatchObject({
      code: 'IP_QUARANTINED',
      details: { availableAt: iso(Date.parse(lease?.expiresAt ?? '') + 300_000) },
    });
  });

  it('keeps a renewal after the PATCH on the new delay, and a cool-down begun before on the old', async () => {
    const subnet = await subnetOf('10.93.0.0/24', 100);
    await allocator.allocate(subnet.id, { ip: '10.93.0.41', ttlSeconds: 60 });
    db.advance(61_000); // .41's cool-down (100 s) has begun
    const [fresh] = await allocator.allocate(subnet.id, { ip: '10.93.0.42', ttlSeconds: 60 });
    await updateSubnet(db.ctx, subnet.id, { reuseDelaySeconds: 500 });
    const again = await allocator.update(subnet.id, '10.93.0.42', { ttlSeconds: 120 });
    db.advance(121_000);
    await expect(allocator.allocate(subnet.id, { ip: '10.93.0.42' })).rejects.toMatchObject({
      code: 'IP_QUARANTINED',
      details: { availableAt: iso(Date.parse(again.expiresAt ?? '') + 500_000) },
    });
    expect(fresh?.ip).toBe('10.93.0.42');
    // .41 expired under 100 and was free 100 s later, whatever the PATCH said.
    expect((await stateOf('10.93.0.41', subnet.space))?.state).toBe('LEASE_EXPIRED');
  });
});

describe('Delay 0', () => {
  it('frees at once and leaves no quarantine trace', async () => {
    const subnet = await subnetOf('10.97.0.0/24');
    await allocator.allocate(subnet.id, { ip: '10.97.0.50' });
    await allocator.release(subnet.id, '10.97.0.50');
    expect(await blockItem(subnet.id, subnet.cidr, '10.97.0.50')).not.toHaveProperty('q50');
    expect((await getSubnet(db.ctx, subnet.id)).usage).toEqual({
      total: 253,
      allocated: 0,
      available: 253,
      outsidePools: 0,
    });
    expect((await stateOf('10.97.0.50', subnet.space))?.state).toBe('FREE');
    expect((await allocator.allocate(subnet.id, { ip: '10.97.0.50' }))[0]?.ip).toBe('10.97.0.50');
  });
});

describe('The audit and quarantined addresses', () => {
  it('finds no drift and frees nothing early, however often it runs', async () => {
    // A table of its own: an audit reads the whole table.
    const auditDb = await createTestDb();
    const own = new TextAllocator(auditDb.ctx, { cacheMs: 0 });
    const subnet = await createSubnet(auditDb.ctx, {
      cidr: '10.98.0.0/24',
      space: newSpace(),
      reuseDelaySeconds: 86_400,
    });
    await own.allocate(subnet.id, { ip: '10.98.0.60' });
    await own.allocate(subnet.id, { ip: '10.98.0.61', ttlSeconds: 60 });
    await own.allocate(subnet.id, { ip: '10.98.0.62' });
    await own.release(subnet.id, '10.98.0.60');
    auditDb.advance(61_000); // .61 is now in its lease's cool-down
    const problems = (report: { findings: { type: string }[] }) =>
      report.findings.filter((f) => f.type !== 'HIGH_UTILIZATION');
    for (let run = 0; run < 3; run++) {
      const report = await runAudit(auditDb.ctx, { repair: true, gracePeriodMs: 0 });
      expect(problems(report)).toEqual([]);
      // Its utilisation counts what the subnet's usage counts: not the cool-downs.
      expect(report.utilization).toEqual([
        expect.objectContaining({ subnetId: subnet.id, allocated: 1 }),
      ]);
      auditDb.advance(20 * 60_000); // past the default grace period each time
    }
    for (const ip of ['10.98.0.60', '10.98.0.61']) {
      await expect(own.allocate(subnet.id, { ip })).rejects.toMatchObject({
        code: 'IP_QUARANTINED',
      });
    }
    expect((await getSubnet(auditDb.ctx, subnet.id)).usage).toMatchObject({
      allocated: 1,
      quarantined: 2,
    });
    // Past the cool-down they are ordinary expired offsets: the audit may sweep them,
    // and counts them as not allocated while it leaves them (repair off).
    auditDb.advance(86_400_000);
    const left = await runAudit(auditDb.ctx, { repair: false, gracePeriodMs: 0 });
    expect(left.findings.filter((f) => f.type === 'EXPIRED_LEASE')).toHaveLength(2);
    expect(left.utilization).toEqual([
      expect.objectContaining({ subnetId: subnet.id, allocated: 1 }),
    ]);
    await runAudit(auditDb.ctx, { repair: true, gracePeriodMs: 0 });
    expect((await getSubnet(auditDb.ctx, subnet.id)).usage).toMatchObject({
      allocated: 1,
      quarantined: 0,
    });
    expect(problems(await runAudit(auditDb.ctx, { repair: true, gracePeriodMs: 0 }))).toEqual([]);
    expect((await own.allocate(subnet.id, { ip: '10.98.0.60' }))[0]?.ip).toBe('10.98.0.60');
  });
});

describe('The audit taking back a lease its block lost', () => {
  it('restores the cool-down of a lease under a delay', async () => {
    const auditDb = await createTestDb();
    const own = new TextAllocator(auditDb.ctx, { cacheMs: 0 });
    const subnet = await createSubnet(auditDb.ctx, {
      cidr: '10.88.0.0/24',
      space: newSpace(),
      reuseDelaySeconds: 300,
    });
    const [lease] = await own.allocate(subnet.id, { ip: '10.88.0.64', ttlSeconds: 3600 });
    const expiry = Math.floor(Date.parse(lease?.expiresAt ?? '') / 1000);
    const pos = positionOf(geometryOf(parseCidr(subnet.cidr)), parseIp('10.88.0.64').value);
    // The block loses the offset (and its lease and cool-down attributes).
    await auditDb.ctx.doc.send(
      new UpdateCommand({
        TableName: auditDb.ctx.tableName,
        Key: keys.block(subnet.id, pos.shard, pos.block),
        UpdateExpression: 'DELETE u :o REMOVE x64, q64, t64',
        ExpressionAttributeValues: { ':o': new Set([64]) },
      }),
    );
    const report = await runAudit(auditDb.ctx, { repair: true, gracePeriodMs: 0 });
    // (The damage left the counter as it was: the audit also settles that, USAGE_DRIFT.)
    expect(report.findings.filter((f) => f.type === 'ALLOCATION_WITHOUT_BLOCK')).toEqual([
      expect.objectContaining({ ip: '10.88.0.64', repaired: true }),
    ]);
    const stored = await auditDb.ctx.doc.send(
      new GetCommand({
        TableName: auditDb.ctx.tableName,
        Key: keys.block(subnet.id, pos.shard, pos.block),
        ConsistentRead: true,
      }),
    );
    expect(stored.Item).toMatchObject({ x64: expiry + 300, q64: expiry });
    auditDb.advance(3_601_000);
    await expect(own.allocate(subnet.id, { ip: '10.88.0.64' })).rejects.toMatchObject({
      code: 'IP_QUARANTINED',
    });
  });
});
