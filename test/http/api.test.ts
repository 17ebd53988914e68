import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATUS_BY_CODE } from '../../functions/http/errors.js';
import { ROUTES } from '../../functions/http/routes.js';
import { api, type RunningServer, startServer } from '../support/server.js';

let server: RunningServer;
let url: string;
let spaceCounter = 0;

beforeAll(async () => {
  server = await startServer();
  url = server.url;
});
afterAll(async () => {
  await server.stop();
});

const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  api(url, method, path, body, headers);

async function newSubnet(body: Record<string, unknown>) {
  spaceCounter++;
  const response = await call('POST', '/subnets', { space: `http-${spaceCounter}`, ...body });
  expect(response.status).toBe(201);
  return response.body as { id: string; cidr: string };
}

function expectError(
  response: { status: number; body: unknown; headers: Headers },
  status: number,
  code: string,
) {
  expect(response.status).toBe(status);
  expect(response.body).toEqual({
    error: { code, message: expect.any(String), details: expect.any(Object) },
  });
  expect(response.headers.get('x-request-id')).toMatch(/[0-9a-f-]{36}/);
}

describe('HTTP API', () => {
  describe('conventions', () => {
    it('answers /health and stamps X-Request-Id', async () => {
      const response = await call('GET', '/health');
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ status: 'ok' });
      expect(response.headers.get('x-request-id')).toMatch(/[0-9a-f-]{36}/);
      expect(response.headers.get('content-type')).toBe('application/json');
    });

    it('answers 404 ROUTE_NOT_FOUND and 405 METHOD_NOT_ALLOWED with Allow', async () => {
      expectError(await call('GET', '/nothing/here'), 404, 'ROUTE_NOT_FOUND');
      const wrong = await call('PUT', '/subnets');
      expectError(wrong, 405, 'METHOD_NOT_ALLOWED');
      expect(wrong.headers.get('allow')).toBe('GET, POST');
    });

    it.each([
      ['malformed JSON', '{"cidr": ', 400, 'VALIDATION_ERROR'],
      ['a JSON array', '[1,2]', 400, 'VALIDATION_ERROR'],
      ['a JSON string', '"10.0.0.0/24"', 400, 'VALIDATION_ERROR'],
      ['null', 'null', 400, 'VALIDATION_ERROR'],
      ['an unknown field', '{"cidr":"10.0.0.0/24","nmae":"typo"}', 400, 'VALIDATION_ERROR'],
      ['a number as string', '{"cidr":10}', 400, 'VALIDATION_ERROR'],
      ['a __proto__ key', '{"cidr":"10.0.0.0/24","__proto__":{"x":1}}', 400, 'VALIDATION_ERROR'],
      ['a missing cidr', '{}', 400, 'VALIDATION_ERROR'],
    ])('rejects %s with 400', async (_, body, status, code) => {
      expectError(await call('POST', '/subnets', body), status, code);
    });

    it('rejects a wrong content type with 415 and a body over 64 KiB with 413', async () => {
      expectError(
        await call('POST', '/subnets', '{"cidr":"10.0.0.0/24"}', { 'Content-Type': 'text/plain' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      const huge = JSON.stringify({ cidr: '10.0.0.0/24', name: 'x'.repeat(70_000) });
      expectError(await call('POST', '/subnets', huge), 413, 'PAYLOAD_TOO_LARGE');
    });

    it('rejects bad list parameters', async () => {
      for (const query of [
        'limit=0',
        'limit=abc',
        'limit=1001',
        'cursor=nope',
        'colour=red',
        'limit=1&limit=2',
      ]) {
        expectError(await call('GET', `/subnets?${query}`), 400, 'VALIDATION_ERROR');
      }
    });

    it('publishes an OpenAPI 3.1 document with every route and error code', async () => {
      const response = await call('GET', '/openapi.json');
      expect(response.status).toBe(200);
      expect(response.body.openapi).toBe('3.1.0');
      for (const route of ROUTES) {
        const operation = response.body.paths[route.path]?.[route.method.toLowerCase()];
        expect(operation, `${route.method} ${route.path}`).toBeDefined();
        const documented = Object.values(operation.responses).flatMap(
          (entry) => (entry as { 'x-error-codes'?: string[] })['x-error-codes'] ?? [],
        );
        for (const code of route.errors) expect(documented, `${route.id} ${code}`).toContain(code);
      }
      expect(Object.keys(response.body['x-error-codes']).sort()).toEqual(
        Object.keys(STATUS_BY_CODE).sort(),
      );
    });
  });

  describe('subnets', () => {
    it('creates, gets, lists, patches and deletes a subnet', async () => {
      const created = await newSubnet({ cidr: '10.0.0.0/24', name: 'web', tags: { team: 'net' } });
      expect(created).toMatchObject({ cidr: '10.0.0.0/24', gatewayIp: '10.0.0.1', name: 'web' });
      const got = await call('GET', `/subnets/${created.id}`);
      expect(got.body).toEqual(created);
      const listed = await call('GET', `/subnets?space=http-${spaceCounter}`);
      expect(listed.body).toEqual({ items: [created], nextCursor: null });
      const patched = await call('PATCH', `/subnets/${created.id}`, {
        allocationPools: [{ start: '10.0.0.10', end: '10.0.0.19' }],
      });
      expect(patched.status).toBe(200);
      expect(patched.body.usage).toEqual({
        total: 10,
        allocated: 0,
        available: 10,
        outsidePools: 0,
      });
      const deleted = await call('DELETE', `/subnets/${created.id}`);
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');
      expectError(await call('GET', `/subnets/${created.id}`), 404, 'SUBNET_NOT_FOUND');
    });

    it.each([
      [{ cidr: '10.0.0.1/24' }, 400, 'INVALID_CIDR'],
      [{ cidr: '10.0.0.0/7' }, 400, 'INVALID_CIDR'],
      [{ cidr: '10.0.0.0/24', gatewayIp: '10.0.1.1' }, 400, 'INVALID_GATEWAY'],
      [{ cidr: '10.0.0.0/24', gatewayIp: '010.0.0.1' }, 400, 'INVALID_IP'],
      [
        { cidr: '10.0.0.0/24', allocationPools: [{ start: '10.0.0.9', end: '10.0.0.2' }] },
        400,
        'INVALID_ALLOCATION_POOL',
      ],
      [{ cidr: '10.0.0.0/24', allocationPools: [{ start: '10.0.0.9' }] }, 400, 'VALIDATION_ERROR'],
      [
        { cidr: '10.0.0.0/24', allocationPools: [{ start: '10.0.0.1', end: '10.0.0.9' }] },
        409,
        'GATEWAY_IN_POOL',
      ],
    ])('rejects %j', async (body, status, code) => {
      expectError(await call('POST', '/subnets', { space: 'rejects', ...body }), status, code);
    });

    it('suggests the network for host bits set', async () => {
      const response = await call('POST', '/subnets', { cidr: '10.0.0.1/24' });
      expect(response.body.error.details).toEqual({ suggestion: '10.0.0.0/24' });
    });

    it('answers SUBNET_OVERLAP and SUBNET_IN_USE', async () => {
      const subnet = await newSubnet({ cidr: '10.1.0.0/24' });
      const overlap = await call('POST', '/subnets', {
        cidr: '10.1.0.128/25',
        space: `http-${spaceCounter}`,
      });
      expectError(overlap, 409, 'SUBNET_OVERLAP');
      expect(overlap.body.error.details).toEqual({
        conflictingSubnetId: subnet.id,
        conflictingCidr: '10.1.0.0/24',
      });
      await call('POST', `/subnets/${subnet.id}/allocations`, {});
      expectError(await call('DELETE', `/subnets/${subnet.id}`), 409, 'SUBNET_IN_USE');
    });
  });

  describe('allocations', () => {
    it('allocates, gets, patches, lists and releases', async () => {
      const subnet = await newSubnet({ cidr: '10.2.0.0/24' });
      const created = await call('POST', `/subnets/${subnet.id}/allocations`, {
        ip: '10.2.0.10',
        owner: 'vm-1',
      });
      expect(created.status).toBe(201);
      expect(created.body.allocations).toEqual([
        {
          subnetId: subnet.id,
          ip: '10.2.0.10',
          owner: 'vm-1',
          description: null,
          tags: {},
          macAddress: null,
          createdAt: expect.any(String),
          expiresAt: null,
          createdBy: 'local',
          updatedBy: 'local',
        },
      ]);
      const got = await call('GET', `/subnets/${subnet.id}/allocations/10.2.0.10`);
      expect(got.body).toEqual(created.body.allocations[0]);
      const patched = await call('PATCH', `/subnets/${subnet.id}/allocations/10.2.0.10`, {
        description: 'db',
      });
      expect(patched.body.description).toBe('db');
      const byOwner = await call('GET', '/allocations?owner=vm-1');
      expect(byOwner.body.items.map((a: { ip: string }) => a.ip)).toContain('10.2.0.10');
      expectError(
        await call('DELETE', `/subnets/${subnet.id}/allocations/10.2.0.10?owner=vm-2`),
        409,
        'OWNER_MISMATCH',
      );
      expect(
        (await call('DELETE', `/subnets/${subnet.id}/allocations/10.2.0.10?owner=vm-1`)).status,
      ).toBe(204);
      expectError(
        await call('GET', `/subnets/${subnet.id}/allocations/10.2.0.10`),
        404,
        'ALLOCATION_NOT_FOUND',
      );
    });

    it('accepts URL-encoded IPv6 addresses in the path', async () => {
      const subnet = await newSubnet({ cidr: '2001:db8::/64' });
      await call('POST', `/subnets/${subnet.id}/allocations`, { ip: '2001:db8::5' });
      const got = await call('GET', `/subnets/${subnet.id}/allocations/2001%3Adb8%3A%3A5`);
      expect(got.status).toBe(200);
      expect(got.body.ip).toBe('2001:db8::5');
      expect(
        (
          await call(
            'DELETE',
            `/subnets/${subnet.id}/allocations/2001%3ADB8%3A0%3A0%3A0%3A0%3A0%3A5`,
          )
        ).status,
      ).toBe(204);
    });

    it.each([
      [{ ip: '010.0.0.1' }, 400, 'INVALID_IP'],
      [{ ip: '192.168.1' }, 400, 'INVALID_IP'],
      [{ ip: 'fe80::1%eth0' }, 400, 'INVALID_IP'],
      [{ ip: '10.9.9.9' }, 400, 'IP_NOT_IN_SUBNET'],
      [{ ip: '10.3.0.255' }, 400, 'IP_NOT_IN_SUBNET'],
      [{ ip: '10.3.0.1' }, 409, 'IP_RESERVED'],
      [{ macAddress: '00:11:22:33:44:55' }, 400, 'MAC_NOT_APPLICABLE'],
      [{ count: 0 }, 400, 'VALIDATION_ERROR'],
      [{ count: 101 }, 400, 'VALIDATION_ERROR'],
      [{ count: '2' }, 400, 'VALIDATION_ERROR'],
      [{ count: 2, ip: '10.3.0.5' }, 400, 'VALIDATION_ERROR'],
      [{ strategy: 'lowest' }, 400, 'VALIDATION_ERROR'],
      [{ ttlSeconds: 59 }, 400, 'VALIDATION_ERROR'],
      [{ owner: 'x'.repeat(257) }, 400, 'VALIDATION_ERROR'],
    ])('rejects %j', async (body, status, code) => {
      const subnet = await newSubnet({ cidr: '10.3.0.0/24' });
      expectError(await call('POST', `/subnets/${subnet.id}/allocations`, body), status, code);
    });

    it('answers IP_ALREADY_ALLOCATED with the owner, SUBNET_NOT_FOUND and INVALID_MAC', async () => {
      const subnet = await newSubnet({ cidr: '10.4.0.0/24' });
      await call('POST', `/subnets/${subnet.id}/allocations`, { ip: '10.4.0.4', owner: 'a' });
      const taken = await call('POST', `/subnets/${subnet.id}/allocations`, { ip: '10.4.0.4' });
      expectError(taken, 409, 'IP_ALREADY_ALLOCATED');
      expect(taken.body.error.details).toEqual({ ip: '10.4.0.4', owner: 'a' });
      expectError(
        await call('POST', '/subnets/sub_AAAAAAAAAAAAAAAAAAAAAA/allocations', {}),
        404,
        'SUBNET_NOT_FOUND',
      );
      const v6 = await newSubnet({ cidr: '2001:db8:9::/64' });
      expectError(
        await call('POST', `/subnets/${v6.id}/allocations`, { macAddress: 'zz:11:22:33:44:55' }),
        400,
        'INVALID_MAC',
      );
      const mac = await call('POST', `/subnets/${v6.id}/allocations`, {
        macAddress: '00:11:22:33:44:55',
      });
      expect(mac.body.allocations[0].ip).toBe('2001:db8:9:0:211:22ff:fe33:4455');
    });

    it('lets 64 concurrent HTTP allocators fill a /26 with 61 distinct addresses, then 409 SUBNET_EXHAUSTED', async () => {
      const subnet = await newSubnet({ cidr: '10.5.0.0/26' });
      const ips: string[] = [];
      const endings: string[] = [];
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          for (;;) {
            const response = await call('POST', `/subnets/${subnet.id}/allocations`, {});
            if (response.status === 201) ips.push(response.body.allocations[0].ip);
            else if (response.status === 503)
              expect(response.headers.get('retry-after')).toBeTruthy();
            else {
              endings.push(`${response.status} ${response.body.error.code}`);
              return;
            }
          }
        }),
      );
      expect(ips).toHaveLength(61);
      expect(new Set(ips).size).toBe(61);
      expect(endings).toEqual(Array(64).fill('409 SUBNET_EXHAUSTED'));
      const exhausted = await call('POST', `/subnets/${subnet.id}/allocations`, {});
      expect(exhausted.body.error.details).toEqual({ total: 61, allocated: 61, requested: 1 });
    });
  });

  describe('idempotency', () => {
    it('replays the first response for the same key and body, and refuses another body', async () => {
      const subnet = await newSubnet({ cidr: '10.6.0.0/24' });
      const path = `/subnets/${subnet.id}/allocations`;
      const headers = { 'Idempotency-Key': 'deploy-42' };
      const first = await call('POST', path, { count: 3, owner: 'ci' }, headers);
      const again = await call('POST', path, { owner: 'ci', count: 3 }, headers);
      expect(first.status).toBe(201);
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect((await call('GET', `/subnets/${subnet.id}`)).body.usage.allocated).toBe(3);
      expectError(
        await call('POST', path, { count: 4, owner: 'ci' }, headers),
        422,
        'IDEMPOTENCY_KEY_REUSED',
      );
      // The key is scoped to the path: another subnet is another request.
      const other = await newSubnet({ cidr: '10.7.0.0/24' });
      expect(
        (await call('POST', `/subnets/${other.id}/allocations`, { count: 3, owner: 'ci' }, headers))
          .status,
      ).toBe(201);
    });

    it('allocates once for concurrent requests with one key', async () => {
      const subnet = await newSubnet({ cidr: '10.8.0.0/24' });
      const responses = await Promise.all(
        Array.from({ length: 8 }, () =>
          call(
            'POST',
            `/subnets/${subnet.id}/allocations`,
            { owner: 'ctl' },
            { 'Idempotency-Key': 'same' },
          ),
        ),
      );
      const created = responses.filter((response) => response.status === 201);
      expect(created.length).toBeGreaterThanOrEqual(1);
      for (const response of responses) {
        if (response.status === 201) expect(response.body).toEqual(created[0]!.body);
        else expectError(response, 409, 'IDEMPOTENCY_IN_PROGRESS');
      }
      expect((await call('GET', `/subnets/${subnet.id}`)).body.usage.allocated).toBe(1);
    });

    it('does not record failures: a retry after an error runs again', async () => {
      const subnet = await newSubnet({ cidr: '10.9.0.0/30' });
      const path = `/subnets/${subnet.id}/allocations`;
      await call('POST', path, {});
      const full = await call('POST', path, {}, { 'Idempotency-Key': 'retry-me' });
      expectError(full, 409, 'SUBNET_EXHAUSTED');
      const [only] = (await call('GET', `${path}`)).body.items;
      await call('DELETE', `${path}/${only.ip}`);
      expect((await call('POST', path, {}, { 'Idempotency-Key': 'retry-me' })).status).toBe(201);
    });
  });
});
