/**
 * Moving the gateway is fenced in the PATCH's own transaction: an allocation of
 * the new gateway address either commits first (and the PATCH answers
 * IP_ALREADY_ALLOCATED) or meets the moved subnet (and answers IP_RESERVED) —
 * never both. Each test forces one order: another writer runs just before, or
 * just after, the PATCH's first write.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { IpAlreadyAllocatedError, IpReservedError } from '../../shared/errors.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import { createSubnet, getSubnet, updateSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, storedItems, type TestDb } from '../support/dynamo.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;

beforeAll(async () => {
  db = await createTestDb();
});

const WRITES = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'TransactWriteItemsCommand',
]);

/** A context that runs `between` once, just before (or just after) its first write. */
function aroundFirstWrite(between: () => Promise<void>, when: 'before' | 'after'): IpamContext {
  const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  let pending = true;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!pending || !WRITES.has(String(context.commandName))) return next(args);
      pending = false;
      if (when === 'before') {
        await between();
        return next(args);
      }
      const result = await next(args);
      await between();
      return result;
    },
    { step: 'initialize', name: 'aroundFirstWrite' },
  );
  return { ...db.ctx, doc: createDocumentClient(client) };
}

async function subnetIn(cidr: string) {
  return createSubnet(db.ctx, {
    cidr,
    space: `s${Math.random().toString(36).slice(2)}`,
    allocationPools: [{ start: cidr.replace(/0\/24$/, '10'), end: cidr.replace(/0\/24$/, '20') }],
  });
}

describe('a PATCH moving the gateway, raced by an allocation of the new gateway address', () => {
  it('answers IP_ALREADY_ALLOCATED when the allocation commits between its check and its write', async () => {
    const subnet = await subnetIn('10.60.0.0/24');
    const other = new TextAllocator(db.ctx);
    const patching = aroundFirstWrite(async () => {
      await other.allocate(subnet.id, { ip: '10.60.0.200', owner: 'lb' });
    }, 'before');
    await expect(
      updateSubnet(patching, subnet.id, { gatewayIp: '10.60.0.200' }),
    ).rejects.toMatchObject({
      code: 'IP_ALREADY_ALLOCATED',
      details: { ip: '10.60.0.200', owner: 'lb' },
    });
    expect((await getSubnet(db.ctx, subnet.id)).gatewayIp).toBe('10.60.0.1');
    expect((await other.get(subnet.id, '10.60.0.200')).owner).toBe('lb');
  });

  it('refuses, as the gateway, an allocation from an allocator that still holds the old subnet', async () => {
    const subnet = await subnetIn('10.61.0.0/24');
    // This allocator has read the subnet (gateway .1) before the PATCH.
    const stale = new TextAllocator(db.ctx);
    await stale.allocate(subnet.id, { ip: '10.61.0.100' });
    let raced: unknown;
    const patching = aroundFirstWrite(async () => {
      raced = await stale.allocate(subnet.id, { ip: '10.61.0.200' }).catch((error) => error);
    }, 'after');
    const patched = await updateSubnet(patching, subnet.id, { gatewayIp: '10.61.0.200' });
    expect(patched.gatewayIp).toBe('10.61.0.200');
    expect(raced).toBeInstanceOf(IpReservedError);
    const held = (await storedItems(db.ctx, 'allocation', subnet.id)).map((item) => item.ip);
    expect(held).toEqual(['10.61.0.100']);
  });

  it('moves the gateway onto an expired lease (free by its expiry)', async () => {
    const subnet = await subnetIn('10.62.0.0/24');
    const allocator = new TextAllocator(db.ctx);
    await allocator.allocate(subnet.id, { ip: '10.62.0.200', ttlSeconds: 60 });
    await expect(
      updateSubnet(db.ctx, subnet.id, { gatewayIp: '10.62.0.200' }),
    ).rejects.toBeInstanceOf(IpAlreadyAllocatedError);
    db.advance(61_000);
    try {
      const patched = await updateSubnet(db.ctx, subnet.id, { gatewayIp: '10.62.0.200' });
      expect(patched.gatewayIp).toBe('10.62.0.200');
    } finally {
      db.advance(-61_000);
    }
  });
});
