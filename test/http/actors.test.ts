/**
 * Actors on the real local server: who made each write (X-Ipam-Actor, honoured by the
 * local server only; "local" without it), on the allocation views and in the history,
 * with the X-Request-Id of the response that made the change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiResponse, api, type RunningServer, startServer } from '../support/server.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ history: true });
});
afterAll(async () => {
  await server.stop();
});

const call = (method: string, path: string, body?: unknown, actor?: string) =>
  api(server.url, method, path, body, actor === undefined ? {} : { 'X-Ipam-Actor': actor });

/** Reads `path` until it lists `count` items (bounded: 30 s). */
async function listed(path: string, count: number): Promise<ApiResponse> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await call('GET', path);
    if (response.status !== 200 || response.body.items.length >= count || Date.now() > deadline)
      return response;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const requestIdOf = (response: ApiResponse) => response.headers.get('x-request-id');

/** The history at `path` (once it lists `count` entries) as [action, actor, requestId]. */
async function whoDid(path: string, count: number): Promise<unknown[][]> {
  const history = await listed(path, count);
  return history.body.items.map((entry: Record<string, unknown>) => [
    entry.action,
    entry.actor,
    entry.requestId,
  ]);
}

describe('HTTP actors', () => {
  it('records who allocated and who changed an allocation, and their request ids', async () => {
    const subnet = await call('POST', '/subnets', { cidr: '10.61.0.0/24', space: 'actors' });
    const id = subnet.body.id as string;
    const allocated = await call(
      'POST',
      `/subnets/${id}/allocations`,
      { ip: '10.61.0.5', owner: 'vm-1' },
      'alice',
    );
    expect(allocated.status).toBe(201);
    expect(allocated.body.allocations[0]).toMatchObject({ createdBy: 'alice', updatedBy: 'alice' });
    const patched = await call(
      'PATCH',
      `/subnets/${id}/allocations/10.61.0.5`,
      { owner: 'vm-2' },
      'bob',
    );
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ createdBy: 'alice', updatedBy: 'bob' });
    const read = await call('GET', `/subnets/${id}/allocations/10.61.0.5`);
    expect(read.body).toMatchObject({ owner: 'vm-2', createdBy: 'alice', updatedBy: 'bob' });

    expect(await whoDid(`/subnets/${id}/allocations/10.61.0.5/history`, 2)).toEqual([
      ['UPDATED', 'bob', requestIdOf(patched)],
      ['ALLOCATED', 'alice', requestIdOf(allocated)],
    ]);
    expect(requestIdOf(allocated)).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('records who released an address, a guarded release too, and their request ids', async () => {
    const subnet = await call('POST', '/subnets', { cidr: '10.63.0.0/24', space: 'actors' });
    const id = subnet.body.id as string;
    await call('POST', `/subnets/${id}/allocations`, { ip: '10.63.0.5', owner: 'vm-1' }, 'alice');
    await call('POST', `/subnets/${id}/allocations`, { ip: '10.63.0.6', owner: 'vm-2' }, 'alice');
    const released = await call(
      'DELETE',
      `/subnets/${id}/allocations/10.63.0.5`,
      undefined,
      'erin',
    );
    expect(released.status).toBe(204);
    const guarded = await call(
      'DELETE',
      `/subnets/${id}/allocations/10.63.0.6?owner=vm-2`,
      undefined,
      'frank',
    );
    expect(guarded.status).toBe(204);
    for (const [ip, actor, response] of [
      ['10.63.0.5', 'erin', released],
      ['10.63.0.6', 'frank', guarded],
    ] as const) {
      expect(await whoDid(`/subnets/${id}/allocations/${ip}/history`, 2)).toEqual([
        ['RELEASED', actor, requestIdOf(response)],
        ['ALLOCATED', 'alice', expect.any(String)],
      ]);
    }
  });

  it('names the caller "local" without X-Ipam-Actor, and records who deleted a subnet', async () => {
    const subnet = await call('POST', '/subnets', { cidr: '10.62.0.0/24', space: 'actors' });
    const id = subnet.body.id as string;
    const allocated = await call('POST', `/subnets/${id}/allocations`, { ip: '10.62.0.7' });
    expect(allocated.body.allocations[0]).toMatchObject({ createdBy: 'local', updatedBy: 'local' });
    expect((await call('DELETE', `/subnets/${id}/allocations/10.62.0.7`)).status).toBe(204);
    const renamed = await call('PATCH', `/subnets/${id}`, { name: 'old' }, 'carol');
    const deleted = await call('DELETE', `/subnets/${id}`, undefined, 'dave');
    expect(deleted.status).toBe(204);
    expect(await whoDid(`/subnets/${id}/history`, 3)).toEqual([
      ['SUBNET_DELETED', 'dave', requestIdOf(deleted)],
      ['SUBNET_UPDATED', 'carol', requestIdOf(renamed)],
      ['SUBNET_CREATED', 'local', requestIdOf(subnet)],
    ]);
  });
});
