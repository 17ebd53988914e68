/**
 * The history routes on the real local server, whose in-process stream poller
 * writes the entries; IPAM_EVENTS=log prints each event on stderr.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiResponse, api, type RunningServer, startServer } from '../support/server.js';

let server: RunningServer;
let stderr = '';
beforeAll(async () => {
  server = await startServer({ history: true, env: { IPAM_EVENTS: 'log' } });
  server.process.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
});
afterAll(async () => {
  await server.stop();
});

const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  api(server.url, method, path, body, headers);

/** Reads `path` until it lists `count` items (bounded: 30 s), then once more to see no more come. */
async function listed(path: string, count: number): Promise<ApiResponse> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await call('GET', path);
    if (response.status !== 200 || response.body.items.length >= count || Date.now() > deadline)
      return response;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('HTTP history', () => {
  it('shows one entry per change of an address, newest first, after its release', async () => {
    const subnet = await call('POST', '/subnets', { cidr: '10.9.0.0/24', space: 'hist-http' });
    const id = subnet.body.id as string;
    const allocated = await call('POST', `/subnets/${id}/allocations`, {
      ip: '10.9.0.5',
      owner: 'vm-1',
    });
    expect(allocated.status).toBe(201);
    await call('PATCH', `/subnets/${id}/allocations/10.9.0.5`, { owner: 'vm-2' });
    await call('PATCH', `/subnets/${id}/allocations/10.9.0.5`, { ttlSeconds: 600 });
    expect((await call('DELETE', `/subnets/${id}/allocations/10.9.0.5`)).status).toBe(204);
    // Refused requests make no entry.
    expect((await call('DELETE', `/subnets/${id}/allocations/10.9.0.5`)).status).toBe(404);
    const history = await listed(`/subnets/${id}/allocations/10.9.0.5/history`, 4);
    expect(history.status).toBe(200);
    expect(history.body.items.map((entry: { action: string }) => entry.action)).toEqual([
      'RELEASED',
      'RENEWED',
      'UPDATED',
      'ALLOCATED',
    ]);
    expect(Object.keys(history.body.items[0]).sort()).toEqual(
      ['action', 'actor', 'after', 'at', 'before', 'owner', 'requestId'].sort(),
    );
    expect(history.body.nextCursor).toBeNull();
    // The same address, URL-encoded or not, and paged.
    const first = await call('GET', `/subnets/${id}/allocations/10.9.0.5/history?limit=3`);
    expect(first.body.items).toEqual(history.body.items.slice(0, 3));
    const rest = await call(
      'GET',
      `/subnets/${id}/allocations/10.9.0.5/history?limit=3&cursor=${first.body.nextCursor}`,
    );
    expect(rest.body).toEqual({ items: history.body.items.slice(3), nextCursor: null });
    const subnetHistory = await listed(`/subnets/${id}/history`, 1);
    expect(subnetHistory.body.items).toMatchObject([
      { action: 'SUBNET_CREATED', owner: null, before: null },
    ]);
    // Each change was printed once as an event.
    const events = stderr
      .split('\n')
      .filter((line) => line.startsWith('{"source":"ipam"'))
      .map((line) => JSON.parse(line));
    const mine = events.filter((event) => event.detail.ip === '10.9.0.5');
    expect(mine.map((event) => event['detail-type'])).toEqual([
      'Allocation Created',
      'Allocation Updated',
      'Allocation Renewed',
      'Allocation Released',
    ]);
    expect(mine[0].detail).toMatchObject({ subnetId: id, cidr: '10.9.0.0/24', space: 'hist-http' });
  });

  it('never answers 404; an unparseable address is INVALID_IP, a malformed id or cursor VALIDATION_ERROR', async () => {
    // Well-formed, but no subnet ever had it: an empty history, not a 404.
    const missing = `sub_${'m'.repeat(22)}`;
    const none = await call('GET', `/subnets/${missing}/allocations/2001%3Adb8%3A%3A5/history`);
    expect(none.status).toBe(200);
    expect(none.body).toEqual({ items: [], nextCursor: null });
    expect((await call('GET', `/subnets/${missing}/history`)).body).toEqual({
      items: [],
      nextCursor: null,
    });
    const bad = await call('GET', `/subnets/${missing}/allocations/010.0.0.7/history`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_IP');
    const cursor = await call('GET', `/subnets/${missing}/history?cursor=nope`);
    expect(cursor.body.error.code).toBe('VALIDATION_ERROR');
    expect((await call('GET', `/subnets/${missing}/history?limit=0`)).status).toBe(400);
    expect((await call('POST', `/subnets/${missing}/history`)).status).toBe(405);
    for (const path of [
      '/subnets/sub_missing/history',
      '/subnets/web/allocations/10.0.0.7/history',
    ]) {
      const malformed = await call('GET', path);
      expect(malformed.status, path).toBe(400);
      expect(malformed.body.error).toMatchObject({
        code: 'VALIDATION_ERROR',
        details: { field: 'subnetId' },
      });
    }
  });
});
