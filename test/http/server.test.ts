import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { createDynamoClient } from '../../shared/store/client.js';
import { api, startServer } from '../support/server.js';

describe('local server (npm start)', () => {
  // Two DynamoDB Local starts, as `npm start` runs (history on): slow on a loaded machine.
  it('keeps data across a restart with IPAM_DATA_DIR', { timeout: 180_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ipam-data-'));
    try {
      const first = await startServer({
        endpoint: null,
        history: true,
        env: { IPAM_DATA_DIR: dataDir },
      });
      const subnet = await api(first.url, 'POST', '/subnets', { cidr: '10.0.0.0/24' });
      const allocation = await api(first.url, 'POST', `/subnets/${subnet.body.id}/allocations`, {
        owner: 'keep',
      });
      expect(await first.stop('SIGTERM')).toBe(0);

      const second = await startServer({
        endpoint: null,
        history: true,
        env: { IPAM_DATA_DIR: dataDir },
      });
      try {
        const again = await api(second.url, 'GET', `/subnets/${subnet.body.id}/allocations`);
        expect(again.body.items).toEqual(allocation.body.allocations);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('answers an internal failure with a bare 500 and the request id, never a stack trace', async () => {
    const server = await startServer();
    try {
      const client = createDynamoClient({ endpoint: inject('dynamoEndpoint'), region: 'local' });
      await client.send(new DeleteTableCommand({ TableName: server.tableName }));
      const response = await api(server.url, 'GET', '/subnets');
      expect(response.status).toBe(500);
      const requestId = response.headers.get('x-request-id');
      expect(response.body).toEqual({
        error: {
          code: 'INTERNAL_ERROR',
          message: 'An internal error occurred. Quote the request id when reporting it.',
          details: { requestId },
        },
      });
      expect(response.text).not.toMatch(/at |Exception|ResourceNotFound/);
    } finally {
      await server.stop();
    }
  });

  it('explains how to install Java when it is missing', () => {
    const emptyPath = mkdtempSync(join(tmpdir(), 'ipam-nojava-'));
    try {
      const { IPAM_DYNAMODB_ENDPOINT: _endpoint, IPAM_TABLE_NAME: _table, ...env } = process.env;
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
        env: { ...env, PATH: emptyPath, PORT: '0' },
        encoding: 'utf8',
      });
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain('openjdk-17-jre-headless');
    } finally {
      rmSync(emptyPath, { recursive: true, force: true });
    }
  });

  it('stops the DynamoDB Local it started when its port is taken, and says how to pick another', async () => {
    const holder = createServer();
    await new Promise<void>((done) => holder.listen(0, '127.0.0.1', () => done()));
    const taken = (holder.address() as AddressInfo).port;
    try {
      const { IPAM_DYNAMODB_ENDPOINT: _endpoint, IPAM_TABLE_NAME: _table, ...env } = process.env;
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
        env: { ...env, PORT: String(taken) },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`Port ${taken} on 127.0.0.1 is in use`);
      expect(result.stderr).toContain('PORT=0 takes a free port');
      const started = /DynamoDB Local on (http:\/\/127\.0\.0\.1:\d+)/.exec(result.stderr)?.[1];
      expect(started).toBeDefined();
      // Nothing answers there any more: the JVM went with the failed start.
      await expect(fetch(`${started}/`)).rejects.toThrow();
    } finally {
      holder.close();
    }
  }, 150_000);

  it('refuses an IPAM_HISTORY other than on or off, naming the values', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
      env: {
        ...process.env,
        PORT: '0',
        IPAM_DYNAMODB_ENDPOINT: inject('dynamoEndpoint'),
        IPAM_TABLE_NAME: 'ipam-history-setting',
        IPAM_HISTORY: 'no',
      },
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('IPAM_HISTORY must be "on" or "off", not "no".');
  });
});
