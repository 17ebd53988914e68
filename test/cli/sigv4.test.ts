/**
 * SigV4 against a local capture server. The expected signature is computed here
 * from scratch (canonical request, string to sign, HMAC key chain per the AWS
 * SigV4 specification, node:crypto only) from what the server received.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { regionOfEndpoint, signRequest } from '../../cli/sigv4.js';
import { expectedSigV4Authorization, sha256 } from '../support/sigv4Expect.js';
import { ipam } from './run.js';

/** Each test runs the CLI several times as a child process; a loaded CI machine is slow. */
const SLOW = 180_000;

const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token-example',
};
const REGION = 'eu-west-1';
const SERVICE = 'execute-api';

interface Captured {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Reply = (req: Captured, res: http.ServerResponse) => void;

let server: http.Server;
let base: string;
let captured: Captured[] = [];
let replies: Reply[] = [];
const ok: Reply = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"items":[],"nextCursor":null}');
};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const entry = { method: req.method!, url: req.url!, headers: req.headers, body };
      captured.push(entry);
      (replies.shift() ?? ok)(entry, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  captured = [];
  replies = [];
});

const expectedAuthorization = (req: Captured, secret: string, region: string) =>
  expectedSigV4Authorization(req, {
    accessKeyId: CREDENTIALS.accessKeyId,
    secretAccessKey: secret,
    region,
    service: SERVICE,
  });

