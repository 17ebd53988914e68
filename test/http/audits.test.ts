import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import { api, type RunningServer, startServer } from '../support/server.js';

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

const call = (method: string, path: string, body?: unknown) => api(server.url, method, path, body);

describe('HTTP audits', () => {
  it('runs an audit on demand and serves the stored reports', async () => {
    expect((await call('GET', '/audits/latest')).body.error.code).toBe('AUDIT_NOT_FOUND');
    const subnet = await call('POST', '/subnets', { cidr: '10.0.0.0/29', space: 'audits-http' });
    await call('POST', `/subnets/${subnet.body.id}/allocations`, { count: 5 });
    const run = await call('POST', '/audits', {});
    expect(run.status).toBe(201);
    expect(run.body).toMatchObject({
      repair: false,
      status: 'complete',
      scanned: { subnets: 1, allocations: 5 },
      findings: [expect.objectContaining({ type: 'HIGH_UTILIZATION', subnetId: subnet.body.id })],
      utilization: [
        { subnetId: subnet.body.id, cidr: '10.0.0.0/29', total: 5, allocated: 5, percent: 100 },
      ],
    });
    expect((await call('GET', '/audits/latest')).body).toEqual(run.body);
    expect((await call('GET', `/audits/${run.body.id}`)).body).toEqual(run.body);
  });

  it('answers AUDIT_NOT_FOUND and VALIDATION_ERROR', async () => {
    expect((await call('GET', '/audits/aud_nope')).status).toBe(404);
    expect((await call('POST', '/audits', { resumeFrom: 'aud_nope' })).body.error.code).toBe(
      'AUDIT_NOT_FOUND',
    );
    expect((await call('POST', '/audits', { repair: 'yes' })).body.error.code).toBe(
      'VALIDATION_ERROR',
    );
    expect((await call('POST', '/audits', { gracePeriodMs: -1 })).body.error.code).toBe(
      'VALIDATION_ERROR',
    );
  });
});

describe('HTTP audits as a background job', () => {
  let slow: RunningServer;
  beforeAll(async () => {
    // No waiting inside the request: every audit answers 202 and runs on.
    slow = await startServer({ env: { IPAM_AUDIT_WAIT_MS: '0' } });
  });
  afterAll(async () => {
    await slow.stop();
  });
  const slowCall = (method: string, path: string, body?: unknown) =>
    api(slow.url, method, path, body);

  it('answers 202 with progress, then GET /audits/{id} shows it complete', async () => {
    const subnet = await slowCall('POST', '/subnets', { cidr: '10.1.0.0/28', space: 'jobs' });
    await slowCall('POST', `/subnets/${subnet.body.id}/allocations`, { count: 3 });
    const started = await slowCall('POST', '/audits', { repair: false });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      status: 'running',
      finishedAt: null,
      progress: { scannedItems: expect.any(Number), estimatedItems: expect.any(Number) },
    });
    expect((await slowCall('GET', '/audits/latest')).body.id).toBe(started.body.id);
    let report = started.body;
    for (let poll = 0; poll < 600 && report.status === 'running'; poll++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const seen = await slowCall('GET', `/audits/${started.body.id}`);
      expect(seen.status).toBe(200);
      report = seen.body;
      if (report.status === 'running')
        expect(report.progress.scannedItems).toBeGreaterThanOrEqual(0);
    }
    expect(report).toMatchObject({
      id: started.body.id,
      status: 'complete',
      scanned: { subnets: 1, allocations: 3 },
    });
    expect(report.progress).toBeUndefined();
    expect((await slowCall('GET', '/audits/latest')).body).toEqual(report);
  });

  it('answers 409 AUDIT_RUNNING while another audit holds the lock, until its lease expires', async () => {
    const doc = createDocumentClient(
      createDynamoClient({
        endpoint: slow.dynamoEndpoint ?? inject('dynamoEndpoint'),
        region: 'local',
      }),
    );
    const holder = 'aud_AAAAAAAAAAAAAAAAAAAAAA';
    const lock = (leaseUntil: number) =>
      doc.send(
        new PutCommand({
          TableName: slow.tableName,
          Item: { pk: 'AUDIT#LOCK', sk: 'LOCK', type: 'auditLock', auditId: holder, leaseUntil },
        }),
      );
    await lock(Date.now() + 10 * 60_000);
    const refused = await slowCall('POST', '/audits', {});
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      code: 'AUDIT_RUNNING',
      details: { auditId: holder },
    });
    expect(refused.body.error.message).toContain(`GET /audits/${holder}`);
    // A crashed job's lock no longer blocks once its lease has expired.
    await lock(Date.now() - 1);
    const started = await slowCall('POST', '/audits', {});
    expect(started.status).toBe(202);
    expect(started.body.id).not.toBe(holder);
  });

  it('documents 202 and 409 in the OpenAPI document', async () => {
    const doc = (await slowCall('GET', '/openapi.json')).body;
    const responses = doc.paths['/audits'].post.responses;
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(['201', '202', '409']));
    expect(responses['409']['x-error-codes']).toContain('AUDIT_RUNNING');
    expect(responses['202'].content['application/json'].schema.properties.progress).toBeDefined();
  });
});
