/**
 * List cursors are bound to the list that returned them: a cursor from another
 * list (another owner, subnet, space, or the pools list) or a tampered one is
 * `400 VALIDATION_ERROR` on `cursor`, never a 500 or a silently wrong page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type RunningServer, startServer } from '../support/server.js';

let server: RunningServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

const call = (method: string, path: string, body?: unknown) => api(server.url, method, path, body);

async function subnetIn(space: string, cidr: string): Promise<string> {
  const created = await call('POST', '/subnets', { cidr, space });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

async function allocate(subnetId: string, owner: string, count: number): Promise<void> {
  const response = await call('POST', `/subnets/${subnetId}/allocations`, {
    count,
    owner,
    strategy: 'sequential',
  });
  expect(response.status).toBe(201);
}

/** The nextCursor of the first page of `path` (with limit 1), which must have one. */
async function cursorOf(path: string): Promise<string> {
  const page = await call('GET', `${path}${path.includes('?') ? '&' : '?'}limit=1`);
  expect(page.status).toBe(200);
  expect(page.body.nextCursor).toEqual(expect.any(String));
  return page.body.nextCursor as string;
}

async function expectCursorRejected(path: string, cursor: string) {
  const separator = path.includes('?') ? '&' : '?';
  const response = await call('GET', `${path}${separator}cursor=${encodeURIComponent(cursor)}`);
  expect({ status: response.status, body: response.body }).toEqual({
    status: 400,
    body: {
      error: {
        code: 'VALIDATION_ERROR',
        message: expect.any(String),
        details: { field: 'cursor' },
      },
    },
  });
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (cursor: string) =>
  JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;

/** Every string of a decoded cursor with `from` replaced by `to` (a tampered cursor). */
function replaced(cursor: string, from: string, to: string): string {
  return encode(JSON.parse(JSON.stringify(decode(cursor)).split(from).join(to)));
}

let spaceA: string;
let spaceB: string;
let subnetA: string;
let subnetB: string;
let ownerBase: string;

beforeAll(async () => {
  spaceA = `cursor-a-${Date.now()}`;
  spaceB = `cursor-b-${Date.now()}`;
  subnetA = await subnetIn(spaceA, '10.1.0.0/24');
  await subnetIn(spaceA, '10.1.1.0/24');
  subnetB = await subnetIn(spaceB, '10.1.0.0/24');
  await subnetIn(spaceB, '10.1.1.0/24');
  const base = `o-${Date.now()}`;
  await allocate(subnetA, `${base}-alice`, 3);
  await allocate(subnetA, `${base}-bob`, 3);
  await allocate(subnetB, `${base}-alice`, 3);
  await allocate(subnetB, `${base}-bob`, 3);
  for (const prefix of ['10.200.0.0/16', '10.201.0.0/16']) {
    const pool = await call('POST', '/subnet-pools', { prefixes: [prefix], space: `${spaceA}-p` });
    expect(pool.status).toBe(201);
  }
  ownerBase = base;
});

const owner = (who: string) => `${ownerBase}-${who}`;

describe('List cursors', () => {
  it('still page every list with its own cursor', async () => {
    for (const path of [
      `/subnets?space=${spaceA}`,
      `/subnets/${subnetA}/allocations`,
      `/subnets/${subnetA}/allocations?owner=${owner('alice')}`,
      `/allocations?owner=${owner('alice')}`,
      '/subnet-pools',
    ]) {
      const cursor = await cursorOf(path);
      const next = await call(
        'GET',
        `${path}${path.includes('?') ? '&' : '?'}limit=1&cursor=${cursor}`,
      );
      expect(next.status, path).toBe(200);
      expect(next.body.items, path).toHaveLength(1);
    }
  });

  describe('refuse a cursor from another list with 400 VALIDATION_ERROR on cursor', () => {
    it('a subnet list of another space, and the pools list, on GET /subnets?space=', async () => {
      await expectCursorRejected(
        `/subnets?space=${spaceB}`,
        await cursorOf(`/subnets?space=${spaceA}`),
      );
      await expectCursorRejected(`/subnets?space=${spaceA}`, await cursorOf('/subnet-pools'));
      await expectCursorRejected('/subnets', await cursorOf(`/subnets?space=${spaceA}`));
    });

    it("another subnet's allocation list on GET /subnets/{id}/allocations", async () => {
      await expectCursorRejected(
        `/subnets/${subnetB}/allocations`,
        await cursorOf(`/subnets/${subnetA}/allocations`),
      );
    });

    it('an owner list on the unfiltered allocation list, and the other way round', async () => {
      await expectCursorRejected(
        `/subnets/${subnetA}/allocations`,
        await cursorOf(`/subnets/${subnetA}/allocations?owner=${owner('alice')}`),
      );
      await expectCursorRejected(
        `/subnets/${subnetA}/allocations?owner=${owner('alice')}`,
        await cursorOf(`/subnets/${subnetA}/allocations`),
      );
    });

    it("another owner's or another subnet's owner list on ?owner=", async () => {
      await expectCursorRejected(
        `/subnets/${subnetA}/allocations?owner=${owner('bob')}`,
        await cursorOf(`/subnets/${subnetA}/allocations?owner=${owner('alice')}`),
      );
      await expectCursorRejected(
        `/subnets/${subnetB}/allocations?owner=${owner('alice')}`,
        await cursorOf(`/subnets/${subnetA}/allocations?owner=${owner('alice')}`),
      );
      await expectCursorRejected(
        `/allocations?owner=${owner('bob')}`,
        await cursorOf(`/allocations?owner=${owner('alice')}`),
      );
      await expectCursorRejected(
        `/allocations?owner=${owner('alice')}`,
        await cursorOf(`/subnets/${subnetA}/allocations?owner=${owner('alice')}`),
      );
    });

    it('a subnet list on GET /subnet-pools', async () => {
      await expectCursorRejected('/subnet-pools', await cursorOf(`/subnets?space=${spaceA}`));
      await expectCursorRejected(
        '/subnet-pools',
        await cursorOf(`/subnets/${subnetA}/allocations`),
      );
    });
  });

  describe('refuse a tampered cursor (valid base64url JSON, foreign keys) with 400', () => {
    it('on the subnet list', async () => {
      const cursor = await cursorOf(`/subnets?space=${spaceA}`);
      await expectCursorRejected(`/subnets?space=${spaceA}`, replaced(cursor, 'SUBNETS', 'POOLS'));
      await expectCursorRejected(`/subnets?space=${spaceA}`, replaced(cursor, spaceA, spaceB));
      await expectCursorRejected(`/subnets?space=${spaceA}`, replaced(cursor, 'SUBNET#', 'POOL#'));
    });

    it("on a subnet's allocation list", async () => {
      const path = `/subnets/${subnetA}/allocations`;
      const cursor = await cursorOf(path);
      await expectCursorRejected(path, replaced(cursor, 'IP#', 'BLOCK#'));
      // A /24 has one shard (0): shard 1 is past the end, not an empty last page.
      await expectCursorRejected(path, replaced(cursor, '"shard":"0"', '"shard":"1"'));
      await expectCursorRejected(path, replaced(cursor, '"shard":"0"', '"shard":"-1"'));
      await expectCursorRejected(path, replaced(cursor, 'IP#0a01', 'IP#0b01'));
    });

    it('on the owner lists', async () => {
      const mine = `/subnets/${subnetA}/allocations?owner=${owner('alice')}`;
      const cursor = await cursorOf(mine);
      await expectCursorRejected(mine, replaced(cursor, owner('alice'), owner('bob')));
      await expectCursorRejected(mine, replaced(cursor, `SUBNET#${subnetA}`, `SUBNET#${subnetB}`));
      const all = `/allocations?owner=${owner('alice')}`;
      const global = await cursorOf(all);
      await expectCursorRejected(all, replaced(global, 'OWNER#', 'SUBNETS'));
      await expectCursorRejected(all, replaced(global, 'IP#', 'BLOCK#'));
    });

    it('on the pools list', async () => {
      const cursor = await cursorOf('/subnet-pools');
      await expectCursorRejected('/subnet-pools', replaced(cursor, 'POOLS', 'SUBNETS'));
      await expectCursorRejected('/subnet-pools', replaced(cursor, 'POOL#', 'SUBNET#'));
      // The table key no longer names the pool the index key names.
      await expectCursorRejected('/subnet-pools', replaced(cursor, 'POOL#pool_', 'POOL#pool_x'));
    });
  });
});
