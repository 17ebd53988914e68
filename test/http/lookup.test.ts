/**
 * `GET /addresses/{ip}` (what holds an address, in every space or one) and
 * `GET /allocations?macAddress=` on the real local server.
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

async function subnet(body: Record<string, unknown>): Promise<string> {
  const created = await call('POST', '/subnets', body);
  expect(created.status).toBe(201);
  return created.body.id as string;
}

describe('GET /addresses/{ip}', () => {
  it('answers every containing subnet across spaces with the state there', async () => {
    const a = await subnet({
      cidr: '10.81.0.0/24',
      space: 'look-a',
      allocationPools: [{ start: '10.81.0.10', end: '10.81.0.100' }],
    });
    const b = await subnet({ cidr: '10.81.0.0/16', space: 'look-b' });
    expect(
      (await call('POST', `/subnets/${a}/allocations`, { ip: '10.81.0.5', owner: 'x' })).status,
    ).toBe(201);
    const both = await call('GET', '/addresses/10.81.0.5');
    expect(both.status).toBe(200);
    const mine = both.body.items.filter((item: { space: string }) =>
      item.space.startsWith('look-'),
    );
    expect(mine).toMatchObject([
      {
        space: 'look-a',
        subnetId: a,
        cidr: '10.81.0.0/24',
        state: 'ALLOCATED',
        inPools: false,
        allocation: { ip: '10.81.0.5', owner: 'x', createdBy: 'local' },
      },
      {
        space: 'look-b',
        subnetId: b,
        cidr: '10.81.0.0/16',
        state: 'FREE',
        inPools: true,
        allocation: null,
      },
    ]);
    const only = await call('GET', '/addresses/10.81.0.5?space=look-b');
    expect(only.body.items.map((item: { subnetId: string }) => item.subnetId)).toEqual([b]);
    const states = async (ip: string) =>
      (await call('GET', `/addresses/${ip}?space=look-a`)).body.items.map(
        (item: { state: string }) => item.state,
      );
    expect(await states('10.81.0.1')).toEqual(['GATEWAY']);
    expect(await states('10.81.0.0')).toEqual(['RESERVED']);
    expect(await states('10.81.0.255')).toEqual(['RESERVED']);
    expect(await states('10.81.0.50')).toEqual(['FREE']);
    expect(await states('10.81.0.200')).toEqual(['OUTSIDE_POOLS']);
    expect(await states('10.82.0.1')).toEqual([]);
  });

  it('answers no items for an address no subnet holds, 400 INVALID_IP for a bad one', async () => {
    expect(await call('GET', '/addresses/192.0.2.77?space=look-none')).toMatchObject({
      status: 200,
      body: { items: [] },
    });
    const bad = await call('GET', '/addresses/10.1.2.300');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_IP');
  });
});

describe('GET /allocations?macAddress=', () => {
  it('lists the allocations made for a MAC in any of its forms, lowercase colon', async () => {
    const v6a = await subnet({ cidr: '2001:db8:81::/64', space: 'mac-a' });
    const v6b = await subnet({ cidr: '2001:db8:82::/64', space: 'mac-b' });
    await subnet({ cidr: '10.84.0.0/24', space: 'mac-c' });
    for (const id of [v6a, v6b]) {
      const made = await call('POST', `/subnets/${id}/allocations`, {
        macAddress: '00:1A:2B:3C:4D:5E',
      });
      expect(made.status).toBe(201);
    }
    for (const form of ['00:1a:2b:3c:4d:5e', '00-1A-2B-3C-4D-5E', '001a.2b3c.4d5e']) {
      const listed = await call('GET', `/allocations?macAddress=${form}`);
      expect(listed.status).toBe(200);
      expect(
        listed.body.items
          .map((item: { subnetId: string; macAddress: string }) => [item.subnetId, item.macAddress])
          .sort(),
      ).toEqual(
        [
          [v6a, '00:1a:2b:3c:4d:5e'],
          [v6b, '00:1a:2b:3c:4d:5e'],
        ].sort(),
      );
    }
    const first = await call('GET', '/allocations?macAddress=00:1a:2b:3c:4d:5e&limit=1');
    expect(first.body.items).toHaveLength(1);
    const rest = await call(
      'GET',
      `/allocations?macAddress=00:1a:2b:3c:4d:5e&limit=1&cursor=${first.body.nextCursor}`,
    );
    expect(
      [...first.body.items, ...rest.body.items]
        .map((item: { subnetId: string }) => item.subnetId)
        .sort(),
    ).toEqual([v6a, v6b].sort());
    expect((await call('GET', '/allocations?macAddress=02:00:00:00:00:01')).body.items).toEqual([]);
  });

  it('400 INVALID_MAC for a malformed MAC, VALIDATION_ERROR unless exactly one filter', async () => {
    const bad = await call('GET', '/allocations?macAddress=001a2b3c4d5e');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_MAC');
    for (const query of ['', '?owner=a&macAddress=00:1a:2b:3c:4d:5e']) {
      const refused = await call('GET', `/allocations${query}`);
      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe('VALIDATION_ERROR');
    }
  });
});
