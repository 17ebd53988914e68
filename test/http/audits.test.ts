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
