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

describe('HTTP subnet pools', () => {
  it('creates a pool, previews and carves best-fit blocks, and refuses when full', async () => {
    const created = await call('POST', '/subnet-pools', {
      name: 'vpcs',
      prefixes: ['10.64.0.0/22'],
      space: 'pools-http',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      prefixes: ['10.64.0.0/22'],
      defaultPrefixLength: 24,
      minPrefixLength: 22,
      maxPrefixLength: 32,
      usage: { totalAddresses: '1024', allocatedAddresses: '0' },
    });
    const pool = created.body.id as string;
    expect((await call('GET', `/subnet-pools/${pool}/next-cidr?prefixLength=24`)).body).toEqual({
      cidr: '10.64.0.0/24',
    });
    const carved = await call('POST', `/subnet-pools/${pool}/subnets`, { name: 'a' });
    expect(carved.status).toBe(201);
    expect(carved.body).toMatchObject({
      cidr: '10.64.0.0/24',
      space: 'pools-http',
      gatewayIp: '10.64.0.1',
    });
    const small = await call('POST', `/subnet-pools/${pool}/subnets`, {
      prefixLength: 28,
      reuseDelaySeconds: 600,
    });
    expect(small.body).toMatchObject({ cidr: '10.64.1.0/28', reuseDelaySeconds: 600 });
    expect(
      (await call('POST', `/subnet-pools/${pool}/subnets`, { reuseDelaySeconds: -1 })).body.error,
    ).toMatchObject({
      code: 'VALIDATION_ERROR',
      details: { issues: [expect.objectContaining({ path: 'body.reuseDelaySeconds' })] },
    });
    const explicit = await call('POST', `/subnet-pools/${pool}/subnets`, { cidr: '10.64.3.0/24' });
    expect(explicit.status).toBe(201);
    const taken = await call('POST', `/subnet-pools/${pool}/subnets`, { cidr: '10.64.3.0/24' });
    expect(taken.body.error.code).toBe('SUBNET_OVERLAP');
    expect(
      (await call('POST', `/subnet-pools/${pool}/subnets`, { prefixLength: 23 })).body.error.code,
    ).toBe('POOL_EXHAUSTED');
    expect(
      (await call('POST', `/subnet-pools/${pool}/subnets`, { prefixLength: 20 })).body.error.code,
    ).toBe('PREFIX_LENGTH_OUT_OF_RANGE');
    expect((await call('GET', `/subnet-pools/${pool}`)).body.usage.allocatedAddresses).toBe(
      String(256 + 16 + 256),
    );
    expect((await call('DELETE', `/subnet-pools/${pool}`)).body.error.code).toBe('POOL_IN_USE');
    expect(
      (await call('GET', '/subnet-pools')).body.items.map((item: { id: string }) => item.id),
    ).toContain(pool);
  });

  it('validates pool bodies and queries', async () => {
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/subnet-pools', { prefixes: [] }, 400, 'VALIDATION_ERROR'],
      ['POST', '/subnet-pools', { prefixes: ['10.0.0.1/8'] }, 400, 'INVALID_CIDR'],
      [
        'POST',
        '/subnet-pools',
        { prefixes: ['10.0.0.0/8'], defaultPrefixLength: 4 },
        400,
        'VALIDATION_ERROR',
      ],
      ['GET', '/subnet-pools/pool_nope', undefined, 404, 'POOL_NOT_FOUND'],
      [
        'GET',
        '/subnet-pools/pool_nope/next-cidr?prefixLength=abc',
        undefined,
        400,
        'VALIDATION_ERROR',
      ],
    ];
    for (const [method, path, body, status, code] of cases) {
      const response = await call(method, path, body);
      expect(response.status, `${method} ${path}`).toBe(status);
      expect(response.body.error.code, `${method} ${path}`).toBe(code);
    }
    const pool = (
      await call('POST', '/subnet-pools', { prefixes: ['10.65.0.0/24'], space: 'pools-http-2' })
    ).body.id;
    const both = await call('POST', `/subnet-pools/${pool}/subnets`, {
      cidr: '10.65.0.0/25',
      prefixLength: 25,
    });
    expect(both.body.error.code).toBe('VALIDATION_ERROR');
  });
});
