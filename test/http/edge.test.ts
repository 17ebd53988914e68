/**
 * The HTTP edge over the real local server: response headers, path parameters
 * decoded once, strict bodies (UTF-8, no repeated keys), oversized request lines,
 * idempotency keys scoped to the decoded path, and the OpenAPI document checked
 * against what the server really answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/http/routes.js';
import { type ApiResponse, api, type RunningServer, startServer } from '../support/server.js';

let server: RunningServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

let spaces = 0;
const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  api(server.url, method, path, body, headers);

async function newSubnet(cidr: string): Promise<string> {
  spaces++;
  const response = await call('POST', '/subnets', { cidr, space: `edge-${spaces}` });
  expect(response.status).toBe(201);
  return response.body.id;
}

function expectError(response: ApiResponse, status: number, code: string) {
  expect(response.status, response.text).toBe(status);
  expect(response.body).toEqual({
    error: { code, message: expect.any(String), details: expect.any(Object) },
  });
  expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
}

describe('HTTP edge', () => {
  it('sends nosniff and no-store on successes, errors and unknown routes', async () => {
    const subnetId = await newSubnet('10.60.0.0/24');
    for (const response of [
      await call('GET', '/health'),
      await call('GET', `/subnets/${subnetId}`),
      await call('GET', '/subnets/sub_missing'),
      await call('GET', '/nothing/here'),
      await call('POST', '/subnets', '{'),
    ]) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('decodes path parameters once: %3A is a colon, %253A is not', async () => {
    const subnetId = await newSubnet('2001:db8:60::/64');
    const created = await call('POST', `/subnets/${subnetId}/allocations`, {
      ip: '2001:db8:60::5',
    });
    expect(created.status).toBe(201);
    const once = await call('GET', `/subnets/${subnetId}/allocations/2001%3Adb8%3A60%3A%3A5`);
    expect(once.status).toBe(200);
    expect(once.body.ip).toBe('2001:db8:60::5');
    expectError(
      await call('GET', `/subnets/${subnetId}/allocations/2001%253Adb8%253A60%253A%253A5`),
      400,
      'INVALID_IP',
    );
  });

  it('answers a 20,000-character URL with the error shape and X-Request-Id', async () => {
    const response = await call('GET', `/subnets/${'x'.repeat(20_000)}`);
    expectError(response, 431, 'REQUEST_HEADERS_TOO_LARGE');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    // The server still answers afterwards.
    expect((await call('GET', '/health')).status).toBe(200);
  });

  it('refuses a body that is not valid UTF-8 with 400 VALIDATION_ERROR', async () => {
    const subnetId = await newSubnet('10.61.0.0/24');
    const bytes = Buffer.concat([
      Buffer.from('{"owner": "'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    const response = await fetch(`${server.url}/subnets/${subnetId}/allocations`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: bytes,
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'VALIDATION_ERROR',
    );
    expect((await call('GET', `/subnets/${subnetId}`)).body.usage.allocated).toBe(0);
  });

  it('refuses a body that repeats a key, allocating nothing', async () => {
    const subnetId = await newSubnet('10.62.0.0/24');
    for (const body of [
      '{"count": 1, "count": 100}',
      '{"count": 1, "co\\u0075nt": 100}',
      '{"owner": "a", "tags": {"team": "x", "team": "y"}}',
    ]) {
      expectError(
        await call('POST', `/subnets/${subnetId}/allocations`, body),
        400,
        'VALIDATION_ERROR',
      );
    }
    expect((await call('GET', `/subnets/${subnetId}`)).body.usage.allocated).toBe(0);
  });

  it('scopes an Idempotency-Key to the decoded path: two spellings of one subnet allocate once', async () => {
    const subnetId = await newSubnet('10.63.0.0/24');
    const headers = { 'Idempotency-Key': `edge-${subnetId}` };
    const plain = await call('POST', `/subnets/${subnetId}/allocations`, { owner: 'k' }, headers);
    const encoded = await call(
      'POST',
      `/subnets/${subnetId.replaceAll('_', '%5F')}/allocations`,
      { owner: 'k' },
      headers,
    );
    expect(plain.status).toBe(201);
    expect(encoded.status).toBe(201);
    expect(encoded.body).toEqual(plain.body);
    expect((await call('GET', `/subnets/${subnetId}`)).body.usage.allocated).toBe(1);
  });
});

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
};

/** Fields of `value` that `schema` does not document (objects are read as closed). */
function undocumented(schema: JsonSchema, value: unknown, at: string): string[] {
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches !== undefined) {
    const results = branches.map((branch) => undocumented(branch, value, at));
    return results.find((result) => result.length === 0) ?? results[0] ?? [];
  }
  if (Array.isArray(value)) {
    return schema.items === undefined
      ? []
      : value.flatMap((item, i) => undocumented(schema.items as JsonSchema, item, `${at}.${i}`));
  }
  if (typeof value !== 'object' || value === null) return [];
  const problems: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const property = schema.properties?.[key];
    if (property !== undefined) problems.push(...undocumented(property, child, `${at}.${key}`));
    else if (typeof schema.additionalProperties === 'object') {
      problems.push(...undocumented(schema.additionalProperties, child, `${at}.${key}`));
    } else if (schema.properties !== undefined || schema.additionalProperties === false) {
      problems.push(`${at}.${key}`);
    }
  }
  for (const key of schema.required ?? []) {
    if (!(key in value)) problems.push(`${at}.${key} (required, missing)`);
  }
  return problems;
}