function send(method: string, url: string, headers: Record<string, string>, body?: string) {
  return new Promise<number>((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function expectSigned(req: Captured, extra: string[] = []): void {
  const signed = /SignedHeaders=([^,]+)/.exec(String(req.headers.authorization))?.[1]?.split(';');
  expect(signed).toEqual(
    expect.arrayContaining([
      'host',
      'x-amz-date',
      'x-amz-content-sha256',
      'x-amz-security-token',
      ...extra,
    ]),
  );
  expect(req.headers.host).toBe(new URL(base).host);
  expect(req.headers['x-amz-content-sha256']).toBe(sha256(req.body));
  expect(req.headers['x-amz-security-token']).toBe(CREDENTIALS.sessionToken);
  expect(req.headers.authorization).toBe(
    expectedAuthorization(req, CREDENTIALS.secretAccessKey, REGION),
  );
}

describe('signRequest', { timeout: SLOW }, () => {
  const signingDate = new Date('2026-01-02T03:04:05Z');
  const sign = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    signRequest(
      { method, url: `${base}${path}`, headers, body },
      { credentials: CREDENTIALS, region: REGION, signingDate },
    );

  it('signs a GET with a query', async () => {
    const path = '/prod/subnets?space=prod%20east&limit=5&cursor=a%2Fb';
    const headers = await sign('GET', path, { accept: 'application/json' });
    expect(headers['x-amz-date']).toBe('20260102T030405Z');
    await send('GET', `${base}${path}`, headers);
    expect(captured).toHaveLength(1);
    expectSigned(captured[0]!, ['accept']);
    expect(captured[0]!.headers.authorization).toContain(
      `Credential=AKIDEXAMPLE/20260102/${REGION}/execute-api/aws4_request`,
    );
  });

  it('signs a POST with a body', async () => {
    const body = JSON.stringify({ cidr: '10.0.0.0/24', name: 'web' });
    const headers = await sign(
      'POST',
      '/prod/subnets',
      {
        'Content-Type': 'application/json',
        'Idempotency-Key': 'key-1',
      },
      body,
    );
    await send(
      'POST',
      `${base}/prod/subnets`,
      { ...headers, 'content-length': String(body.length) },
      body,
    );
    expectSigned(captured[0]!, ['content-type', 'idempotency-key']);
    expect(captured[0]!.headers['x-amz-content-sha256']).toBe(sha256(body));
  });

  it('signs a percent-encoded IPv6 path (each segment encoded twice in the canonical URI)', async () => {
    const path = '/prod/subnets/sub_x/allocations/2001%3Adb8%3A%3A5';
    const headers = await sign('DELETE', path, {});
    await send('DELETE', `${base}${path}`, headers);
    expect(captured[0]!.url).toBe(path);
    expectSigned(captured[0]!);
  });

  it('takes the region from an execute-api host name', () => {
    expect(regionOfEndpoint('https://abc123.execute-api.eu-west-1.amazonaws.com/prod')).toBe(
      'eu-west-1',
    );
    expect(regionOfEndpoint('http://127.0.0.1:3000')).toBeUndefined();
  });
});

describe('ipam with --sign', { timeout: SLOW }, () => {
  const env = {
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: CREDENTIALS.sessionToken,
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const run = (...args: string[]) =>
    ipam(`${base}/prod`, ['--sign', '--region', REGION, '--retries', '2', ...args], env);

  it('signs every request of a command: a list with a query, an IPv6 path, a POST', async () => {
    replies.push((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          subnetId: 'sub_AAAAAAAAAAAAAAAAAAAAAA',
          ip: '2001:db8::5',
          owner: null,
          description: null,
          tags: {},
          macAddress: null,
          createdAt: 'x',
          expiresAt: null,
        }),
      );
    });
    const show = await run(
      'alloc',
      'show',
      'sub_AAAAAAAAAAAAAAAAAAAAAA',
      '2001:db8::5',
      '-o',
      'json',
    );
    expect(show.code, show.stderr).toBe(0);
    expect(captured[0]!.url).toBe(
      '/prod/subnets/sub_AAAAAAAAAAAAAAAAAAAAAA/allocations/2001%3Adb8%3A%3A5',
    );
    expectSigned(captured[0]!, ['accept']);

    const list = await run('subnet', 'list', '--space', 'prod east');
    expect(list.code, list.stderr).toBe(0);
    expect(captured[1]!.url).toBe('/prod/subnets?space=prod%20east&limit=1000');
    expectSigned(captured[1]!);

    replies.push((_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{"allocations":[]}');
    });
    const alloc = await run('alloc', 'sub_AAAAAAAAAAAAAAAAAAAAAA', '--owner', 'vm-1');
    expect(alloc.code, alloc.stderr).toBe(0);
    expect(JSON.parse(captured[2]!.body)).toEqual({ owner: 'vm-1' });
    expectSigned(captured[2]!, ['content-type', 'idempotency-key']);
  });

  it('retries a 503 (Retry-After) and a reset connection with the same Idempotency-Key', async () => {
    replies.push((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
      res.end('{"error":{"code":"ALLOCATION_CONTENTION","message":"busy","details":{}}}');
    });
    replies.push((_req, res) => res.socket?.destroy());
    replies.push((_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{"allocations":[]}');
    });
    const alloc = await run('alloc', 'sub_AAAAAAAAAAAAAAAAAAAAAA', '--count', '2');
    expect(alloc.code, alloc.stderr).toBe(0);
    expect(captured).toHaveLength(3);
    const keys = new Set(captured.map((c) => c.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    for (const c of captured) expectSigned(c, ['idempotency-key']);
  });

  it('gives up after the bounded retries with exit 5, and maps 403 to exit 6', async () => {
    for (let i = 0; i < 3; i++) {
      replies.push((_req, res) => {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
        res.end('{"error":{"code":"SERVICE_UNAVAILABLE","message":"throttled","details":{}}}');
      });
    }
    const busy = await run('subnet', 'list');
    expect(busy.code).toBe(5);
    expect(captured).toHaveLength(3);
    expect(busy.stderr).toContain('error: SERVICE_UNAVAILABLE: throttled');

    replies.push((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end('{"message":"User is not authorized to access this resource"}');
    });
    const denied = await run('subnet', 'list');
    expect(denied.code).toBe(6);
    expect(denied.stderr).toContain('ACCESS_DENIED: User is not authorized');
  });

  it('says so when there are no credentials to sign with (exit 6)', async () => {
    const result = await ipam(`${base}/prod`, ['--sign', '--region', REGION, 'subnet', 'list'], {
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_SESSION_TOKEN: '',
      AWS_PROFILE: '',
      AWS_CONFIG_FILE: '/nonexistent/config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
      AWS_WEB_IDENTITY_TOKEN_FILE: '',
    });
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(/^error: no AWS credentials to sign with/);
    expect(captured).toHaveLength(0);
  });
});

describe('ipam audit run against other server behaviours', { timeout: SLOW }, () => {
  const report = (status: string, extra: object = {}) => ({
    id: 'aud_AAAAAAAAAAAAAAAAAAAAAA',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: status === 'complete' ? '2026-01-01T00:01:00.000Z' : null,
    repair: false,
    status,
    ...extra,
  });
  const reply =
    (status: number, body: object): Reply =>
    (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };

  it('polls GET /audits/{id} after a 202 until the audit is complete', async () => {
    replies.push(
      reply(202, report('running', { progress: { scannedItems: 0, estimatedItems: 10 } })),
    );
    replies.push(
      reply(200, report('running', { progress: { scannedItems: 5, estimatedItems: 10 } })),
    );
    replies.push(reply(200, report('complete', { findings: [], findingCounts: {} })));
    const result = await ipam(base, ['audit', 'run', '--poll-interval', '100', '-o', 'json']);
    expect(result.code, result.stderr).toBe(0);
    expect(captured.map((c) => `${c.method} ${c.url}`)).toEqual([
      'POST /audits',
      'GET /audits/aud_AAAAAAAAAAAAAAAAAAAAAA',
      'GET /audits/aud_AAAAAAAAAAAAAAAAAAAAAA',
    ]);
    expect(result.json().status).toBe('complete');
  });

  it('resumes a partial report with resumeFrom, and a failed audit exits 1', async () => {
    replies.push(reply(201, report('partial')));
    replies.push(reply(201, report('failed', { reason: 'table gone' })));
    const result = await ipam(base, ['audit', 'run', '--repair']);
    expect(captured.map((c) => c.body)).toEqual([
      '{"repair":true}',
      '{"resumeFrom":"aud_AAAAAAAAAAAAAAAAAAAAAA"}',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('audit aud_AAAAAAAAAAAAAAAAAAAAAA failed: table gone');
  });
});
