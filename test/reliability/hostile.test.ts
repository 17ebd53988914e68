/**
 * Hostile input on every route: oversized and deep bodies, wrong types, huge
 * counts, unicode digits, __proto__ keys, path traversal, 10,000-character strings
 * and random JSON. Each gets a 4xx in the documented shape — never a 500, never a
 * hang — and nothing is written.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ROUTES } from '../../functions/http/routes.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import { PREFIX } from '../../shared/store/keys.js';
import { api, type RunningServer, startServer } from '../support/server.js';

let server: RunningServer;
let subnetId: string;
let fullSubnetId: string;

beforeAll(async () => {
  server = await startServer();
  subnetId = (await api(server.url, 'POST', '/subnets', { cidr: '10.0.0.0/24', space: 'hostile' }))
    .body.id;
  // No pools: a well-formed allocation without `ip` answers 409 and writes nothing.
  fullSubnetId = (
    await api(server.url, 'POST', '/subnets', {
      cidr: '10.1.0.0/24',
      space: 'hostile',
      allocationPools: [],
    })
  ).body.id;
  await api(server.url, 'POST', `/subnets/${subnetId}/allocations`, {
    ip: '10.0.0.9',
    owner: 'keep',
  });
});
afterAll(async () => {
  await server.stop();
});

async function tableSnapshot(): Promise<string> {
  const doc = createDocumentClient(
    createDynamoClient({ endpoint: inject('dynamoEndpoint'), region: 'local' }),
  );
  const result = await doc.send(
    new ScanCommand({ TableName: server.tableName, ConsistentRead: true }),
  );
  return JSON.stringify(
    (result.Items ?? [])
      // History entries are written by the stream poller, after the set-up's own
      // writes and at its own pace: they are derived, not what a request wrote.
      .filter((item) => !String(item.pk).startsWith(PREFIX.history))
      .map((item) => `${item.pk}|${item.sk}|${item.version ?? ''}|${item.ver ?? ''}`)
      .sort(),
  );
}

function expectClientError(
  response: { status: number; body: unknown; headers: Headers },
  label: string,
) {
  expect(response.status, label).toBeGreaterThanOrEqual(400);
  expect(response.status, label).toBeLessThan(500);
  expect(response.body, label).toEqual({
    error: { code: expect.any(String), message: expect.any(String), details: expect.any(Object) },
  });
  expect(response.headers.get('x-request-id'), label).toBeTruthy();
}

const long = 'x'.repeat(10_000);
const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;

/** Route templates filled with a hostile value in every parameter slot. */
function paths(value: string): string[] {
  const ids: Record<string, string> = { subnetId, ip: '10.0.0.9' };
  return ROUTES.flatMap((route) => {
    const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);
    return names.map((hostile) =>
      route.path.replace(/\{(\w+)\}/g, (_, name: string) =>
        name === hostile ? value : ids[name]!,
      ),
    );
  });
}

describe('hostile input', () => {
  it('rejects hostile bodies on every route that takes one, writing nothing', async () => {
    const before = await tableSnapshot();
    const bodies: [string, string][] = [
      ['deep JSON', `{"tags": ${deep}}`],
      ['deep JSON at the top', deep],
      ['NaN', '{"count": NaN}'],
      ['huge count', '{"count": 1e308}'],
      ['count 1e9', '{"count": 1000000000}'],
      ['negative count', '{"count": -1}'],
      ['fractional count', '{"count": 1.5}'],
      ['unicode digits', '{"ip": "１.2.3.4", "cidr": "１0.0.0.0/24", "gatewayIp": "١٠.0.0.1"}'],
      ['__proto__ key', '{"__proto__": {"admin": true}}'],
      ['__proto__ tag', '{"tags": {"__proto__": "x"}}'],
      ['constructor tag', '{"tags": {"constructor": "x"}}'],
      [
        '10,000-character strings',
        JSON.stringify({ cidr: long, ip: long, owner: long, name: long, description: `${long}x` }),
      ],
      ['10,000-character keys', JSON.stringify({ [long]: 1 })],
      [
        'wrong types',
        '{"cidr": 10, "ip": [], "owner": {}, "tags": "x", "ttlSeconds": "60", "strategy": 1}',
      ],
      ['null body', 'null'],
      ['array body', '[]'],
      ['number body', '42'],
      ['truncated', '{"cidr": "10.'],
      ['BOM and garbage', '\ufeff{"cidr"}'],
      ['oversized', JSON.stringify({ name: 'y'.repeat(70_000) })],
      ['2 MiB', JSON.stringify({ name: 'z'.repeat(2 * 1024 * 1024) })],
    ];
    const bodyRoutes = ROUTES.filter((route) => route.body !== undefined);
    for (const route of bodyRoutes) {
      const path = route.path.replace('{subnetId}', subnetId).replace('{ip}', '10.0.0.9');
      for (const [label, body] of bodies) {
        const response = await api(server.url, route.method, path, body);
        expectClientError(response, `${route.id}: ${label}`);
      }
    }
    expect(await tableSnapshot()).toEqual(before);
  });

  it('rejects hostile path parameters and queries on every route', async () => {
    const before = await tableSnapshot();
    const values = [
      '..%2F..%2Fetc%2Fpasswd',
      '%252e%252e',
      encodeURIComponent(long),
      '%00',
      '%E0%A4%A',
      '１.2.3.4',
      'sub_%22%3B',
    ];
    for (const value of values) {
      for (const path of paths(value)) {
        for (const method of ['GET', 'DELETE']) {
          const response = await api(server.url, method, path);
          if (response.status === 405) continue;
          expectClientError(response, `${method} ${path.slice(0, 80)}`);
        }
      }
    }
    for (const query of [
      'limit=1e3',
      'limit=-1',
      'limit=%00',
      `cursor=${long}`,
      `owner=${long}`,
      'space=..%2F',
      'x=1',
    ]) {
      for (const route of ROUTES.filter(
        (candidate) => candidate.method === 'GET' && !candidate.path.includes('{ip}'),
      )) {
        const path = route.path.replace('{subnetId}', subnetId);
        const response = await api(server.url, 'GET', `${path}?${query}`);
        if (route.id === 'openapi' || route.id === 'health') {
          expect(response.status).toBeLessThan(500);
          continue;
        }
        expectClientError(response, `${route.id}?${query.slice(0, 40)}`);
      }
    }
    expect(await tableSnapshot()).toEqual(before);
  });

  it('answers random JSON bodies with a 4xx and writes nothing (property)', async () => {
    const before = await tableSnapshot();
    const targets = [
      ['POST', '/subnets'],
      ['PATCH', `/subnets/${subnetId}`],
      ['POST', `/subnets/${fullSubnetId}/allocations`],
      ['PATCH', `/subnets/${subnetId}/allocations/10.0.0.200`],
    ] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...targets),
        fc.jsonValue({ maxDepth: 4 }),
        async ([method, path], body) => {
          const text = JSON.stringify(body);
          // An empty object is a valid PATCH (no change) — not hostile.
          if (method === 'PATCH' && text === '{}') return;
          const response = await api(server.url, method, path, text);
          expectClientError(response, `${method} ${path} ${text.slice(0, 200)}`);
        },
      ),
      { numRuns: 150 },
    );
    expect(await tableSnapshot()).toEqual(before);
  });
});