describe('OpenAPI document', () => {
  it('documents every status and field the server answers, operation by operation', async () => {
    const document = (await call('GET', '/openapi.json')).body;
    const seen = new Set<string>();
    const check = (id: string, response: ApiResponse) => {
      const route = ROUTES.find((candidate) => candidate.id === id);
      if (route === undefined) throw new Error(`no route ${id}`);
      seen.add(id);
      const operation = document.paths[route.path][route.method.toLowerCase()];
      const documented = operation.responses[String(response.status)];
      expect(
        documented,
        `${id} answered ${response.status} ${response.text.slice(0, 200)}`,
      ).toBeDefined();
      if (response.status >= 400) {
        expect(documented['x-error-codes'], `${id} ${response.status}`).toContain(
          response.body.error.code,
        );
        return;
      }
      const schema = documented.content?.['application/json']?.schema as JsonSchema | undefined;
      if (schema !== undefined && response.body !== undefined) {
        expect(undocumented(schema, response.body, id), id).toEqual([]);
      }
    };
    const id = (name: string, path: string, method: string, body?: unknown) =>
      call(method, path, body).then((response) => {
        check(name, response);
        return response;
      });

    await id('health', '/health', 'GET');
    await id('openapi', '/openapi.json', 'GET');
    const pool = await id('createPool', '/subnet-pools', 'POST', {
      prefixes: ['10.64.0.0/16'],
      space: 'edge-pool',
    });
    const poolId = pool.body.id;
    await id('nextCidr', `/subnet-pools/${poolId}/next-cidr?prefixLength=24`, 'GET');
    const carved = await id('carveSubnet', `/subnet-pools/${poolId}/subnets`, 'POST', {});
    expect(carved.body.poolId).toBe(poolId);
    await id('getPool', `/subnet-pools/${poolId}`, 'GET');
    await id('listPools', '/subnet-pools', 'GET');
    const subnet = await id('createSubnet', '/subnets', 'POST', {
      cidr: '10.65.0.0/24',
      space: 'edge-docs',
    });
    const subnetId = subnet.body.id;
    await id('listSubnets', '/subnets?space=edge-pool', 'GET');
    await id('getSubnet', `/subnets/${carved.body.id}`, 'GET');
    await id('updateSubnet', `/subnets/${subnetId}`, 'PATCH', { name: 'docs' });
    await id('allocate', `/subnets/${subnetId}/allocations`, 'POST', {
      ip: '10.65.0.9',
      owner: 'd',
    });
    await id('listAllocations', `/subnets/${subnetId}/allocations`, 'GET');
    await id('subnetMap', `/subnets/${subnetId}/map`, 'GET');
    await id('subnetMap', `/subnets/${subnetId}/map?cell=9`, 'GET');
    await id('getAllocation', `/subnets/${subnetId}/allocations/10.65.0.9`, 'GET');
    await id('updateAllocation', `/subnets/${subnetId}/allocations/10.65.0.9`, 'PATCH', {
      description: 'x',
    });
    await id('listByOwner', '/allocations?owner=d', 'GET');
    await id('listByOwner', '/allocations?macAddress=00-11-22-33-44-55', 'GET');
    await id('listByOwner', '/allocations?owner=d&macAddress=00:11:22:33:44:55', 'GET');
    await id('listByOwner', '/allocations?macAddress=00:11:22', 'GET');
    await id('lookupAddress', '/addresses/10.65.0.9', 'GET');
    await id('lookupAddress', '/addresses/10.65.0.9?space=edge-docs', 'GET');
    await id('lookupAddress', '/addresses/10.65.0.999', 'GET');
    await id('addressHistory', `/subnets/${subnetId}/allocations/10.65.0.9/history`, 'GET');
    await id('subnetHistory', `/subnets/${subnetId}/history`, 'GET');
    await id('release', `/subnets/${subnetId}/allocations/10.65.0.9`, 'DELETE');
    await id('deleteSubnet', `/subnets/${subnetId}`, 'DELETE');
    await id('deleteSubnet', `/subnets/${carved.body.id}`, 'DELETE');
    await id('deletePool', `/subnet-pools/${poolId}`, 'DELETE');
    const audit = await id('runAudit', '/audits', 'POST', { repair: false });
    await id('latestAudit', '/audits/latest', 'GET');
    await id('getAudit', `/audits/${audit.body.id}`, 'GET');
    expect([...seen].sort()).toEqual(ROUTES.map((route) => route.id).sort());

    // What the edge answers for any request to an operation is documented for each.
    const filled = (path: string) =>
      path
        .replace('{subnetId}', 'sub_none')
        .replace('{ip}', '10.0.0.1')
        .replace('{poolId}', 'pool_none')
        .replace('{auditId}', 'aud_none');
    for (const route of ROUTES) {
      check(route.id, await call(route.method, `${filled(route.path)}?zz=1`));
      if (route.body === undefined && route.method !== 'GET') {
        check(route.id, await call(route.method, filled(route.path), '{"x": 1}'));
      }
    }
  });
});
