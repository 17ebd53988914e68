/**
 * Crash consistency: SIGKILL the local server (no clean-up runs) in the middle of 32
 * concurrent allocators and bulk requests, restart on the same IPAM_DATA_DIR, run the
 * repair audit: every
 * acknowledged allocation is there, nothing is held twice, nothing stays pending,
 * and usage matches the allocations.
 *
 * DynamoDB Local stands in for DynamoDB and is stopped normally after the server
 * dies: in AWS the store does not crash with the Lambda. (With DynamoDB Local killed
 * too, one of about eight runs missed one acknowledged allocation after restart; the
 * cause was not proven — DynamoDB Local's own durability under SIGKILL is the likely
 * one, since no allocator path showed a loss under injected faults.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../shared/audit/index.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import { DEFAULT_TABLE_NAME } from '../../shared/store/table.js';
import { api, startServer } from '../support/server.js';

/** Later than any pending record's age floor (15 minutes), so the audit may undo them. */
const AN_HOUR = 60 * 60 * 1000;

describe('a crash in the middle of concurrent allocations', () => {
  it('loses nothing acknowledged and leaves nothing pending after restart and repair', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ipam-crash-'));
    try {
      // History stays off (startServer's default): the claim is about allocations,
      // and the poller's catch-up after the restart would only compete with the repair.
      const first = await startServer({
        endpoint: null,
        env: { IPAM_DATA_DIR: dataDir },
        detached: true,
      });
      const single = (
        await api(first.url, 'POST', '/subnets', { cidr: '10.0.0.0/22', space: 'crash' })
      ).body.id;
      const bulk = (
        await api(first.url, 'POST', '/subnets', { cidr: '10.1.0.0/20', space: 'crash' })
      ).body.id;
      const acknowledged: string[] = [];
      let stop = false;
      const worker = async (subnetId: string, body: Record<string, unknown>) => {
        while (!stop) {
          try {
            const response = await api(first.url, 'POST', `/subnets/${subnetId}/allocations`, body);
            if (response.status === 201) {
              for (const allocation of response.body.allocations)
                acknowledged.push(`${subnetId} ${allocation.ip}`);
            }
          } catch {
            return; // the server is gone
          }
        }
      };
      const load = Promise.all([
        ...Array.from({ length: 32 }, () => worker(single, { owner: 'crash' })),
        ...Array.from({ length: 4 }, () => worker(bulk, { count: 100, owner: 'bulk' })),
      ]);
      // Crash once a fair amount has been acknowledged (not on a timer: speeds vary).
      while (acknowledged.length < 300) await new Promise((resolve) => setTimeout(resolve, 20));
      await first.crash();
      stop = true;
      await load;

      const second = await startServer({ endpoint: null, env: { IPAM_DATA_DIR: dataDir } });
      try {
        const client = createDynamoClient({ endpoint: second.dynamoEndpoint!, region: 'local' });
        const doc = createDocumentClient(client);
        const ctx: IpamContext = {
          doc,
          tableName: DEFAULT_TABLE_NAME,
          now: () => Date.now() + AN_HOUR,
        };
        // Two repair audits: some repairs need an earlier audit to have seen the state.
        const repaired = await runAudit(ctx, { repair: true, gracePeriodMs: 0 });
        await runAudit(ctx, { repair: true, gracePeriodMs: 0 });
        const clean = await runAudit(ctx, { repair: false, gracePeriodMs: 0 });
        const problems = clean.findings.filter(
          (finding) => !['HIGH_UTILIZATION', 'ALLOCATION_OUTSIDE_POOL'].includes(finding.type),
        );
        expect(problems).toEqual([]);

        const items: Record<string, unknown>[] = [];
        let startKey: Record<string, unknown> | undefined;
        do {
          const page = await doc.send(
            new ScanCommand({
              TableName: DEFAULT_TABLE_NAME,
              ConsistentRead: true,
              ExclusiveStartKey: startKey,
            }),
          );
          items.push(...(page.Items ?? []));
          startKey = page.LastEvaluatedKey;
        } while (startKey !== undefined);
        const held = items
          .filter((item) => item.type === 'allocation')
          .map((item) => `${item.subnetId} ${item.ip}`);
        expect(items.filter((item) => item.type === 'pending')).toEqual([]);
        expect(new Set(acknowledged).size).toBe(acknowledged.length);
        expect(new Set(held).size).toBe(held.length);
        const missing = acknowledged.filter((entry) => !held.includes(entry));
        expect(missing).toEqual([]);
        for (const subnetId of [single, bulk]) {
          const usage = (await api(second.url, 'GET', `/subnets/${subnetId}`)).body.usage;
          expect(usage.allocated).toBe(
            held.filter((entry) => entry.startsWith(`${subnetId} `)).length,
          );
        }
        console.info(
          `crash: ${acknowledged.length} acknowledged, ${held.length} held after repair ` +
            `(${held.length - acknowledged.length} committed but unanswered when the server died), 0 duplicates; ` +
            `first repair: ${JSON.stringify(repaired.findingCounts)}`,
        );
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
