/**
 * Release cool-down over HTTP (API.md "Release cool-down"): `reuseDelaySeconds` on
 * POST and PATCH with its range checked (400 VALIDATION_ERROR), shown in the view;
 * a specific request for a quarantined address → 409 IP_QUARANTINED with
 * `details.availableAt`; `usage.quarantined`; the lookup's QUARANTINED state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type RunningServer, startServer } from '../support/server.js';

let server: RunningServer;
let spaceCounter = 0;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

const call = (method: string, path: string, body?: unknown) => api(server.url, method, path, body);
const space = () => `cool-http-${++spaceCounter}`;

describe('reuseDelaySeconds', () => {
  it.each([
    ['negative', -1],
    ['over a day', 86_401],
    ['fractional', 2.5],
    ['a string', '60'],
  ])('refuses a %s value on POST and PATCH with 400 naming the range', async (_what, value) => {
    const created = await call('POST', '/subnets', {
      cidr: '10.60.0.0/24',
      space: space(),
      reuseDelaySeconds: value,
    });
    expect(created.status).toBe(400);
    expect(created.body).toMatchObject({
      error: { code: 'VALIDATION_ERROR', message: expect.stringContaining('0 to 86400') },
    });
    const subnet = await call('POST', '/subnets', { cidr: '10.60.0.0/24', space: space() });
    const id = (subnet.body as { id: string }).id;
    const patched = await call('PATCH', `/subnets/${id}`, { reuseDelaySeconds: value });
    expect(patched.status).toBe(400);
    expect(patched.body).toMatchObject({
      error: { code: 'VALIDATION_ERROR', message: expect.stringContaining('0 to 86400') },
    });
  });

  it('is 0 by default, set by POST and PATCH, and shown in the view', async () => {
    const plain = await call('POST', '/subnets', { cidr: '10.61.0.0/24', space: space() });
    expect(plain.body).toMatchObject({ reuseDelaySeconds: 0 });
    expect((plain.body as { usage: object }).usage).not.toHaveProperty('quarantined');
    const id = (plain.body as { id: string }).id;
    const patched = await call('PATCH', `/subnets/${id}`, { reuseDelaySeconds: 86_400 });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ reuseDelaySeconds: 86_400, usage: { quarantined: 0 } });
    const fetched = await call('GET', `/subnets/${id}`);
    expect(fetched.body).toMatchObject({ reuseDelaySeconds: 86_400 });
  });
});

describe('A quarantined address', () => {
  it('answers 409 IP_QUARANTINED with details.availableAt, and shows in usage and lookup', async () => {
    const name = space();
    const created = await call('POST', '/subnets', {
      cidr: '10.62.0.0/24',
      space: name,
      reuseDelaySeconds: 3600,
    });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    expect((await call('POST', `/subnets/${id}/allocations`, { ip: '10.62.0.9' })).status).toBe(
      201,
    );
    const before = Date.now();
    expect((await call('DELETE', `/subnets/${id}/allocations/10.62.0.9`)).status).toBe(204);
    const after = Date.now();

    const refused = await call('POST', `/subnets/${id}/allocations`, { ip: '10.62.0.9' });
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({
      error: {
        code: 'IP_QUARANTINED',
        message: expect.stringContaining('cool-down until'),
        details: { ip: '10.62.0.9', availableAt: expect.any(String) },
      },
    });
    const { availableAt } = (refused.body as { error: { details: { availableAt: string } } }).error
      .details;
    expect(new Date(availableAt).toISOString()).toBe(availableAt);
    const at = Date.parse(availableAt);
    expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3_600_000);
    expect(at).toBeLessThanOrEqual(after + 3_600_000);
    expect((refused.body as { error: { message: string } }).error.message).toContain(availableAt);

    const subnet = await call('GET', `/subnets/${id}`);
    expect(subnet.body).toMatchObject({
      usage: { total: 253, allocated: 0, available: 252, quarantined: 1 },
    });
    const lookup = await call('GET', `/addresses/10.62.0.9?space=${name}`);
    expect(lookup.body).toEqual({
      items: [
        {
          space: name,
          subnetId: id,
          cidr: '10.62.0.0/24',
          state: 'QUARANTINED',
          inPools: true,
          allocation: null,
          availableAt,
        },
      ],
    });
  });
});
