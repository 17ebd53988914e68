/**
 * `GET /subnets/{subnetId}/map` on the real local server, with its stream poller
 * (cells of a block or more come from the summaries it keeps): the response shape
 * exactly as the OpenAPI document states it, zooming, and the 400s and 404.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subnetMapResponse } from '../../functions/http/schemas.js';
import { api, type RunningServer, startServer } from '../support/server.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ history: true });
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

/** The documented shape, and nothing else: parsing strips no field. */
function expectDocumented(body: unknown): void {
  expect(subnetMapResponse.parse(body)).toEqual(body);
}

describe('GET /subnets/{subnetId}/map', () => {
  it('draws a /24 as 256 cells of one address, each with its state', async () => {
    const id = await subnet({ cidr: '10.91.0.0/24', space: 'map-http-24' });
    expect((await call('POST', `/subnets/${id}/allocations`, { ip: '10.91.0.9' })).status).toBe(
      201,
    );
    const map = await call('GET', `/subnets/${id}/map`);
    expect(map.status).toBe(200);
    expectDocumented(map.body);
    expect(map.body).toMatchObject({ subnetId: id, cidr: '10.91.0.0/24', cell: null, cellSize: 1 });
    expect(map.body.cells).toHaveLength(256);
    expect(map.body.cells[9]).toEqual({
      index: 9,
      first: '10.91.0.9',
      last: '10.91.0.9',
      allocated: 1,
      leased: 0,
      quarantined: 0,
      free: 0,
      state: 'ALLOCATED',
    });
    expect(map.body.cells[1].state).toBe('GATEWAY');
  });

  it('draws a /16 from the summaries and zooms into one block', { timeout: 60_000 }, async () => {
    const id = await subnet({ cidr: '10.92.0.0/16', space: 'map-http-16' });
    for (const ip of ['10.92.5.1', '10.92.5.2']) {
      expect(
        (await call('POST', `/subnets/${id}/allocations`, { ip, ttlSeconds: 3600 })).status,
      ).toBe(201);
    }
    // The summaries follow the stream: wait (bounded) until the poller has written them.
    let top = await call('GET', `/subnets/${id}/map`);
    for (let i = 0; i < 100 && top.body.cells[5].leased !== 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      top = await call('GET', `/subnets/${id}/map`);
    }
    expect(top.status).toBe(200);
    expectDocumented(top.body);
    expect(top.body.cellSize).toBe(256);
    expect(top.body.cells[5]).toEqual({
      index: 5,
      first: '10.92.5.0',
      last: '10.92.5.255',
      allocated: 0,
      leased: 2,
      quarantined: 0,
      free: 254,
    });
    const zoom = await call('GET', `/subnets/${id}/map?cell=5`);
    expect(zoom.status).toBe(200);
    expectDocumented(zoom.body);
    expect(zoom.body.cell).toBe('5');
    expect(zoom.body.cells[2]).toMatchObject({ first: '10.92.5.2', leased: 1, state: 'ALLOCATED' });
  });

  it('answers 400 VALIDATION_ERROR for a bad path, 404 for an unknown subnet', async () => {
    const id = await subnet({ cidr: '10.93.0.0/20', space: 'map-http-20' });
    for (const cell of ['256', '3.15', '3.1.0', '03', '3.', 'x', '-1', '']) {
      const answer = await call('GET', `/subnets/${id}/map?cell=${cell}`);
      expect(answer.status, cell).toBe(400);
      expect(answer.body.error.code).toBe('VALIDATION_ERROR');
      expect(answer.body.error.message).toMatch(/cell/);
    }
    expect((await call('GET', `/subnets/${id}/map?cell=255`)).status).toBe(200);
    expect((await call('GET', `/subnets/${id}/map?zoom=1`)).body.error.code).toBe(
      'VALIDATION_ERROR',
    );
    const unknown = await call('GET', '/subnets/sub_nope/map');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('SUBNET_NOT_FOUND');
    expect((await call('POST', `/subnets/${id}/map`, {})).status).toBe(405);
  });

  it('is in the OpenAPI document with its query and response', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    const operation = doc.paths['/subnets/{subnetId}/map'].get;
    expect(operation.operationId).toBe('subnetMap');
    expect(operation.parameters.map((p: { name: string }) => p.name)).toEqual(['subnetId', 'cell']);
    const cell = operation.responses['200'].content['application/json'].schema.properties.cells;
    expect(Object.keys(cell.items.properties)).toEqual([
      'index',
      'first',
      'last',
      'allocated',
      'leased',
      'quarantined',
      'free',
      'state',
    ]);
    expect(operation.responses['400']['x-error-codes']).toContain('VALIDATION_ERROR');
    expect(operation.responses['404']['x-error-codes']).toContain('SUBNET_NOT_FOUND');
  });
});
